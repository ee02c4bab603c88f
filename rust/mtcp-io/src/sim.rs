//! A simulated Ethernet segment with a virtual clock (time in microseconds, supplied by the
//! driver), seeded impairments and pcap capture.
//!
//! CONTRACT: `Impairments` fields, `SimFabric::{new, attach, now, next_event, advance_to,
//! configure, impairments, capture}` and `SimPort: PacketIo` are used by the runtime.
//!
//! # Model
//!
//! Stations ([`SimFabric::attach`]) are joined by a switch without learning, as in
//! [`crate::memory`]: a unicast frame goes to the station with its destination MAC, a
//! broadcast/multicast frame to every other station; within a station [`rss::steer_frame`]
//! picks the queue. Each ordered pair of stations (one direction of one link) has its own
//! bottleneck FIFO, its own burst-loss state and may have its own [`Impairments`]
//! ([`SimFabric::configure_direction`]).
//!
//! A frame flushed at virtual time `now` goes through, in this order (each random draw made
//! only when its probability is neither 0 nor 1, so the outcome is a function of the seed and
//! the sends):
//! 1. scripted drops ([`SimFabric::drop_frames`], [`SimFabric::drop_next`]), for the frame as a
//!    whole;
//! 2. for each destination station: the MTU (longer than `mtu + 14` bytes → dropped),
//!    burst loss ([`GilbertElliott`]), then random loss (`loss`);
//! 3. the bottleneck (`rate_bps`): a FIFO that is busy until the last queued bit is sent; when
//!    more than `queue_bytes` would be waiting the frame is tail-dropped; otherwise it is
//!    delivered once its last bit is serialized (store and forward; frame bytes only, no
//!    preamble or FCS);
//! 4. `delay_us` plus jitter uniform in `0..=jitter_us`, never earlier than the previous frame
//!    of the same direction (jitter alone does not reorder);
//! 5. reorder (`reorder`): an extra hold of `b + uniform(0..=b)` µs, `b = max(delay_us, the
//!    frame's serialization time, 1)`, outside the FIFO, so frames sent after it overtake it;
//! 6. corruption (`corrupt`): one random byte after the Ethernet header XORed with a random
//!    non-zero value;
//! 7. duplication (`duplicate`): a second identical copy delivered right after the first.
//!
//! Nothing moves except inside [`SimFabric::advance_to`]: it delivers every frame due by the
//! given time in delivery-time order (ties in send order) into bounded receive queues
//! ([`RX_QUEUE_FRAMES`]; overflow → `rx_drops` and the port's [`PortStats::drops`]).
//!
//! # Threads
//!
//! The fabric is meant to be driven from one thread; the handle and its ports share one
//! `Mutex`, which makes [`SimPort`] `Send` as [`PacketIo`] requires. No lock is held while
//! callbacks run.
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::frame::{dst_mac, is_group, new_buf, Frame, FrameBuf, ETH_HEADER};
use crate::pcap::PcapWriter;
use crate::rss::{self, Steer};
use crate::{Caps, Notify, PacketIo, PortStats, BURST, MAX_FRAME};

mod rng;
use rng::Rng;

/// Frames one receive queue of a simulated port holds.
pub const RX_QUEUE_FRAMES: usize = 4096;

/// What the wire does to frames. Rates are probabilities in 0.0–1.0, applied per frame.
///
/// Construct with `Impairments { loss: 0.01, ..Default::default() }`: fields may be added.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairments {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is held back and delivered after later frames.
    pub reorder: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability one byte of a frame is flipped.
    pub corrupt: f64,
    /// One-way propagation delay in microseconds.
    pub delay_us: u64,
    /// Uniform random extra delay in 0..=jitter_us microseconds (does not reorder by itself).
    pub jitter_us: u64,
    /// Bottleneck rate per direction in bits/s; `None` = unlimited.
    pub rate_bps: Option<u64>,
    /// Bytes the bottleneck queue holds before it drops (tail drop).
    pub queue_bytes: usize,
    /// IP MTU of the segment; larger frames are dropped.
    pub mtu: usize,
    /// Bursty loss (Gilbert–Elliott), applied before and independently of `loss`; `None` = off.
    pub burst_loss: Option<GilbertElliott>,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            delay_us: 50,
            jitter_us: 0,
            rate_bps: None,
            queue_bytes: 256 * 1024,
            mtu: 1500,
            burst_loss: None,
        }
    }
}

/// The Gilbert–Elliott two-state loss model (Gilbert 1960, Elliott 1963), one chain per
/// direction of each link: before each frame the chain moves (good → bad with
/// `p_good_to_bad`, bad → good with `p_bad_to_good`), then the frame is lost with the loss
/// probability of the state it is in. Mean burst length is `1 / p_bad_to_good` frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state, per frame.
    pub p_good_to_bad: f64,
    /// Probability of moving from the bad to the good state, per frame.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state (often 0).
    pub loss_good: f64,
    /// Loss probability in the bad state (often 1).
    pub loss_bad: f64,
}

/// Counters of a simulated fabric. A frame to several stations (broadcast) counts once in
/// `sent` and once per destination in the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimStats {
    /// Frames flushed by ports.
    pub sent: u64,
    /// Frames handed to a station's receive queue(s) (a duplicate counts again).
    pub delivered: u64,
    /// Frames lost at random (`loss` and `burst_loss`).
    pub lost: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Frames with a byte flipped.
    pub corrupted: u64,
    /// Frames held back to be overtaken.
    pub reordered: u64,
    /// Frames tail-dropped by a full bottleneck queue.
    pub queue_drops: u64,
    /// Frames dropped because a receive queue was full.
    pub rx_drops: u64,
    /// Frames longer than `mtu + 14`.
    pub oversize: u64,
    /// Frames dropped by [`SimFabric::drop_frames`] or [`SimFabric::drop_next`].
    pub scripted_drops: u64,
    /// Frames with no station to go to (unknown unicast MAC, or the station detached).
    pub unroutable: u64,
}

/// A simulated Ethernet segment: a cheap, cloneable handle. See the [module docs](self).
#[derive(Clone)]
pub struct SimFabric {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for SimFabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("SimFabric")
            .field("now", &s.now)
            .field("in_flight", &s.in_flight.len())
            .field("stats", &s.stats)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type DropPredicate = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// A scripted drop: the next `left` frames that match.
struct DropRule {
    left: usize,
    matches: DropPredicate,
}

struct State {
    now: u64,
    imp: Impairments,
    /// Per-direction impairments by (source MAC, destination MAC).
    overrides: HashMap<([u8; 6], [u8; 6]), Impairments>,
    rng: Rng,
    stations: Vec<SimStation>,
    /// One direction of a link by (source station, destination station). Only looked up,
    /// never iterated, so the hasher's seed does not affect outcomes.
    links: HashMap<(usize, usize), Link>,
    in_flight: BinaryHeap<InFlight>,
    next_seq: u64,
    pool: Vec<FrameBuf>,
    capture: Option<PcapWriter<BufWriter<File>>>,
    stats: SimStats,
    drop_rules: Vec<DropRule>,
    drop_indices: BTreeSet<u64>,
    /// (station, queue) that received frames during the current `advance_to`.
    woken: Vec<(usize, usize)>,
}

struct SimStation {
    mac: [u8; 6],
    /// Ports not yet dropped; 0 = detached.
    live: usize,
    queues: Vec<SimRxQueue>,
}

struct SimRxQueue {
    frames: VecDeque<Frame>,
    notify: Option<Arc<dyn Notify>>,
    drops: u64,
    woken: bool,
}

/// One direction of a link.
#[derive(Default)]
struct Link {
    /// The bottleneck transmits until then (virtual nanoseconds).
    busy_until_ns: u64,
    /// Delivery time of the last in-order frame: later frames are not delivered before it.
    last_delivery_us: u64,
    /// Gilbert–Elliott state.
    bad: bool,
}

/// A frame on the wire.
struct InFlight {
    at: u64,
    seq: u64,
    station: usize,
    frame: Frame,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    /// Reversed, so the max-heap pops the earliest (time, send order) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl State {
    fn take_buf(&mut self) -> FrameBuf {
        self.pool.pop().unwrap_or_else(new_buf)
    }

    fn copy_frame(&mut self, frame: &Frame) -> Frame {
        let mut buf = self.take_buf();
        buf[..frame.len].copy_from_slice(frame.bytes());
        Frame {
            buf,
            len: frame.len,
        }
    }

    /// Flushes the capture file; a write error ends the capture.
    fn flush_capture(&mut self) {
        if let Some(pcap) = &mut self.capture {
            if pcap.flush().is_err() {
                self.capture = None;
            }
        }
    }

    /// Sends one flushed frame from station `src`: capture, scripted drops, fan-out.
    fn send(&mut self, src: usize, frame: Frame) {
        let index = self.stats.sent;
        self.stats.sent += 1;
        if let Some(pcap) = &mut self.capture {
            if pcap.write_frame(self.now, frame.bytes()).is_err() {
                self.capture = None;
            }
        }
        if self.scripted_drop(index, frame.bytes()) {
            self.stats.scripted_drops += 1;
            self.pool.push(frame.buf);
            return;
        }
        let dst = dst_mac(frame.bytes());
        let wanted = |s: &SimStation| s.live > 0 && (is_group(dst) || s.mac == dst);
        let last = self
            .stations
            .iter()
            .enumerate()
            .rev()
            .find(|&(i, s)| i != src && wanted(s));
        let Some((last, _)) = last else {
            self.stats.unroutable += 1;
            self.pool.push(frame.buf);
            return;
        };
        // Copies for all destinations but the last, which takes the buffer. Station counts are
        // small; walking them again is cheaper than collecting the targets.
        for dst_station in 0..last {
            if dst_station != src && wanted(&self.stations[dst_station]) {
                let copy = self.copy_frame(&frame);
                self.transmit(src, dst_station, copy);
            }
        }
        self.transmit(src, last, frame);
    }

    fn scripted_drop(&mut self, index: u64, bytes: &[u8]) -> bool {
        if self.drop_indices.remove(&index) {
            return true;
        }
        let hit = self
            .drop_rules
            .iter_mut()
            .position(|rule| (rule.matches)(bytes));
        match hit {
            Some(i) => {
                self.drop_rules[i].left -= 1;
                if self.drop_rules[i].left == 0 {
                    self.drop_rules.remove(i);
                }
                true
            }
            None => false,
        }
    }

    /// One frame over the direction `src → dst`: impairments, bottleneck, delay, scheduling.
    fn transmit(&mut self, src: usize, dst: usize, mut frame: Frame) {
        let key = (self.stations[src].mac, self.stations[dst].mac);
        let imp = self.overrides.get(&key).unwrap_or(&self.imp).clone();
        if frame.len > imp.mtu.saturating_add(ETH_HEADER) {
            self.stats.oversize += 1;
            self.pool.push(frame.buf);
            return;
        }
        let link = self.links.entry((src, dst)).or_default();
        if let Some(ge) = imp.burst_loss {
            let moves = if link.bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.rng.chance(moves) {
                link.bad = !link.bad;
            }
            let p = if link.bad { ge.loss_bad } else { ge.loss_good };
            if self.rng.chance(p) {
                self.stats.lost += 1;
                self.pool.push(frame.buf);
                return;
            }
        }
        if self.rng.chance(imp.loss) {
            self.stats.lost += 1;
            self.pool.push(frame.buf);
            return;
        }
        let now_ns = self.now.saturating_mul(1000);
        let mut ready_ns = now_ns;
        let mut serialization_us = 0;
        if let Some(rate) = imp.rate_bps.filter(|&r| r > 0) {
            let backlog_ns = link.busy_until_ns.saturating_sub(now_ns);
            let backlog_bytes = u128::from(backlog_ns) * u128::from(rate) / 8_000_000_000;
            if backlog_ns > 0 && backlog_bytes + frame.len as u128 > imp.queue_bytes as u128 {
                self.stats.queue_drops += 1;
                self.pool.push(frame.buf);
                return;
            }
            let bits = frame.len as u128 * 8 * 1_000_000_000;
            let serialization_ns =
                u64::try_from(bits.div_ceil(u128::from(rate))).unwrap_or(u64::MAX);
            ready_ns = link
                .busy_until_ns
                .max(now_ns)
                .saturating_add(serialization_ns);
            link.busy_until_ns = ready_ns;
            serialization_us = serialization_ns.div_ceil(1000);
        }
        let jitter = self.rng.up_to(imp.jitter_us);
        let mut at = ready_ns
            .div_ceil(1000)
            .saturating_add(imp.delay_us)
            .saturating_add(jitter);
        if self.rng.chance(imp.reorder) {
            let hold = imp.delay_us.max(serialization_us).max(1);
            at = at.saturating_add(hold).saturating_add(self.rng.up_to(hold));
            self.stats.reordered += 1;
        } else {
            at = at.max(link.last_delivery_us);
            link.last_delivery_us = at;
        }
        if frame.len > ETH_HEADER && self.rng.chance(imp.corrupt) {
            let i = ETH_HEADER + self.rng.below((frame.len - ETH_HEADER) as u64) as usize;
            frame.buf[i] ^= 1 + self.rng.below(255) as u8;
            self.stats.corrupted += 1;
        }
        if self.rng.chance(imp.duplicate) {
            let copy = self.copy_frame(&frame);
            self.stats.duplicated += 1;
            self.schedule(at, dst, frame);
            self.schedule(at, dst, copy);
        } else {
            self.schedule(at, dst, frame);
        }
    }

    fn schedule(&mut self, at: u64, station: usize, frame: Frame) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push(InFlight {
            at,
            seq,
            station,
            frame,
        });
    }

    /// Hands a due frame to its station's queue(s).
    fn deliver(&mut self, item: InFlight) {
        let station = &self.stations[item.station];
        if station.live == 0 {
            self.stats.unroutable += 1;
            self.pool.push(item.frame.buf);
            return;
        }
        self.stats.delivered += 1;
        let queues = station.queues.len();
        match rss::steer_frame(item.frame.bytes(), queues) {
            Steer::Queue(q) => self.enqueue(item.station, q, item.frame),
            Steer::All => {
                for q in 0..queues - 1 {
                    let copy = self.copy_frame(&item.frame);
                    self.enqueue(item.station, q, copy);
                }
                self.enqueue(item.station, queues - 1, item.frame);
            }
        }
    }

    fn enqueue(&mut self, station: usize, queue: usize, frame: Frame) {
        let Some(q) = self.stations[station].queues.get_mut(queue) else {
            self.pool.push(frame.buf);
            return;
        };
        if q.frames.len() >= RX_QUEUE_FRAMES {
            q.drops += 1;
            self.stats.rx_drops += 1;
            self.pool.push(frame.buf);
            return;
        }
        q.frames.push_back(frame);
        if !q.woken && q.notify.is_some() {
            q.woken = true;
            self.woken.push((station, queue));
        }
    }
}

impl SimFabric {
    /// A segment with no stations, virtual time 0, randomness from `seed`.
    pub fn new(seed: u64, imp: Impairments) -> SimFabric {
        SimFabric {
            state: Arc::new(Mutex::new(State {
                now: 0,
                imp,
                overrides: HashMap::new(),
                rng: Rng::new(seed),
                stations: Vec::new(),
                links: HashMap::new(),
                in_flight: BinaryHeap::new(),
                next_seq: 0,
                pool: Vec::new(),
                capture: None,
                stats: SimStats::default(),
                drop_rules: Vec::new(),
                drop_indices: BTreeSet::new(),
                woken: Vec::new(),
            })),
        }
    }

    /// Attaches a station with `num_queues` queues (one per context; 0 gives none). Its MTU is
    /// the fabric's at this moment. Two stations may share a MAC: both receive its frames.
    /// The station detaches when its last port is dropped; frames still queued or in flight to
    /// it are discarded (`unroutable`).
    pub fn attach(&self, mac: [u8; 6], num_queues: usize) -> Vec<SimPort> {
        let mut s = lock(&self.state);
        let station = s.stations.len();
        s.stations.push(SimStation {
            mac,
            live: num_queues,
            queues: (0..num_queues)
                .map(|_| SimRxQueue {
                    frames: VecDeque::new(),
                    notify: None,
                    drops: 0,
                    woken: false,
                })
                .collect(),
        });
        let mtu = s.imp.mtu;
        drop(s);
        (0..num_queues)
            .map(|queue| SimPort {
                state: Arc::clone(&self.state),
                station,
                queue,
                mac,
                mtu,
                batch: Vec::with_capacity(BURST),
                cache: Vec::with_capacity(2 * BURST),
                staging: Vec::with_capacity(BURST),
                stats: PortStats::default(),
            })
            .collect()
    }

    /// Virtual time in microseconds.
    pub fn now(&self) -> u64 {
        lock(&self.state).now
    }

    /// Delivery time of the earliest frame in flight, if any.
    pub fn next_event(&self) -> Option<u64> {
        lock(&self.state).in_flight.peek().map(|f| f.at)
    }

    /// Frames in flight (scheduled, not yet delivered).
    pub fn in_flight(&self) -> usize {
        lock(&self.state).in_flight.len()
    }

    /// Moves the clock to `t_us` (never backwards: an earlier time leaves it where it is) and
    /// delivers every frame due at or before it, in delivery-time order, ties in send order.
    /// Then wakes (once each) the queues that received frames and have a [`Notify`], and flushes
    /// the capture file.
    pub fn advance_to(&self, t_us: u64) {
        let mut s = lock(&self.state);
        let target = t_us.max(s.now);
        while s.in_flight.peek().is_some_and(|f| f.at <= target) {
            let Some(item) = s.in_flight.pop() else { break };
            s.now = s.now.max(item.at);
            s.deliver(item);
        }
        s.now = target;
        s.flush_capture();
        if s.woken.is_empty() {
            return;
        }
        let mut woken = std::mem::take(&mut s.woken);
        // At most one Arc per queue that received frames: per advance, not per frame.
        let notifies: Vec<Arc<dyn Notify>> = woken
            .iter()
            .filter_map(|&(st, q)| {
                let queue = &mut s.stations[st].queues[q];
                queue.woken = false;
                queue.notify.clone()
            })
            .collect();
        woken.clear();
        s.woken = woken;
        drop(s);
        for notify in notifies {
            notify.notify();
        }
    }

    /// Replaces the impairments (for frames sent from now on; frames in flight keep theirs).
    pub fn configure(&self, imp: Impairments) {
        lock(&self.state).imp = imp;
    }

    /// The impairments in force (those of directions without an override).
    pub fn impairments(&self) -> Impairments {
        lock(&self.state).imp.clone()
    }

    /// Sets (`Some`) or clears (`None`) the impairments of one direction: frames from the
    /// station with MAC `from` to the station with MAC `to` use them instead of the fabric's.
    /// Broadcast frames use the override of each destination they go to.
    pub fn configure_direction(&self, from: [u8; 6], to: [u8; 6], imp: Option<Impairments>) {
        let mut s = lock(&self.state);
        match imp {
            Some(imp) => s.overrides.insert((from, to), imp),
            None => s.overrides.remove(&(from, to)),
        };
    }

    /// Drops the frames whose send index is in `indices`: frame `i` is the one flushed when
    /// [`SimStats::sent`] was `i` (0-based, counted across all ports).
    pub fn drop_frames(&self, indices: impl IntoIterator<Item = u64>) {
        lock(&self.state).drop_indices.extend(indices);
    }

    /// Drops the next `n` frames sent for which `predicate` (given the frame's bytes) is true.
    /// Several rules may be active; a frame is counted against the first that matches.
    pub fn drop_next(&self, n: usize, predicate: impl FnMut(&[u8]) -> bool + Send + 'static) {
        if n > 0 {
            lock(&self.state).drop_rules.push(DropRule {
                left: n,
                matches: Box::new(predicate),
            });
        }
    }

    /// Starts writing a pcap file (LINKTYPE_ETHERNET, timestamps = virtual time) at `path`,
    /// replacing any capture in progress.
    ///
    /// Frames are recorded **as transmitted**: every frame a port flushes, once (even when it
    /// goes to several stations), at the virtual time of the flush, before any impairment — so
    /// lost frames appear, and duplicates, corruption and reordering do not. The file is flushed
    /// after each [`SimFabric::advance_to`] and when the fabric is dropped. A write error ends
    /// the capture.
    pub fn capture(&self, path: &Path) -> io::Result<()> {
        let writer = PcapWriter::create(path)?;
        let mut s = lock(&self.state);
        if let Some(mut old) = s.capture.replace(writer) {
            old.flush()?;
        }
        Ok(())
    }

    /// Writes out what the capture holds, so the file is complete up to now (frames sent since
    /// the last [`SimFabric::advance_to`] included). A write error ends the capture.
    pub fn flush_capture(&self) {
        lock(&self.state).flush_capture();
    }

    /// Ends the capture in progress, if any, flushing it.
    pub fn stop_capture(&self) -> io::Result<()> {
        match lock(&self.state).capture.take() {
            Some(mut pcap) => pcap.flush(),
            None => Ok(()),
        }
    }

    /// The fabric's counters.
    pub fn stats(&self) -> SimStats {
        lock(&self.state).stats
    }
}

/// One queue of a station on a [`SimFabric`].
pub struct SimPort {
    state: Arc<Mutex<State>>,
    station: usize,
    queue: usize,
    mac: [u8; 6],
    mtu: usize,
    /// Frames built by `tx`, waiting for `flush`.
    batch: Vec<Frame>,
    /// Free buffers of this port, traded with the fabric's pool in batches.
    cache: Vec<FrameBuf>,
    /// Frames taken off the queue, handed to the callback outside the lock.
    staging: Vec<Frame>,
    stats: PortStats,
}

impl std::fmt::Debug for SimPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPort")
            .field("mac", &self.mac)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl SimPort {
    /// This port's queue index within its station.
    pub fn queue_index(&self) -> usize {
        self.queue
    }

    fn take_buf(&mut self) -> FrameBuf {
        if let Some(buf) = self.cache.pop() {
            return buf;
        }
        {
            let mut s = lock(&self.state);
            let keep = s.pool.len().saturating_sub(BURST);
            self.cache.extend(s.pool.drain(keep..));
        }
        self.cache.pop().unwrap_or_else(new_buf)
    }
}

impl PacketIo for SimPort {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let mut total = 0;
        while total < max {
            let want = (max - total).min(BURST);
            {
                let mut s = lock(&self.state);
                // Give back surplus buffers while the lock is held anyway.
                if self.cache.len() > 2 * BURST {
                    s.pool.extend(self.cache.drain(BURST..));
                }
                let q = &mut s.stations[self.station].queues[self.queue];
                let n = want.min(q.frames.len());
                self.staging.extend(q.frames.drain(..n));
            }
            let got = self.staging.len();
            if got == 0 {
                break;
            }
            for frame in self.staging.drain(..) {
                on_frame(frame.bytes());
                self.stats.rx_frames += 1;
                self.stats.rx_bytes += frame.len as u64;
                self.cache.push(frame.buf);
            }
            total += got;
            if got < want {
                break;
            }
        }
        total
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        if len > MAX_FRAME {
            self.stats.drops += 1;
            return false;
        }
        if self.batch.len() >= BURST {
            self.flush();
        }
        let mut buf = self.take_buf();
        let n = fill(&mut buf[..len]);
        if n == 0 || n > len {
            if n != 0 {
                self.stats.drops += 1;
            }
            self.cache.push(buf);
            return false;
        }
        self.batch.push(Frame { buf, len: n });
        true
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut s = lock(&self.state);
        for frame in self.batch.drain(..) {
            self.stats.tx_frames += 1;
            self.stats.tx_bytes += frame.len as u64;
            s.send(self.station, frame);
        }
    }

    fn caps(&self) -> Caps {
        Caps::software(self.mac, self.mtu)
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        lock(&self.state).stations[self.station].queues[self.queue].notify = Some(notify);
    }

    fn stats(&self) -> PortStats {
        let drops = lock(&self.state).stations[self.station].queues[self.queue].drops;
        PortStats {
            drops: self.stats.drops + drops,
            ..self.stats
        }
    }
}

impl Drop for SimPort {
    fn drop(&mut self) {
        let mut s = lock(&self.state);
        s.pool.append(&mut self.cache);
        let station = &mut s.stations[self.station];
        station.live -= 1;
        if station.live == 0 {
            let mut freed = Vec::new();
            for q in &mut station.queues {
                freed.extend(q.frames.drain(..).map(|f| f.buf));
                q.notify = None;
            }
            s.pool.append(&mut freed);
        }
    }
}
