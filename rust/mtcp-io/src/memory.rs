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
//! different stations may be used from different threads at once. Each receive queue is a
//! bounded ring behind its own `Mutex`; a sender takes the lock of each destination queue once
//! per burst ([`PacketIo::flush`]), a receiver once per burst of [`PacketIo::rx_burst`], so
//! contention is per burst, never per frame. Callbacks ([`Notify`] and `on_frame`) run with no
//! lock held, so they may send.
//!
//! # Buffers
//!
//! Frames are built in place in [`MAX_FRAME`]-byte buffers; a unicast frame's buffer moves from
//! the sender to the receiver's ring (no copy), and comes back to a free list once the
//! receiver's callback has run. Each queue keeps a small cache of free buffers and trades them
//! with the hub's pool in batches. Nothing is allocated per frame once warmed up.
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::frame::{dst_mac, is_group, new_buf, Frame, FrameBuf, ETH_HEADER};
use crate::rss::{self, Steer};
use crate::{Caps, Notify, PacketIo, PortStats, BURST, MAX_FRAME};

/// Frames one receive queue holds; a frame arriving at a full queue is dropped and counted in
/// the receiving queue's [`PortStats::drops`].
pub const RX_QUEUE_FRAMES: usize = 4096;

/// Free buffers a queue keeps for itself before handing the surplus back to the hub.
const CACHE_HIGH: usize = 4 * BURST;
/// What a queue keeps after handing its surplus back.
const CACHE_LOW: usize = 2 * BURST;

/// Hubs by port name. Weak, so a hub goes away with its last station.
fn registry() -> &'static Mutex<HashMap<String, Weak<Hub>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Hub>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves its data consistent
/// (pushes and pops of whole frames), so a panic elsewhere must not wedge the link.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Attaches one station — one stack — with `num_queues` queues (one per context) to the hub
/// named `name`, creating the hub if it doesn't exist.
///
/// `mtu` is the IP MTU: frames longer than `mtu + 14` bytes are dropped, when sent and when
/// received. The station detaches when its last queue is dropped, and the hub disappears with
/// its last station.
///
/// Errors: `EADDRINUSE` when a station with this MAC is attached to the hub; `EINVAL` when
/// `num_queues` is 0 or `mtu + 14` exceeds [`MAX_FRAME`] (or `mtu` is 0).
pub fn attach(
    name: &str,
    mac: [u8; 6],
    num_queues: usize,
    mtu: usize,
) -> io::Result<Vec<MemoryQueue>> {
    if num_queues == 0 || mtu == 0 || mtu > MAX_FRAME - ETH_HEADER {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut hubs = lock(registry());
    let hub = match hubs.get(name).and_then(Weak::upgrade) {
        Some(hub) => hub,
        None => {
            let hub = Arc::new(Hub {
                name: name.to_owned(),
                stations: Mutex::new(Arc::new(Vec::new())),
                generation: AtomicU64::new(0),
                pool: Mutex::new(Vec::new()),
            });
            hubs.insert(name.to_owned(), Arc::downgrade(&hub));
            hub
        }
    };
    let station = Arc::new(Station {
        mac,
        mtu,
        queues: (0..num_queues)
            .map(|_| RxQueue {
                ring: Mutex::new(RxRing {
                    frames: VecDeque::with_capacity(RX_QUEUE_FRAMES),
                    notify: None,
                    drops: 0,
                }),
                pending: AtomicUsize::new(0),
            })
            .collect(),
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
    Ok((0..num_queues)
        .map(|index| MemoryQueue::new(&hub, &station, index))
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
    /// Free buffers, traded with the queues' caches in batches.
    pool: Mutex<Vec<FrameBuf>>,
}

/// One attached stack.
struct Station {
    mac: [u8; 6],
    mtu: usize,
    queues: Box<[RxQueue]>,
    /// Queues not yet dropped; the station detaches when it reaches 0.
    live: AtomicUsize,
}

impl Station {
    fn max_frame(&self) -> usize {
        self.mtu + ETH_HEADER
    }
}

/// The receive side of one queue.
struct RxQueue {
    ring: Mutex<RxRing>,
    /// Frames in `ring`, written under its lock: a receiver with nothing waiting returns without
    /// taking the lock (a poll finds an empty queue far more often than not). A frame pushed
    /// just after the check is seen by the next poll, and its sender notifies after pushing.
    pending: AtomicUsize,
}

struct RxRing {
    frames: VecDeque<Frame>,
    notify: Option<Arc<dyn Notify>>,
    /// Frames dropped because the ring was full.
    drops: u64,
}

/// One frame of a flushed burst bound for one receive queue.
#[derive(Clone, Copy)]
struct Delivery {
    station: u32,
    queue: u32,
    frame: u32,
}

/// One queue of a station on an in-memory hub. See the [module docs](self).
pub struct MemoryQueue {
    hub: Arc<Hub>,
    station: Arc<Station>,
    index: usize,
    /// Snapshot of the hub's stations and the generation it was taken at.
    stations: Arc<Vec<Arc<Station>>>,
    generation: u64,
    /// Frames built by `tx`, waiting for `flush` (a slot is `None` once its buffer moved).
    batch: Vec<Option<Frame>>,
    /// Free buffers of this queue.
    cache: Vec<FrameBuf>,
    /// Frames taken off the ring, handed to the callback outside the lock.
    staging: Vec<Frame>,
    /// Scratch of `flush`: where each frame goes, and how many deliveries each frame has left.
    deliveries: Vec<Delivery>,
    remaining: Vec<u32>,
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
    fn new(hub: &Arc<Hub>, station: &Arc<Station>, index: usize) -> MemoryQueue {
        MemoryQueue {
            hub: Arc::clone(hub),
            station: Arc::clone(station),
            index,
            stations: Arc::new(Vec::new()),
            generation: u64::MAX,
            batch: Vec::with_capacity(BURST),
            cache: Vec::with_capacity(CACHE_HIGH + 2 * BURST),
            staging: Vec::with_capacity(BURST),
            deliveries: Vec::with_capacity(2 * BURST),
            remaining: Vec::with_capacity(BURST),
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

    fn take_buf(&mut self) -> FrameBuf {
        if let Some(buf) = self.cache.pop() {
            return buf;
        }
        {
            let mut pool = lock(&self.hub.pool);
            let keep = pool.len().saturating_sub(BURST);
            self.cache.extend(pool.drain(keep..));
        }
        self.cache.pop().unwrap_or_else(new_buf)
    }

    /// Hands the surplus of the cache back to the hub, in one batch.
    fn trim_cache(&mut self) {
        if self.cache.len() > CACHE_HIGH {
            let mut pool = lock(&self.hub.pool);
            pool.extend(self.cache.drain(CACHE_LOW..));
        }
    }

    fn refresh_stations(&mut self) {
        let generation = self.hub.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.stations = Arc::clone(&lock(&self.hub.stations));
            self.generation = generation;
        }
    }

    /// The one (station, queue) every batched frame goes to, when there is one: each frame
    /// unicast to the same attached station and steered to the same queue, none too long.
    /// The usual burst (one connection's segments) takes this path; anything else is routed
    /// frame by frame.
    fn single_target(&self) -> Option<(usize, usize)> {
        let mut target = None;
        for frame in self.batch.iter() {
            let frame = frame.as_ref()?;
            let bytes = frame.bytes();
            let dst = dst_mac(bytes);
            if is_group(dst) {
                return None;
            }
            let s = self.stations.iter().position(|st| st.mac == dst)?;
            let station = &self.stations[s];
            if Arc::ptr_eq(station, &self.station) || frame.len > station.max_frame() {
                return None;
            }
            let Steer::Queue(q) = rss::steer_frame(bytes, station.queues.len()) else {
                return None;
            };
            match target {
                None => target = Some((s, q)),
                Some(t) if t == (s, q) => {}
                Some(_) => return None,
            }
        }
        target
    }

    /// Moves the whole batch into one receive queue under one lock (no copies).
    fn deliver_batch(&mut self, station: usize, queue: usize) {
        let stations = Arc::clone(&self.stations);
        let rx = &stations[station].queues[queue];
        let notify = {
            let mut ring = lock(&rx.ring);
            let mut added = 0;
            for frame in self.batch.drain(..).flatten() {
                if ring.frames.len() < RX_QUEUE_FRAMES {
                    ring.frames.push_back(frame);
                    added += 1;
                } else {
                    ring.drops += 1;
                    self.cache.push(frame.buf);
                }
            }
            rx.pending.store(ring.frames.len(), Ordering::Release);
            if added > 0 {
                ring.notify.clone()
            } else {
                None
            }
        };
        if let Some(notify) = notify {
            notify.notify();
        }
    }

    /// Works out every (station, queue) each batched frame goes to.
    fn route_batch(&mut self) {
        self.deliveries.clear();
        self.remaining.clear();
        for (i, slot) in self.batch.iter().enumerate() {
            let Some(frame) = slot else {
                self.remaining.push(0);
                continue;
            };
            let bytes = frame.bytes();
            let dst = dst_mac(bytes);
            let before = self.deliveries.len();
            for (s, station) in self.stations.iter().enumerate() {
                let wanted = if is_group(dst) {
                    true
                } else {
                    station.mac == dst
                };
                if !wanted || Arc::ptr_eq(station, &self.station) {
                    continue;
                }
                if frame.len > station.max_frame() {
                    self.stats.drops += 1;
                    continue;
                }
                let mut push = |queue: usize| {
                    self.deliveries.push(Delivery {
                        station: s as u32,
                        queue: queue as u32,
                        frame: i as u32,
                    })
                };
                match rss::steer_frame(bytes, station.queues.len()) {
                    Steer::Queue(q) => push(q),
                    Steer::All => (0..station.queues.len()).for_each(push),
                }
            }
            self.remaining.push((self.deliveries.len() - before) as u32);
        }
        // Group by destination queue (one lock each); frame order is kept within a queue. A
        // burst to a single queue (the usual case) is already in order.
        let key = |d: &Delivery| (d.station, d.queue, d.frame);
        if !self.deliveries.is_sorted_by_key(key) {
            self.deliveries.sort_unstable_by_key(key);
        }
    }

    /// The buffer for one delivery of batch frame `i`: the frame's own buffer for its last
    /// delivery, a copy before that.
    fn buffer_for(&mut self, i: usize) -> Option<Frame> {
        let left = &mut self.remaining[i];
        *left -= 1;
        if *left == 0 {
            return self.batch[i].take();
        }
        let len = self.batch[i].as_ref()?.len;
        let mut buf = self.take_buf();
        let src = self.batch[i].as_ref()?;
        buf[..len].copy_from_slice(src.bytes());
        Some(Frame { buf, len })
    }
}

impl PacketIo for MemoryQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let queue = &self.station.queues[self.index];
        if queue.pending.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let mut total = 0;
        while total < max {
            let want = (max - total).min(BURST);
            {
                let mut ring = lock(&queue.ring);
                let n = want.min(ring.frames.len());
                // pop_front per frame: cheaper than a VecDeque drain for the 1–2 frames a
                // typical poll finds.
                for _ in 0..n {
                    if let Some(frame) = ring.frames.pop_front() {
                        self.staging.push(frame);
                    }
                }
                queue.pending.store(ring.frames.len(), Ordering::Release);
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
        self.trim_cache();
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
        if n == 0 || n > len || n > self.station.max_frame() {
            if n != 0 {
                self.stats.drops += 1;
            }
            self.cache.push(buf);
            return false;
        }
        self.batch.push(Some(Frame { buf, len: n }));
        true
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        for frame in self.batch.iter().flatten() {
            self.stats.tx_frames += 1;
            self.stats.tx_bytes += frame.len as u64;
        }
        self.refresh_stations();
        if let Some((station, queue)) = self.single_target() {
            self.deliver_batch(station, queue);
            self.trim_cache();
            return;
        }
        self.route_batch();
        let stations = Arc::clone(&self.stations);
        let mut next = 0;
        while next < self.deliveries.len() {
            let Delivery { station, queue, .. } = self.deliveries[next];
            let end = self.deliveries[next..]
                .iter()
                .position(|d| d.station != station || d.queue != queue)
                .map_or(self.deliveries.len(), |p| next + p);
            // Buffers (moved or copied) first, so the lock covers only the ring pushes.
            self.staging.clear();
            for k in next..end {
                let frame = self.deliveries[k].frame as usize;
                if let Some(f) = self.buffer_for(frame) {
                    self.staging.push(f);
                }
            }
            let rx = &stations[station as usize].queues[queue as usize];
            let (added, notify) = {
                let mut ring = lock(&rx.ring);
                let mut added = 0;
                for frame in self.staging.drain(..) {
                    if ring.frames.len() < RX_QUEUE_FRAMES {
                        ring.frames.push_back(frame);
                        added += 1;
                    } else {
                        ring.drops += 1;
                        self.cache.push(frame.buf);
                    }
                }
                rx.pending.store(ring.frames.len(), Ordering::Release);
                let notify = if added > 0 { ring.notify.clone() } else { None };
                (added, notify)
            };
            if added > 0 {
                if let Some(notify) = notify {
                    notify.notify();
                }
            }
            next = end;
        }
        // Frames nobody took (unknown destination, or only too-small MTUs on the way).
        for frame in self.batch.drain(..).flatten() {
            self.cache.push(frame.buf);
        }
        self.trim_cache();
    }

    fn caps(&self) -> Caps {
        Caps::software(self.station.mac, self.station.mtu)
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        lock(&self.station.queues[self.index].ring).notify = Some(notify);
    }

    fn has_pending(&self) -> bool {
        self.station.queues[self.index]
            .pending
            .load(Ordering::Acquire)
            != 0
    }

    fn stats(&self) -> PortStats {
        let ring_drops = lock(&self.station.queues[self.index].ring).drops;
        PortStats {
            drops: self.stats.drops + ring_drops,
            ..self.stats
        }
    }
}

impl Drop for MemoryQueue {
    fn drop(&mut self) {
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
