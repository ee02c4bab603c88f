//! Software steering correction: the queues of one port, each frame handed to the context that
//! owns it by mTCP's RSS.
//!
//! Some multi-queue ports spread flows over their receive queues by a rule of their own: a
//! multi-queue TAP by the kernel's flow hash (and the queue that last sent the flow), a veth by
//! the queue its peer transmitted on, a NIC by its own Toeplitz key (which AF_XDP cannot set),
//! DPDK's `net_tap`/`net_af_packet` vdevs by the kernel's hash (they ignore the RSS key they
//! are given). A flow can then reach a context that does not own it: the SYN-ACK of a
//! connection that `mtcp_init_rss` placed on context 1 arrives at context 0, which resets it.
//!
//! [`wrap`] puts a [`SteeredQueue`] around each of the N queues. Each context still polls its
//! own device queue; a received frame goes where [`rss::steer_frame`] (the hash the in-memory
//! hub and `mtcp_init_rss` use) says:
//! - its own queue: delivered at once, as without the wrapper;
//! - another queue: copied into a single-producer/single-consumer ring from this queue to that
//!   one (one ring per ordered pair of queues, [`RING_FRAMES`] preallocated [`MAX_FRAME`]-byte
//!   buffers that circulate back through a return ring: nothing allocated per frame, no lock),
//!   counted in [`PortStats::steered`], and the owner's [`Notify`] is called once per burst;
//!   when the ring is full (or the frame is longer than a buffer: a GSO super-frame), it is
//!   dropped and counted in [`PortStats::drops`];
//! - ARP: delivered here and copied to every other queue (each context keeps its own neighbour
//!   cache, as AF_PACKET's per-queue ARP sockets give it);
//! - anything else `steer_frame` sends to all queues (other IPv4 protocols, other EtherTypes):
//!   stays where it arrived.
//!
//! [`PacketIo::rx_burst`] drains the rings from the other queues first, then the device queue;
//! [`PacketIo::has_pending`] looks at both. Cost on the fast path: one table hash per frame
//! ([`rss::flow_hash`]), and a copy only for frames that reached the wrong queue.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::frame::{new_buf, Frame, FrameBuf};
use crate::rss::{self, Steer};
use crate::sys::spsc::{self, Consumer, Producer};
use crate::{Caps, Notify, PacketIo, PortStats, MAX_FRAME};

/// Frames one queue can have waiting for another (the buffers of one ordered pair of queues:
/// 1 MiB). A frame steered while they are all waiting is dropped and counted.
pub const RING_FRAMES: usize = 512;

/// EtherType of ARP (RFC 826).
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];

/// Wraps the `queues` of one port (queue *i* serves context *i*) in software steering: see the
/// [module docs](self). Allocates the rings and their buffers now, [`RING_FRAMES`] per ordered
/// pair of queues.
pub fn wrap<Q: PacketIo>(queues: Vec<Q>) -> Vec<SteeredQueue<Q>> {
    let n = queues.len();
    let shared = Arc::new(Shared {
        wakers: (0..n).map(|_| Waker::default()).collect(),
    });
    // outboxes[from][to] and inboxes[to][from]: the two ends of the ring from `from` to `to`.
    let mut outboxes: Vec<Vec<Option<Outbox>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut inboxes: Vec<Vec<Option<Inbox>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for from in 0..n {
        for to in (0..n).filter(|&to| to != from) {
            let (frames_tx, frames_rx) = spsc::channel(RING_FRAMES);
            let (returns_tx, returns_rx) = spsc::channel(RING_FRAMES);
            outboxes[from][to] = Some(Outbox {
                frames: frames_tx,
                returns: returns_rx,
                free: (0..RING_FRAMES).map(|_| new_buf()).collect(),
                pushed: false,
                notify_epoch: 0,
                notify: None,
            });
            inboxes[to][from] = Some(Inbox {
                frames: frames_rx,
                returns: returns_tx,
            });
        }
    }
    queues
        .into_iter()
        .zip(outboxes.into_iter().zip(inboxes))
        .enumerate()
        .map(|(index, (inner, (outboxes, inboxes)))| SteeredQueue {
            inner,
            index,
            num_queues: n,
            shared: Arc::clone(&shared),
            outboxes: outboxes.into_boxed_slice(),
            inboxes: inboxes.into_iter().flatten().collect(),
            steered: 0,
            drops: 0,
        })
        .collect()
}

/// What the queues of one port share: who to wake for each of them.
struct Shared {
    wakers: Box<[Waker]>,
}

/// The [`Notify`] of one queue, set by its context (`set_notify`) and read by the others.
/// Aligned so two queues' slots never share a cache line.
#[derive(Default)]
#[repr(align(128))]
struct Waker {
    /// Taken only by `set_notify` and by a sender that saw `epoch` move: never per frame.
    notify: Mutex<Option<Arc<dyn Notify>>>,
    /// Bumped by every `set_notify`.
    epoch: AtomicU64,
}

/// The sending end of the ring from this queue to one other queue.
struct Outbox {
    frames: Producer<Frame>,
    /// Buffers the other queue has emptied, coming back.
    returns: Consumer<FrameBuf>,
    /// Buffers ready to fill: with the ring's and the return ring's, always [`RING_FRAMES`].
    free: Vec<FrameBuf>,
    /// Frames pushed since the last publish.
    pushed: bool,
    /// The receiver's notify as last read, and the epoch it was read at.
    notify_epoch: u64,
    notify: Option<Arc<dyn Notify>>,
}

impl Outbox {
    /// Copies `frame` into a free buffer and queues it; false when none is free.
    fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > MAX_FRAME {
            return false;
        }
        if self.free.is_empty() {
            while let Some(buf) = self.returns.pop() {
                self.free.push(buf);
            }
        }
        let Some(mut buf) = self.free.pop() else {
            return false;
        };
        buf[..frame.len()].copy_from_slice(frame);
        if let Err(Frame { buf, .. }) = self.frames.push(Frame {
            buf,
            len: frame.len(),
        }) {
            // Cannot happen (the ring holds every buffer there is), but never lose one.
            self.free.push(buf);
            return false;
        }
        self.pushed = true;
        true
    }

    /// Publishes what was pushed and wakes the receiver.
    fn publish(&mut self, waker: &Waker) {
        if !std::mem::take(&mut self.pushed) {
            return;
        }
        self.frames.publish();
        let epoch = waker.epoch.load(Ordering::Acquire);
        if epoch != self.notify_epoch {
            self.notify = waker
                .notify
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.notify_epoch = epoch;
        }
        if let Some(notify) = &self.notify {
            notify.notify();
        }
    }
}

/// The receiving end of the ring from one other queue to this one.
struct Inbox {
    frames: Consumer<Frame>,
    returns: Producer<FrameBuf>,
}

/// Where a frame that arrived on a queue goes.
enum Route {
    Here,
    Owner(usize),
    Everyone,
}

fn route(frame: &[u8], index: usize, num_queues: usize) -> Route {
    match rss::steer_frame(frame, num_queues) {
        Steer::Queue(q) if q == index => Route::Here,
        Steer::Queue(q) => Route::Owner(q),
        Steer::All if frame.get(12..14) == Some(&ETHERTYPE_ARP[..]) => Route::Everyone,
        Steer::All => Route::Here,
    }
}

/// One queue of a port with software steering. See the [module docs](self).
pub struct SteeredQueue<Q> {
    inner: Q,
    index: usize,
    num_queues: usize,
    shared: Arc<Shared>,
    /// Rings to each other queue, by queue (`None` at this queue's own index).
    outboxes: Box<[Option<Outbox>]>,
    /// Rings from the other queues.
    inboxes: Box<[Inbox]>,
    steered: u64,
    drops: u64,
}

impl<Q> std::fmt::Debug for SteeredQueue<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SteeredQueue")
            .field("index", &self.index)
            .field("num_queues", &self.num_queues)
            .field("steered", &self.steered)
            .finish_non_exhaustive()
    }
}

impl<Q> SteeredQueue<Q> {
    /// The wrapped device queue.
    pub fn inner(&self) -> &Q {
        &self.inner
    }
}

impl<Q: PacketIo> PacketIo for SteeredQueue<Q> {
    /// Delivers up to `max` frames: first those other queues handed over, then this device
    /// queue's own. Returns how many frames it took, including those it handed to other
    /// queues, so a loop keeps reading while the device has a backlog.
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let mut taken = 0;
        for inbox in self.inboxes.iter_mut() {
            let mut moved = false;
            while taken < max {
                let Some(frame) = inbox.frames.pop() else {
                    break;
                };
                on_frame(frame.bytes());
                taken += 1;
                moved = true;
                // The return ring has room for every buffer of the pair: this never fails.
                let _ = inbox.returns.push(frame.buf);
            }
            if moved {
                inbox.returns.publish();
            }
        }
        if taken == max {
            return taken;
        }
        let SteeredQueue {
            inner,
            index,
            num_queues,
            outboxes,
            steered,
            drops,
            ..
        } = self;
        let (index, num_queues) = (*index, *num_queues);
        taken += inner.rx_burst(
            max - taken,
            &mut |frame| match route(frame, index, num_queues) {
                Route::Here => on_frame(frame),
                Route::Owner(owner) => {
                    *steered += 1;
                    let delivered = outboxes[owner].as_mut().is_some_and(|o| o.push(frame));
                    if !delivered {
                        *drops += 1;
                    }
                }
                Route::Everyone => {
                    on_frame(frame);
                    for outbox in outboxes.iter_mut().flatten() {
                        if !outbox.push(frame) {
                            *drops += 1;
                        }
                    }
                }
            },
        );
        for (owner, outbox) in self.outboxes.iter_mut().enumerate() {
            if let Some(outbox) = outbox {
                outbox.publish(&self.shared.wakers[owner]);
            }
        }
        taken
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        self.inner.tx(len, fill)
    }

    fn flush(&mut self) {
        self.inner.flush();
    }

    fn caps(&self) -> Caps {
        self.inner.caps()
    }

    /// Registers `notify` with the device queue and with the other queues, which call it when
    /// they hand this queue a frame.
    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        let waker = &self.shared.wakers[self.index];
        *waker.notify.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&notify));
        waker.epoch.fetch_add(1, Ordering::Release);
        self.inner.set_notify(notify);
    }

    fn stats(&self) -> PortStats {
        let inner = self.inner.stats();
        PortStats {
            drops: inner.drops + self.drops,
            steered: inner.steered + self.steered,
            ..inner
        }
    }

    fn has_pending(&self) -> bool {
        self.inboxes.iter().any(|inbox| !inbox.frames.is_empty()) || self.inner.has_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    /// A device queue that delivers what the test puts in `rx`.
    #[derive(Default)]
    struct FakeQueue {
        rx: VecDeque<Vec<u8>>,
        notified_by_device: Option<Arc<dyn Notify>>,
    }

    impl PacketIo for FakeQueue {
        fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
            let mut n = 0;
            while n < max {
                let Some(frame) = self.rx.pop_front() else {
                    break;
                };
                on_frame(&frame);
                n += 1;
            }
            n
        }
        fn tx(&mut self, _len: usize, _fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
            false
        }
        fn flush(&mut self) {}
        fn caps(&self) -> Caps {
            Caps::software([2, 0, 0, 0, 0, 1], 1500)
        }
        fn set_notify(&mut self, notify: Arc<dyn Notify>) {
            self.notified_by_device = Some(notify);
        }
        fn stats(&self) -> PortStats {
            PortStats::default()
        }
        fn has_pending(&self) -> bool {
            !self.rx.is_empty()
        }
    }

    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Notify for Counter {
        fn notify(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl Counter {
        fn get(&self) -> usize {
            self.0.load(Ordering::Relaxed)
        }
    }

    /// An IPv4/TCP frame 198.18.0.1:`sport` → 198.18.0.2:80 carrying `payload`.
    fn tcp_frame(sport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[23] = 6;
        f[26..30].copy_from_slice(&[198, 18, 0, 1]);
        f[30..34].copy_from_slice(&[198, 18, 0, 2]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[46] = 0x50;
        f.extend_from_slice(payload);
        f
    }

    /// A source port whose flow `mtcp_init_rss` would place on `queue` of `n`.
    fn port_for(queue: usize, n: usize) -> u16 {
        (1024..)
            .find(|&p| rss::steer_frame(&tcp_frame(p, b""), n) == Steer::Queue(queue))
            .expect("some port hashes to every queue")
    }

    fn arp_frame() -> Vec<u8> {
        let mut f = vec![0xffu8; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x06]);
        f.extend_from_slice(&[0u8; 28]);
        f[20] = 1; // request
        f
    }

    fn receive(q: &mut SteeredQueue<FakeQueue>) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while q.rx_burst(8, &mut |f| got.push(f.to_vec())) > 0 {}
        got
    }

    fn two_queues() -> (Vec<SteeredQueue<FakeQueue>>, [Arc<Counter>; 2]) {
        let mut queues = wrap(vec![FakeQueue::default(), FakeQueue::default()]);
        let counters = [Arc::new(Counter::default()), Arc::new(Counter::default())];
        for (q, c) in queues.iter_mut().zip(&counters) {
            q.set_notify(Arc::clone(c) as Arc<dyn Notify>);
        }
        (queues, counters)
    }

    #[test]
    fn frames_on_the_wrong_queue_reach_their_owner_intact_and_wake_it() {
        let (mut queues, counters) = two_queues();
        let (mine, theirs) = (port_for(0, 2), port_for(1, 2));
        let own: Vec<Vec<u8>> = (0..3u8).map(|i| tcp_frame(mine, &[i; 100])).collect();
        let foreign: Vec<Vec<u8>> = (0..40u8).map(|i| tcp_frame(theirs, &[i; 1400])).collect();
        // Interleaved on queue 0's device queue.
        queues[0].inner.rx = own.iter().chain(&foreign).cloned().collect::<VecDeque<_>>();
        assert!(!queues[1].has_pending());

        let got0 = receive(&mut queues[0]);
        assert_eq!(got0, own, "queue 0 keeps only its own flow");
        assert_eq!(queues[0].stats().steered, 40);
        assert_eq!(queues[0].stats().drops, 0);
        assert!(counters[1].get() >= 1, "the owner's notify is called");
        assert_eq!(counters[0].get(), 0);

        assert!(
            queues[1].has_pending(),
            "handed-over frames count as pending"
        );
        let got1 = receive(&mut queues[1]);
        assert_eq!(got1, foreign, "every byte, in order");
        assert!(!queues[1].has_pending());
        assert_eq!(queues[1].stats().steered, 0);
    }

    #[test]
    fn arp_reaches_every_queue_and_other_frames_stay() {
        let mut queues = wrap((0..3).map(|_| FakeQueue::default()).collect());
        let arp = arp_frame();
        let mut ipv6 = arp_frame();
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        queues[2].inner.rx = VecDeque::from([arp.clone(), ipv6.clone()]);
        let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
        for q in [2, 0, 1] {
            let mut frames = Vec::new();
            while queues[q].rx_burst(8, &mut |f| frames.push(f.to_vec())) > 0 {}
            got.push(frames);
        }
        assert_eq!(got[0], [arp.clone(), ipv6], "queue 2 gets both");
        assert_eq!(got[1], std::slice::from_ref(&arp), "queue 0 gets the ARP");
        assert_eq!(got[2], [arp], "queue 1 gets the ARP");
        assert_eq!(
            queues[2].stats().steered,
            0,
            "a copy to all is not a correction"
        );
    }

    #[test]
    fn a_full_ring_drops_and_counts_then_recovers() {
        let (mut queues, _counters) = two_queues();
        let theirs = port_for(1, 2);
        let extra = 10;
        queues[0].inner.rx = (0..RING_FRAMES + extra)
            .map(|i| tcp_frame(theirs, &(i as u32).to_be_bytes()))
            .collect();
        receive(&mut queues[0]);
        let stats = queues[0].stats();
        assert_eq!(stats.steered, (RING_FRAMES + extra) as u64);
        assert_eq!(
            stats.drops, extra as u64,
            "what did not fit is dropped and counted"
        );
        let got = receive(&mut queues[1]);
        assert_eq!(got.len(), RING_FRAMES);
        assert_eq!(
            got[RING_FRAMES - 1][54..],
            (RING_FRAMES as u32 - 1).to_be_bytes()
        );

        // The owner gave the buffers back: the ring takes frames again.
        queues[0].inner.rx = VecDeque::from([tcp_frame(theirs, b"again")]);
        receive(&mut queues[0]);
        assert_eq!(queues[0].stats().drops, extra as u64);
        assert_eq!(receive(&mut queues[1]), [tcp_frame(theirs, b"again")]);
    }

    #[test]
    fn inbox_frames_come_first_and_count_against_max() {
        let (mut queues, _counters) = two_queues();
        let (mine, theirs) = (port_for(0, 2), port_for(1, 2));
        queues[0].inner.rx = (0..5).map(|_| tcp_frame(theirs, b"x")).collect();
        receive(&mut queues[0]);
        queues[1].inner.rx = (0..5).map(|_| tcp_frame(mine, b"y")).collect();
        queues[1].inner.rx.push_front(tcp_frame(theirs, b"own"));
        let mut got = Vec::new();
        assert_eq!(queues[1].rx_burst(6, &mut |f| got.push(f.to_vec())), 6);
        assert_eq!(got.len(), 6);
        assert!(got[..5].iter().all(|f| f[54..] == *b"x"), "inbox first");
        assert_eq!(got[5][54..], *b"own");
        assert_eq!(
            queues[1].inner.rx.len(),
            5,
            "the device queue waits its turn"
        );
        // Queue 1's frames for queue 0 go back the other way.
        assert!(receive(&mut queues[1]).is_empty());
        assert_eq!(queues[1].stats().steered, 5);
        assert_eq!(receive(&mut queues[0]).len(), 5);
    }

    #[test]
    fn two_threads_hand_frames_over_without_loss() {
        let (mut queues, counters) = two_queues();
        let mut q1 = queues.pop().unwrap();
        let mut q0 = queues.pop().unwrap();
        let theirs = port_for(1, 2);
        const TOTAL: u32 = 20_000;
        let consumer = std::thread::spawn(move || {
            let mut next = 0u32;
            while next < TOTAL {
                q1.rx_burst(64, &mut |f| {
                    assert_eq!(f[54..58], next.to_be_bytes());
                    next += 1;
                });
            }
            q1
        });
        let mut sent = 0u32;
        while sent < TOTAL {
            // Offer a batch only when the ring has room for all of it (the consumer gives
            // buffers back as it goes), so nothing is dropped and the sequence is checkable.
            loop {
                let outbox = q0.outboxes[1].as_mut().unwrap();
                while let Some(buf) = outbox.returns.pop() {
                    outbox.free.push(buf);
                }
                if outbox.free.len() >= 64 {
                    break;
                }
                std::thread::yield_now();
            }
            q0.inner.rx = (sent..(sent + 64).min(TOTAL))
                .map(|i| tcp_frame(theirs, &i.to_be_bytes()))
                .collect();
            let batch = q0.inner.rx.len();
            assert_eq!(q0.rx_burst(64, &mut |_| panic!("not queue 0's")), batch);
            sent += batch as u32;
        }
        consumer.join().unwrap();
        assert_eq!(q0.stats().steered, u64::from(TOTAL));
        assert_eq!(q0.stats().drops, 0);
        assert!(counters[1].get() > 0);
    }
}
