//! The in-memory link: stacks in one process joined by a shared port name, in real time, with
//! no privileges.
//!
//! [`attach`] plugs a station (one stack, with one queue per context) into the hub of that
//! name, creating the hub on first use. The hub is a switch without learning: a frame goes to the
//! station whose MAC is its destination, or to every other station when the destination is a
//! group (broadcast/multicast) address; a station never receives its own frames. Within a
//! station the queue is picked by [`rss::steer_frame`] (a [`Steer::All`] frame is copied to
//! every queue), as a NIC with RSS would.
//!
//! # Threads
//!
//! [`MemoryQueue`] is `Send`: each queue is owned by one context thread. Queues of the same or of
//! different stations may be used from different threads at once. Nothing on the per-frame path
//! takes a lock: a sending queue has its own single-producer single-consumer ring into each
//! receive queue it talks to (made on its first frame there, which the receiver picks up once),
//! so a frame costs one slot write and a burst one release store, and a queue's shared state
//! sits on its own cache lines so two contexts never write the same line. A frame enters its
//! receiver's ring as soon as `tx` has built it, unpublished (the sender remembers the ring of
//! its last single-queue destination, so a connection's segments skip the lookup); `flush`
//! only publishes each ring it filled, counts its frames and wakes its owner. Callbacks
//! ([`Notify`] and `on_frame`) run with nothing held, so they may send.
//!
//! # Checksums
//! Like Linux's loopback device, a station attached with checksum offload
//! ([`attach_with_offload`], what `Stack::new` does unless `checksum_offload = 0`) neither
//! computes nor checks TCP checksums: memory does not corrupt frames. Its frames leave with
//! the pseudo-header sum only and are marked so; a station with offload takes them as they
//! are, and checks the checksums of frames from a station without it (dropping, counted, what
//! is wrong — as a NIC with receive offload). A station without offload gets complete
//! checksums either way: the hub finishes a marked frame's TCP checksum for it (as AF_PACKET
//! does for `TP_STATUS_CSUMNOTREADY`), so stations of both kinds share one hub.
//!
//! # Buffers
//!
//! Frames are built in place in buffers sized for the station's MTU ([`Caps::max_frame`]: 2 KiB
//! up to a 1,994-byte MTU, 9,088 bytes for 9,000-byte jumbo frames, the largest MTU taken,
//! [`MAX_MTU`]); a unicast frame's buffer moves from the sender to the receiver's queue (no
//! copy). Every buffer belongs to the queue that
//! allocated it. A receiver keeps the buffers it consumed in its own cache and builds its own
//! frames in them, so under two-way traffic buffers just circulate; when its cache of other
//! queues' buffers grows past a bound (one-way traffic), it sends the surplus back to their
//! owners through each owner's lock-free return channel, where the owner picks them up when its
//! cache runs dry. Nothing is allocated per frame once warmed up, and there is no shared pool.
//! Buffers are allocated on demand, so a queue holds about as many as frames are in flight
//! plus its caches; a ring holds [`ring_frames`] frames, fewer for larger buffers, so a full
//! ring pins about 8 MiB whatever the MTU. A queue builds its frames only in buffers at least
//! as large as its own: a smaller one (from a station with a smaller MTU) goes straight back.
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::csum::{complete_l4_checksum, verify_frame};
use crate::frame::{buffer_len, dst_mac, is_group, new_sized_buf, SizedBuf, ETH_HEADER};
use crate::rss::{self, Steer};
use crate::sys::spsc::{self, Consumer, Producer};
use crate::{BurstReceiver, Caps, Notify, PacketIo, PortStats, BURST, MAX_FRAME, MAX_MTU};

/// Frames one receive queue holds from one sending queue with 2 KiB buffers (MTU up to 1,994);
/// a frame arriving when they are all waiting is dropped and counted in the receiving queue's
/// [`PortStats::drops`]. Larger buffers get fewer: [`ring_frames`].
pub const RX_QUEUE_FRAMES: usize = 4096;

/// Frames a ring between two queues holds (and a queue's buffer-return channel) when the
/// larger of the two stations' MTUs is `mtu`: [`RX_QUEUE_FRAMES`] for 2 KiB buffers, scaled
/// down (to a power of two) for larger ones so a full ring pins about the same 8 MiB of
/// buffers: 1,024 for a 9,000-byte MTU.
pub fn ring_frames(mtu: usize) -> usize {
    (RX_QUEUE_FRAMES * MAX_FRAME / buffer_len(mtu)).next_power_of_two()
}

/// Other queues' buffers a queue keeps before sending the surplus back to their owners.
const CACHE_HIGH: usize = 4 * BURST;
/// What it keeps after sending the surplus back.
const CACHE_LOW: usize = 2 * BURST;

/// Station ids, unique in the process: a buffer names its owner by (station id, queue).
static NEXT_STATION_ID: AtomicU64 = AtomicU64::new(1);

/// Hubs by port name. Weak, so a hub goes away with its last station.
fn registry() -> &'static Mutex<HashMap<String, Weak<Hub>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Hub>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves its data consistent,
/// so a panic elsewhere must not wedge the link. Used only off the per-frame path (attach,
/// detach, `set_notify`, and a sender's first delivery after a `set_notify`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Attaches one station — one stack — with `num_queues` queues (one per context) to the hub
/// named `name`, creating the hub if it doesn't exist.
///
/// `mtu` is the IP MTU, up to [`MAX_MTU`] (9,000-byte jumbo frames): frames longer than
/// `mtu + 14` bytes are dropped, when sent and when received (both ends of a link must agree).
/// The station's buffers are sized for it ([`Caps::max_frame`]). The station detaches when its
/// last queue is dropped, and the hub disappears with its last station.
///
/// Errors: `EADDRINUSE` when a station with this MAC is attached to the hub; `EINVAL` when
/// `num_queues` is 0 or over 65,536, or `mtu` is 0 or exceeds [`MAX_MTU`].
pub fn attach(
    name: &str,
    mac: [u8; 6],
    num_queues: usize,
    mtu: usize,
) -> io::Result<Vec<MemoryQueue>> {
    attach_with_offload(name, mac, num_queues, mtu, false)
}

/// [`attach`] for a station with checksum offload (see the [module docs](self)): its queues
/// report both checksum caps, so the stack leaves TCP checksums unfinished and checks none.
pub fn attach_with_offload(
    name: &str,
    mac: [u8; 6],
    num_queues: usize,
    mtu: usize,
    offload: bool,
) -> io::Result<Vec<MemoryQueue>> {
    // A buffer's `Home` keeps the queue index in 16 bits.
    if num_queues == 0 || num_queues > 1 << 16 || mtu == 0 || mtu > MAX_MTU {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let buf_len = buffer_len(mtu);
    let mut hubs = lock(registry());
    let hub = match hubs.get(name).and_then(Weak::upgrade) {
        Some(hub) => hub,
        None => {
            let hub = Arc::new(Hub {
                name: name.to_owned(),
                stations: Mutex::new(Arc::new(Vec::new())),
                generation: AtomicU64::new(0),
            });
            hubs.insert(name.to_owned(), Arc::downgrade(&hub));
            hub
        }
    };
    let mut ends = Vec::with_capacity(num_queues);
    let queues = (0..num_queues)
        .map(|_| {
            let (returns, returns_rx) = sync_channel(ring_frames(mtu));
            ends.push(returns_rx);
            Arc::new(RxQueue {
                new_rings: Mutex::new(Vec::new()),
                rings_made: AtomicUsize::new(0),
                pending: AtomicUsize::new(0),
                returns,
                drops: AtomicU64::new(0),
                notify: Mutex::new(None),
                notify_epoch: AtomicU64::new(0),
            })
        })
        .collect();
    let station = Arc::new(Station {
        id: NEXT_STATION_ID.fetch_add(1, Ordering::Relaxed),
        mac,
        mtu,
        buf_len,
        offload,
        queues,
        live: AtomicUsize::new(num_queues),
    });
    {
        let mut stations = lock(&hub.stations);
        if stations.iter().any(|s| s.mac == mac) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        }
        let mut next = Vec::with_capacity(stations.len() + 1);
        next.extend(stations.iter().cloned());
        next.push(Arc::clone(&station));
        *stations = Arc::new(next);
        hub.generation.fetch_add(1, Ordering::Release);
    }
    drop(hubs);
    Ok(ends
        .into_iter()
        .enumerate()
        .map(|(index, returns)| MemoryQueue::new(&hub, &station, index, returns))
        .collect())
}

/// A switch joining the stations attached under one name.
struct Hub {
    name: String,
    /// The attached stations; replaced whole (copy on write) on attach and detach so senders
    /// can keep a snapshot and look it up without a lock.
    stations: Mutex<Arc<Vec<Arc<Station>>>>,
    /// Bumped on every change of `stations`: a sender refreshes its snapshot when it moves.
    generation: AtomicU64,
}

/// One attached stack.
struct Station {
    id: u64,
    mac: [u8; 6],
    mtu: usize,
    /// Bytes of each of its buffers ([`buffer_len`] of `mtu`).
    buf_len: usize,
    /// Checksum offload: its frames carry unfinished TCP checksums, and it checks none.
    offload: bool,
    /// Shared, so each queue's owner holds its own directly (`MemoryQueue::rx`).
    queues: Box<[Arc<RxQueue>]>,
    /// Queues not yet dropped; the station detaches when it reaches 0.
    live: AtomicUsize,
}

impl Station {
    fn max_frame(&self) -> usize {
        self.mtu + ETH_HEADER
    }
}

/// The shared side of one queue: where other queues put its frames and return its buffers.
/// Aligned to 128 bytes (two cache lines, as adjacent-line prefetch pairs them) so the queues
/// of two contexts never share a line.
#[repr(align(128))]
struct RxQueue {
    /// Rings from senders that have not been picked up yet: a sender adds its ring here on
    /// its first frame for this queue, and the owner takes it when `rings_made` moved (the
    /// only lock a frame may meet, once per sending queue and receive queue).
    new_rings: Mutex<Vec<Inbound>>,
    rings_made: AtomicUsize,
    /// Frames sent and not yet taken: a receiver with nothing waiting returns without touching
    /// the channel. A frame is counted just after it is pushed, and its sender notifies after
    /// counting, so the next poll sees it.
    pending: AtomicUsize,
    /// This queue's buffers coming back from queues that hold too many.
    returns: SyncSender<SizedBuf>,
    /// Frames dropped because `frames` was full.
    drops: AtomicU64,
    /// Who to wake after a delivery; senders cache it and re-read it (under the lock) only
    /// when `notify_epoch` moved.
    notify: Mutex<Option<Arc<dyn Notify>>>,
    notify_epoch: AtomicU64,
}

/// The queue that allocated a buffer, and gets it back: its station's id and its index packed
/// in one word (index in the low 16 bits), so a frame in flight stays small.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Home(u64);

impl Home {
    fn new(station: u64, queue: usize) -> Home {
        Home(station << 16 | queue as u64)
    }

    fn station(self) -> u64 {
        self.0 >> 16
    }

    fn queue(self) -> usize {
        (self.0 & 0xffff) as usize
    }
}

/// A frame in flight.
struct Packet {
    buf: SizedBuf,
    home: Home,
    /// Bytes of the frame (at most [`MAX_MTU`] + 14: fits 32 bits, keeps the packet at 32 bytes).
    len: u32,
    /// Sent by a station with checksum offload: TCP checksums unfinished, never corrupted.
    partial: bool,
}

impl Packet {
    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// A ring from one sending queue, and whether that sender's buffers are smaller than ours
/// (a station with a smaller MTU): those go back to their owner instead of into our caches.
struct Inbound {
    ring: Consumer<Packet>,
    undersized: bool,
}

/// Keeps a free buffer: with the queue's own, or with other queues' (`me` is the keeper).
fn stash(
    own: &mut Vec<SizedBuf>,
    foreign: &mut Vec<(SizedBuf, Home)>,
    me: Home,
    buf: SizedBuf,
    home: Home,
) {
    if home == me {
        own.push(buf);
    } else {
        foreign.push((buf, home));
    }
}

/// A sending queue's ring into one receive queue, the frames pushed into it since the last
/// flush, and that queue's `Notify` as last read (valid while its epoch holds).
struct Outbox {
    station: u64,
    queue: u32,
    ring: Producer<Packet>,
    /// The receive queue's shared side: its pending count, drops and `Notify`.
    rx: Arc<RxQueue>,
    /// Frames pushed and not yet published (they wait for `flush`).
    unpublished: usize,
    notify_epoch: u64,
    notify: Option<Arc<dyn Notify>>,
}

/// One queue of a station on an in-memory hub. See the [module docs](self).
pub struct MemoryQueue {
    hub: Arc<Hub>,
    station: Arc<Station>,
    index: usize,
    /// This queue's shared side (`station.queues[index]`), asked on every poll.
    rx: Arc<RxQueue>,
    /// The station's longest frame, buffer size and checksum offload (fixed at attach), read
    /// per frame.
    max_frame: usize,
    buf_len: usize,
    offload: bool,
    home: Home,
    /// Snapshot of the hub's stations and the generation it was taken at.
    stations: Arc<Vec<Arc<Station>>>,
    generation: u64,
    /// The rings into this queue, one per sending queue, and how many of them were made.
    inbox: Vec<Inbound>,
    rings_seen: usize,
    /// The ring the next burst starts with (round robin between senders).
    next_ring: usize,
    /// Rings from this queue into the receive queues it sent to, and the last one used.
    outboxes: Vec<Outbox>,
    last_outbox: usize,
    /// This queue's end of its buffer-return channel.
    returns: Receiver<SizedBuf>,
    /// Outboxes holding frames that wait for `flush` (indices into `outboxes`), and how many
    /// frames were sent since the last flush.
    dirty: Vec<usize>,
    unflushed: usize,
    /// The last unicast destination MAC sent to, when its station has one queue: the outbox
    /// its frames go to (`usize::MAX`: none; reset with each snapshot) and the longest frame
    /// that station takes. A burst of one connection's segments finds it each time.
    route_dst: [u8; 6],
    route_outbox: usize,
    route_max_frame: usize,
    /// Free buffers of this queue.
    own: Vec<SizedBuf>,
    /// Free buffers of other queues (they go back when there are too many), each at least
    /// `buf_len` bytes.
    foreign: Vec<(SizedBuf, Home)>,
    /// Buffers this queue allocated.
    allocated: usize,
    /// Scratch of `send_slow`: every (station, queue) one frame goes to.
    targets: Vec<(usize, usize)>,
    stats: PortStats,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue")
            .field("hub", &self.hub.name)
            .field("mac", &self.station.mac)
            .field("queue", &self.index)
            .finish_non_exhaustive()
    }
}

impl MemoryQueue {
    fn new(
        hub: &Arc<Hub>,
        station: &Arc<Station>,
        index: usize,
        returns: Receiver<SizedBuf>,
    ) -> MemoryQueue {
        MemoryQueue {
            hub: Arc::clone(hub),
            station: Arc::clone(station),
            index,
            rx: Arc::clone(&station.queues[index]),
            max_frame: station.max_frame(),
            buf_len: station.buf_len,
            offload: station.offload,
            home: Home::new(station.id, index),
            stations: Arc::new(Vec::new()),
            generation: u64::MAX,
            inbox: Vec::new(),
            rings_seen: 0,
            next_ring: 0,
            outboxes: Vec::new(),
            last_outbox: 0,
            returns,
            dirty: Vec::with_capacity(4),
            unflushed: 0,
            route_dst: [0; 6],
            route_outbox: usize::MAX,
            route_max_frame: 0,
            own: Vec::with_capacity(CACHE_HIGH),
            foreign: Vec::with_capacity(CACHE_HIGH + 2 * BURST),
            allocated: 0,
            targets: Vec::with_capacity(8),
            stats: PortStats::default(),
        }
    }

    /// The name of the hub this queue is attached to.
    pub fn hub_name(&self) -> &str {
        &self.hub.name
    }

    /// This queue's index within its station (the context it serves).
    pub fn queue_index(&self) -> usize {
        self.index
    }

    /// Buffers this queue allocated so far, each [`Caps::max_frame`] bytes: about the most
    /// frames it had in flight at once, plus its caches.
    pub fn buffers_allocated(&self) -> usize {
        self.allocated
    }

    /// A free buffer: another queue's first (it would go back otherwise), then our own, then
    /// our own returned by others, and a new one only when all are empty.
    #[inline]
    fn take_buf(&mut self) -> (SizedBuf, Home) {
        if let Some(free) = self.foreign.pop() {
            return free;
        }
        if let Some(buf) = self.own.pop() {
            return (buf, self.home);
        }
        self.refill_buf()
    }

    /// `take_buf` once both caches are empty: buffers others returned, else a new one.
    #[inline(never)]
    fn refill_buf(&mut self) -> (SizedBuf, Home) {
        while self.own.len() < BURST {
            match self.returns.try_recv() {
                Ok(buf) => self.own.push(buf),
                Err(_) => break,
            }
        }
        let buf = self.own.pop().unwrap_or_else(|| {
            self.allocated += 1;
            new_sized_buf(self.buf_len)
        });
        (buf, self.home)
    }

    /// Keeps a free buffer (one at least `buf_len` bytes).
    #[inline]
    fn put_buf(&mut self, buf: SizedBuf, home: Home) {
        stash(&mut self.own, &mut self.foreign, self.home, buf, home);
    }

    /// Sends the surplus of other queues' buffers back to their owners, in one batch. A buffer
    /// whose owner is gone (or whose return channel is full) is freed.
    #[inline]
    fn trim_cache(&mut self) {
        if self.foreign.len() > CACHE_HIGH {
            self.return_foreign(CACHE_LOW);
        }
    }

    /// Sends the other queues' buffers past the first `keep` of the cache back to their owners.
    #[inline(never)]
    fn return_foreign(&mut self, keep: usize) {
        self.refresh_stations();
        for (buf, home) in self.foreign.drain(keep..) {
            let owner = self
                .stations
                .iter()
                .find(|s| s.id == home.station())
                .and_then(|s| s.queues.get(home.queue()));
            if let Some(owner) = owner {
                let _ = owner.returns.try_send(buf);
            }
        }
    }

    #[inline]
    fn refresh_stations(&mut self) {
        if self.hub.generation.load(Ordering::Acquire) != self.generation {
            self.take_snapshot();
        }
    }

    #[inline(never)]
    fn take_snapshot(&mut self) {
        self.generation = self.hub.generation.load(Ordering::Acquire);
        self.stations = Arc::clone(&lock(&self.hub.stations));
        self.route_outbox = usize::MAX;
        // Rings into stations that left go with them. Frames waiting in one for a flush are
        // published first: a ring frees only the values published into it when it goes.
        let stations = &self.stations;
        self.outboxes.retain(|o| {
            let live = stations.iter().any(|s| s.id == o.station);
            if !live {
                o.ring.publish();
            }
            live
        });
        self.dirty.clear();
        for (i, o) in self.outboxes.iter().enumerate() {
            if o.unpublished > 0 {
                self.dirty.push(i);
            }
        }
    }

    /// The outbox into (station `s`, queue `q`) of the snapshot: usually the last one used.
    #[inline]
    fn outbox(&mut self, s: usize, q: usize) -> usize {
        let id = self.stations[s].id;
        match self.outboxes.get(self.last_outbox) {
            Some(o) if o.station == id && o.queue == q as u32 => self.last_outbox,
            _ => self.find_outbox(s, q),
        }
    }

    /// [`MemoryQueue::outbox`] when it is not the last one used, made on first use: our ring
    /// goes to the receiver through its `new_rings` (the one lock, once per pair of queues).
    #[inline(never)]
    fn find_outbox(&mut self, s: usize, q: usize) -> usize {
        let station = &self.stations[s];
        let at = |o: &Outbox| o.station == station.id && o.queue == q as u32;
        let o = match self.outboxes.iter().position(at) {
            Some(o) => o,
            None => {
                let rx = &station.queues[q];
                // Frames travel in either station's buffers: sized for the larger.
                let frames = ring_frames(self.station.mtu.max(station.mtu));
                let (ring, consumer) = spsc::channel(frames);
                lock(&rx.new_rings).push(Inbound {
                    ring: consumer,
                    // Our buffers are at least our `buf_len` (module docs).
                    undersized: self.buf_len < station.buf_len,
                });
                rx.rings_made.fetch_add(1, Ordering::AcqRel);
                self.outboxes.push(Outbox {
                    station: station.id,
                    queue: q as u32,
                    ring,
                    rx: Arc::clone(rx),
                    unpublished: 0,
                    notify_epoch: u64::MAX,
                    notify: None,
                });
                self.outboxes.len() - 1
            }
        };
        self.last_outbox = o;
        o
    }

    /// Routes a frame just built into the ring of the receive queue it goes to, where it
    /// waits for the next flush. A frame to the same single-queue station as the last one
    /// (every segment of a connection to a one-context peer) goes straight to its outbox.
    #[inline]
    fn send(&mut self, packet: Packet) {
        self.refresh_stations();
        let dst = dst_mac(packet.bytes());
        if dst == self.route_dst
            && self.route_outbox != usize::MAX
            && packet.len as usize <= self.route_max_frame
        {
            debug_assert!(self.route_is_current(dst), "stale route to {dst:02x?}");
            self.push_to(self.route_outbox, packet);
            return;
        }
        self.send_routed(packet);
    }

    /// What `send_routed` would find for `dst` (the general lookup), compared with the
    /// remembered route in debug builds.
    fn route_is_current(&self, dst: [u8; 6]) -> bool {
        let Some(station) = self.stations.iter().find(|st| st.mac == dst) else {
            return false;
        };
        let out = &self.outboxes[self.route_outbox];
        !Arc::ptr_eq(station, &self.station)
            && station.queues.len() == 1
            && out.station == station.id
            && out.queue == 0
            && Arc::ptr_eq(&out.rx, &station.queues[0])
            && self.route_max_frame == station.max_frame()
    }

    /// [`MemoryQueue::send`] without a route to reuse: a unicast frame for one queue of
    /// another station is pushed there (and remembered as the route when that station has one
    /// queue); the rest goes through `send_slow`.
    #[inline(never)]
    fn send_routed(&mut self, packet: Packet) {
        let bytes = packet.bytes();
        let dst = dst_mac(bytes);
        if !is_group(dst) {
            if let Some(s) = self.stations.iter().position(|st| st.mac == dst) {
                let station = &self.stations[s];
                if !Arc::ptr_eq(station, &self.station)
                    && packet.len as usize <= station.max_frame()
                {
                    let (queues, max_frame) = (station.queues.len(), station.max_frame());
                    if let Steer::Queue(q) = rss::steer_frame(bytes, queues) {
                        let o = self.outbox(s, q);
                        if queues == 1 {
                            self.route_dst = dst;
                            self.route_outbox = o;
                            self.route_max_frame = max_frame;
                        }
                        self.push_to(o, packet);
                        return;
                    }
                }
            }
        }
        self.send_slow(packet);
    }

    /// Every (station, queue) a frame goes to, as a switch without learning does: each other
    /// station whose MAC it is for (all of them for a group address) and whose MTU takes it,
    /// on the queue RSS picks or, for what RSS can't place, on every queue. The last delivery
    /// moves the frame's buffer, the others get copies; a frame nobody takes (unknown
    /// destination, only smaller MTUs on the way) keeps its buffer here.
    #[inline(never)]
    fn send_slow(&mut self, packet: Packet) {
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        let bytes = packet.bytes();
        let dst = dst_mac(bytes);
        for (s, station) in self.stations.iter().enumerate() {
            let wanted = is_group(dst) || station.mac == dst;
            if !wanted || Arc::ptr_eq(station, &self.station) {
                continue;
            }
            if packet.len as usize > station.max_frame() {
                self.stats.drops += 1;
                continue;
            }
            match rss::steer_frame(bytes, station.queues.len()) {
                Steer::Queue(q) => targets.push((s, q)),
                Steer::All => targets.extend((0..station.queues.len()).map(|q| (s, q))),
            }
        }
        match targets.split_last() {
            Some((&(s, q), copies)) => {
                for &(cs, cq) in copies {
                    // Our buffers hold any frame we built (its length is at most our MTU's).
                    let (mut buf, home) = self.take_buf();
                    buf[..packet.len as usize].copy_from_slice(packet.bytes());
                    let copy = Packet {
                        buf,
                        home,
                        len: packet.len,
                        partial: packet.partial,
                    };
                    self.push(cs, cq, copy);
                }
                self.push(s, q, packet);
            }
            None => self.put_back(packet),
        }
        self.targets = targets;
    }

    /// Pushes a frame into the ring of (station `s`, queue `q`) of the snapshot, unpublished:
    /// the receiver sees it after the next flush. A frame that finds the ring full is dropped
    /// (counted at the receiver) and its buffer kept.
    #[inline]
    fn push(&mut self, s: usize, q: usize, packet: Packet) {
        let o = self.outbox(s, q);
        self.push_to(o, packet);
    }

    /// [`MemoryQueue::push`] into outbox `o`.
    #[inline]
    fn push_to(&mut self, o: usize, packet: Packet) {
        let out = &mut self.outboxes[o];
        match out.ring.push(packet) {
            Ok(()) => {
                if out.unpublished == 0 {
                    self.dirty.push(o);
                }
                out.unpublished += 1;
            }
            Err(p) => {
                out.rx.drops.fetch_add(1, Ordering::Relaxed);
                stash(&mut self.own, &mut self.foreign, self.home, p.buf, p.home);
            }
        }
    }

    /// Makes the frames pushed since the last flush visible and wakes their receivers: per
    /// receive queue one release store, one count and one wake-up.
    fn publish(&mut self) {
        for &o in &self.dirty {
            let out = &mut self.outboxes[o];
            out.ring.publish();
            let rx = &out.rx;
            rx.pending.fetch_add(out.unpublished, Ordering::AcqRel);
            out.unpublished = 0;
            let epoch = rx.notify_epoch.load(Ordering::Acquire);
            if out.notify_epoch != epoch {
                // First delivery there, or `set_notify` since: read it once under the lock.
                out.notify = lock(&rx.notify).clone();
                out.notify_epoch = epoch;
            }
            if let Some(n) = &out.notify {
                n.notify();
            }
        }
        self.dirty.clear();
    }

    /// Takes the rings senders made into this queue since the last look.
    #[inline]
    fn adopt_rings(&mut self) {
        let made = self.rx.rings_made.load(Ordering::Acquire);
        if made != self.rings_seen {
            self.adopt_new_rings(made);
        }
    }

    #[inline(never)]
    fn adopt_new_rings(&mut self, made: usize) {
        self.inbox.append(&mut lock(&self.rx.new_rings));
        self.rings_seen = made;
    }

    #[inline]
    fn put_back(&mut self, p: Packet) {
        self.put_buf(p.buf, p.home);
    }

    /// What checksum offload asks of a received frame (module docs): with offload, a frame
    /// from a station without it is checked (false: drop it); without, a frame from a station
    /// with it gets its TCP checksum finished.
    #[inline]
    fn accept_checksums(&self, packet: &mut Packet) -> bool {
        match (self.offload, packet.partial) {
            (true, true) | (false, false) => true,
            (true, false) => verify_frame(packet.bytes()),
            (false, true) => {
                let len = packet.len as usize;
                // Only TCP is left unfinished; anything else is complete already.
                let _ = complete_l4_checksum(&mut packet.buf[..len]);
                true
            }
        }
    }

    /// [`PacketIo::rx_burst`] with the callback's type known, so it can be inlined (the
    /// engine drives an in-memory queue this way, through [`Port`](crate::Port)).
    #[inline]
    pub fn rx_burst_with<F: FnMut(&[u8])>(&mut self, max: usize, on_frame: F) -> usize {
        self.rx_burst_staged(max, &mut HandleOnly(on_frame))
    }

    /// [`Port::rx_burst_staged`](crate::Port::rx_burst_staged): as [`Self::rx_burst_with`],
    /// but when a ring holds more than one frame, `look` sees its share of the burst first
    /// (left in the ring, unchecked), then `handle` gets each frame as `rx_burst_with`'s
    /// callback would (`rx_burst_with` is this with a receiver that never looks). A frame's index is its place in the ring's share (a frame dropped for
    /// its checksum keeps its place, so `handle` may skip one).
    #[inline]
    pub fn rx_burst_staged<R: BurstReceiver>(&mut self, max: usize, receiver: &mut R) -> usize {
        if !self.has_pending() {
            return 0;
        }
        self.adopt_rings();
        let rings = self.inbox.len();
        let mut total = 0;
        for k in 0..rings {
            let r = if rings == 1 {
                0
            } else {
                (self.next_ring + k) % rings
            };
            let cached = self.foreign.len();
            let share = max - total;
            let ring = &mut self.inbox[r].ring;
            if share > 1 && receiver.wants_look() && ring.peek(1).is_some() {
                for i in 0..share {
                    let Some(packet) = ring.peek(i) else {
                        break;
                    };
                    receiver.look(i, packet.bytes());
                }
            }
            let mut i = 0;
            while total < max {
                let Some(mut packet) = self.inbox[r].ring.pop() else {
                    break;
                };
                total += 1;
                i += 1;
                if !self.accept_checksums(&mut packet) {
                    self.stats.drops += 1;
                    self.put_back(packet);
                    continue;
                }
                receiver.handle(i - 1, packet.bytes());
                self.stats.rx_frames += 1;
                self.stats.rx_bytes += u64::from(packet.len);
                self.put_back(packet);
            }
            if self.inbox[r].undersized && self.foreign.len() > cached {
                // Too small to build our frames in: what this ring brought of other queues'
                // buffers (the end of the cache) goes straight back.
                self.return_foreign(cached);
            }
        }
        if rings > 1 {
            self.next_ring = (self.next_ring + 1) % rings;
        }
        if total > 0 {
            self.rx.pending.fetch_sub(total, Ordering::AcqRel);
        }
        self.trim_cache();
        total
    }

    /// [`PacketIo::tx`] with the callback's type known, so it can be inlined (as
    /// [`MemoryQueue::rx_burst_with`]). The frame goes into its receiver's ring at once,
    /// unpublished, so the flush only publishes.
    #[inline]
    pub fn tx_with<F: FnOnce(&mut [u8]) -> usize>(&mut self, len: usize, fill: F) -> bool {
        // Every buffer `take_buf` gives is at least `buf_len` bytes.
        if len > self.buf_len {
            self.stats.drops += 1;
            return false;
        }
        if self.unflushed >= BURST {
            self.flush_now();
        }
        let (mut buf, home) = self.take_buf();
        let n = fill(&mut buf[..len]);
        if n == 0 || n > len || n > self.max_frame {
            if n != 0 {
                self.stats.drops += 1;
            }
            self.put_buf(buf, home);
            return false;
        }
        // Counted as sent here (frames dropped on the way count at the receiver or as drops).
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += n as u64;
        self.unflushed += 1;
        let partial = self.offload;
        self.send(Packet {
            buf,
            home,
            len: n as u32,
            partial,
        });
        true
    }

    /// [`PacketIo::flush`]: publishes what `tx` pushed.
    #[inline]
    pub fn flush_now(&mut self) {
        self.unflushed = 0;
        if !self.dirty.is_empty() {
            self.publish();
        }
        self.trim_cache();
    }

    /// [`PacketIo::has_pending`], inherent so it inlines.
    #[inline]
    pub fn has_pending(&self) -> bool {
        self.rx.pending.load(Ordering::Acquire) != 0
    }
}

/// A plain frame callback as a [`BurstReceiver`] that never looks ahead: `rx_burst_with` is
/// `rx_burst_staged` with it (`wants_look` is a constant false, so the look pass compiles
/// away).
struct HandleOnly<F>(F);

impl<F: FnMut(&[u8])> BurstReceiver for HandleOnly<F> {
    #[inline]
    fn wants_look(&self) -> bool {
        false
    }
    #[inline]
    fn look(&mut self, _index: usize, _frame: &[u8]) {}
    #[inline]
    fn handle(&mut self, _index: usize, frame: &[u8]) {
        (self.0)(frame)
    }
}

impl PacketIo for MemoryQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        self.rx_burst_with(max, on_frame)
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        self.tx_with(len, fill)
    }

    fn flush(&mut self) {
        self.flush_now();
    }

    fn caps(&self) -> Caps {
        Caps {
            rx_checksum: self.station.offload,
            tx_checksum: self.station.offload,
            max_frame: self.buf_len,
            ..Caps::software(self.station.mac, self.station.mtu)
        }
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        let queue = &self.rx;
        *lock(&queue.notify) = Some(notify);
        queue.notify_epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn has_pending(&self) -> bool {
        MemoryQueue::has_pending(self)
    }

    fn stats(&self) -> PortStats {
        let ring_drops = self.rx.drops.load(Ordering::Relaxed);
        PortStats {
            drops: self.stats.drops + ring_drops,
            ..self.stats
        }
    }
}

impl Drop for MemoryQueue {
    fn drop(&mut self) {
        // Frames sent and not yet flushed leave as a NIC's queue would (a ring frees only
        // published values when it goes).
        self.flush_now();
        if self.station.live.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // Last queue of the station: detach it, and forget the hub if it is now empty. The
        // registry lock is taken first, as in `attach`, so an attach can't see a half-removed hub.
        let mut hubs = lock(registry());
        let empty = {
            let mut stations = lock(&self.hub.stations);
            let next: Vec<Arc<Station>> = stations
                .iter()
                .filter(|s| !Arc::ptr_eq(s, &self.station))
                .cloned()
                .collect();
            let empty = next.is_empty();
            *stations = Arc::new(next);
            self.hub.generation.fetch_add(1, Ordering::Release);
            empty
        };
        if empty {
            let ours = hubs
                .get(&self.hub.name)
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.hub)));
            if ours {
                hubs.remove(&self.hub.name);
            }
        }
    }
}
