//! The per-core context: the mTCP API, call for call, over one [`Engine`].
//!
//! Three ways to run the packet loop:
//! * **threaded** (mTCP's model): a native thread pinned to the context's core polls the port,
//!   fires timers and transmits; it parks on a futex when idle and is woken by arriving frames
//!   or by API calls that queue work. API calls work on the engine without a lock: in the
//!   caller's thread when it is free, else run by the thread that holds it
//!   ([`Combiner`]); contexts share nothing, so cores never wait for each other.
//! * **inline** (run-to-completion): the loop runs inside API calls and `epoll_wait`.
//! * **sim**: a [`crate::sim::Network`] drives the loop in virtual time; API calls only change
//!   state, and nothing moves outside `Network::run`.
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use mtcp_io::sys::combine::Combiner;
use mtcp_proto::{Errno, Instant};

use crate::clock::Clock;
use crate::engine::Engine;
use crate::wake::Parker;

/// A descriptor: a small int local to its context (mTCP's sockid).
pub type SockId = i32;

/// Counters of one context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// Frames received by this context.
    pub rx_frames: u64,
    /// Frames sent by this context.
    pub tx_frames: u64,
    /// Bytes received (frames).
    pub rx_bytes: u64,
    /// Bytes sent (frames).
    pub tx_bytes: u64,
    /// Connections opened (active + passive).
    pub connections_opened: u64,
    /// Connections currently in the flow table.
    pub flows: u64,
    /// Sockets currently allocated from the pool.
    pub sockets_in_use: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Frames dropped (bad checksum, no route, malformed, full queues, …).
    pub drops: u64,
    /// Of the drops: received frames malformed (cut short, inconsistent lengths, bad version).
    pub rx_malformed: u64,
    /// Of the drops: received frames with a wrong IPv4, TCP or ICMP checksum.
    pub rx_bad_checksum: u64,
    /// Of the drops: received IPv4 fragments (not reassembled, as in mTCP).
    pub rx_fragments: u64,
    /// Frames that arrived on this context's queue but belonged to another context, handed
    /// over by software steering (multi-queue TAP, AF_XDP and DPDK ports; `mtcp_io::steer`).
    pub rx_steered: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Threaded,
    Inline,
    Sim,
}

/// Returns a port queue to its stack.
pub(crate) type GiveBack = Box<dyn FnOnce(mtcp_io::Port) + Send>;

pub(crate) struct ContextInner {
    pub(crate) core: usize,
    pub(crate) mode: Mode,
    /// The engine, worked on by one thread at a time without a lock (see [`Combiner`]).
    pub(crate) engine: Combiner<Engine>,
    pub(crate) clock: Clock,
    /// Wakes `epoll_wait` callers (and, inline, anyone waiting for frames).
    pub(crate) app_wake: Arc<Parker>,
    /// Wakes the loop thread.
    pub(crate) loop_wake: Arc<Parker>,
    pub(crate) stop: AtomicBool,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) num_queues: usize,
    /// The port is only polled ([`mtcp_io::Caps::polled`]): waiting loops poll for
    /// [`BUSY_POLL`] before they sleep.
    pub(crate) busy_poll: bool,
    /// Gives the port queue back to the stack when the context goes away.
    pub(crate) on_destroy: Mutex<Option<GiveBack>>,
}

/// One core's TCP engine and its API. Cheap to clone; all clones are the same context.
///
/// Every call returns `io::Result`; the error's `raw_os_error()` is the errno Linux (or mTCP,
/// where the contract says so) gives for the same misuse.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

fn err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw())
}

/// Idle loop threads sleep at most this long between timer checks.
const MAX_PARK: std::time::Duration = std::time::Duration::from_millis(100);
/// Polls without work before the loop thread parks (keeps latency low under load without
/// burning a core that a Python thread needs).
const SPIN_POLLS: u32 = 64;
/// Turns the loop thread skips in a row because an application thread is working on the
/// engine, before it queues its turn behind that thread.
const MISSED_TURNS: u32 = 16;
/// Polls an inline `epoll_wait` makes (without yielding the CPU) before it parks: about
/// 10–30 µs, the span of a round trip to a peer context that answers at once.
const INLINE_SPIN_POLLS: u32 = 64;
/// How long a loop waiting on a polled port (DPDK) keeps polling before it sleeps: long enough
/// for a reply over a link (tens of µs) to be seen at once instead of at the port's next
/// wake-up tick, short enough that an idle context gives its CPU back.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(1);

impl ContextInner {
    /// Runs `f` on the engine: in this thread when no other thread is working on it, else in
    /// the thread that is, before that one lets go ([`Combiner::with`]; no lock).
    pub(crate) fn with_engine<R: Send>(&self, f: impl FnOnce(&mut Engine) -> R + Send) -> R {
        self.engine.with(f)
    }

    /// Runs `op` on the engine, then does what the mode needs so its effects happen: wake the
    /// loop thread, or (inline) run the loop once.
    fn call<T: Send>(
        &self,
        op: impl FnOnce(&mut Engine, Instant) -> Result<T, Errno> + Send,
    ) -> io::Result<T> {
        self.with_engine(|engine| {
            let now = self.before_call(engine);
            let result = op(engine, now);
            self.after_call(engine, now);
            result
        })
        .map_err(err)
    }

    /// One look for `epoll_wait`: (inline) runs the loop once, then collects up to `maxevents`
    /// (> 0) events of `epid` into `out`; with the earliest timer deadline and the time.
    #[inline]
    fn epoll_look(
        &self,
        epid: SockId,
        maxevents: i32,
        out: &mut Vec<(SockId, u32)>,
    ) -> (Result<usize, Errno>, Option<Instant>, Instant) {
        self.with_engine(|engine| {
            let now = self.before_call(engine);
            let found = engine.core.epoll_collect(epid, maxevents as usize, out);
            engine.core.take_wakeup();
            (found, engine.core.next_deadline(), now)
        })
    }

    /// The start of every call on the engine: the time, and (inline) the loop run once, to
    /// take in what arrived and fire what is due before the call acts on it.
    #[inline(always)]
    fn before_call(&self, engine: &mut Engine) -> Instant {
        let now = self.clock.now();
        if self.mode == Mode::Inline {
            engine.poll(now);
        }
        now
    }

    /// [`ContextInner::call`] on descriptor `s`: once the call is done, `s` is touched
    /// ([`crate::engine::Core::touch`]), whatever the call changed about it (data, a pending
    /// error, a queue, its kind), so epoll looks at it again and its cached readiness goes.
    /// Every call on a descriptor comes here: none has to know which of its effects epoll
    /// can see.
    fn call_on<T: Send>(
        &self,
        s: SockId,
        op: impl FnOnce(&mut Engine, Instant) -> Result<T, Errno> + Send,
    ) -> io::Result<T> {
        self.call(move |engine, now| {
            let result = op(engine, now);
            engine.core.touch(s, false);
            result
        })
    }

    #[inline]
    fn after_call(&self, engine: &mut Engine, now: Instant) {
        if self.mode != Mode::Sim && engine.core.has_work() {
            // Inline: run to completion, send what the call queued. Threaded: send in the
            // caller's thread, which holds the engine anyway (as Linux's send() runs TCP
            // output in the process): handing the work to the loop thread costs a wake-up
            // and a lock hand-off per call.
            engine.poll(now);
            if self.mode == Mode::Threaded && engine.core.has_work() {
                self.loop_wake.notify();
            }
        } else {
            // A call that queued nothing (most reads, getsockopt, …) only needs its readiness
            // changes, now, so a thread waiting in epoll_wait is woken at once; the poll before
            // the next call (or the loop thread) takes in new frames and fires due timers.
            engine.core.update_events();
        }
        if engine.core.take_wakeup() {
            self.app_wake.notify();
        }
    }

    /// The loop thread's body.
    pub(crate) fn run_loop(weak: Weak<ContextInner>, loop_wake: Arc<Parker>) {
        let mut idle_polls = 0u32;
        let mut missed_turns = 0u32;
        let mut idle_since = std::time::Instant::now();
        loop {
            let Some(ctx) = weak.upgrade() else { return };
            if ctx.stop.load(Ordering::Acquire) {
                return;
            }
            let turn = |engine: &mut Engine| {
                let now = ctx.clock.now();
                let busy = engine.poll(now);
                if engine.core.take_wakeup() {
                    ctx.app_wake.notify();
                }
                (
                    busy || engine.core.has_work(),
                    engine.core.next_deadline(),
                    now,
                )
            };
            // An application thread working on the engine sends what its call queued itself;
            // queueing the loop's turn behind it would keep that thread from returning to the
            // application (it serves queued turns before it lets go), so come back instead,
            // and queue only after a while, so frames keep being taken in.
            let (busy, deadline, now) = match ctx.engine.try_with(turn) {
                Some(outcome) => {
                    missed_turns = 0;
                    outcome
                }
                None if missed_turns < MISSED_TURNS => {
                    missed_turns += 1;
                    drop(ctx);
                    std::thread::yield_now();
                    continue;
                }
                None => {
                    missed_turns = 0;
                    ctx.with_engine(turn)
                }
            };
            let busy_poll = ctx.busy_poll;
            drop(ctx);
            if busy {
                idle_polls = 0;
                continue;
            }
            idle_polls += 1;
            if idle_polls == 1 {
                idle_since = std::time::Instant::now();
            }
            let polling = busy_poll && idle_since.elapsed() < BUSY_POLL;
            if idle_polls < SPIN_POLLS || polling {
                std::thread::yield_now();
                continue;
            }
            let wait = deadline.map_or(MAX_PARK, |d| {
                std::time::Duration::from_micros((d - now).total_micros()).min(MAX_PARK)
            });
            if !wait.is_zero() {
                loop_wake.wait(wait);
            }
            idle_polls = SPIN_POLLS / 2;
        }
    }

    pub(crate) fn shutdown(&self) {
        if self.stop.swap(true, Ordering::AcqRel) {
            return;
        }
        self.loop_wake.notify();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
        let io = self.with_engine(|engine| {
            let now = self.clock.now();
            engine.core.destroy(now);
            if self.mode != Mode::Sim {
                // Send the resets now: no loop will run again.
                engine.poll(now);
            }
            std::mem::replace(
                &mut engine.io,
                mtcp_io::Port::Boxed(Box::new(crate::stack::NullIo)),
            )
        });
        if let Some(give_back) = self
            .on_destroy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            give_back(io);
        }
        self.app_wake.notify();
    }
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.loop_wake.notify();
    }
}

impl Context {
    /// The core this context runs on.
    pub fn core(&self) -> usize {
        self.inner.core
    }

    /// `mtcp_socket`: EAFNOSUPPORT unless `domain` is AF_INET, EINVAL unless `ty` is
    /// SOCK_STREAM and `protocol` is 0, ENFILE when the pool (`max_concurrency`) is empty.
    pub fn socket(&self, domain: i32, ty: i32, protocol: i32) -> io::Result<SockId> {
        self.inner.call(|e, _| e.core.socket(domain, ty, protocol))
    }

    /// `mtcp_bind`: the host's address or 0.0.0.0; port 0 picks a free port.
    pub fn bind(&self, sockid: SockId, addr: SocketAddrV4) -> io::Result<()> {
        self.inner.call_on(sockid, |e, _| e.core.bind(sockid, addr))
    }

    /// `mtcp_listen`: EINVAL for a backlog ≤ 0 (as mTCP); larger than the pool is clamped.
    pub fn listen(&self, sockid: SockId, backlog: i32) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, _| e.core.listen(sockid, backlog))
    }

    /// `mtcp_accept`: the new descriptor and the peer's address; EAGAIN when none is queued.
    pub fn accept(&self, sockid: SockId) -> io::Result<(SockId, SocketAddrV4)> {
        self.inner.call_on(sockid, |e, _| e.core.accept(sockid))
    }

    /// `mtcp_connect`, non-blocking: `Err` with EINPROGRESS when the SYN is on its way;
    /// completion shows as EPOLLOUT (or EPOLLERR with `SO_ERROR`).
    pub fn connect(&self, sockid: SockId, addr: SocketAddrV4) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, now| e.core.connect(sockid, addr, now))
    }

    /// `mtcp_read`: `Ok(0)` at end of stream; EAGAIN when nothing is buffered.
    pub fn read(&self, sockid: SockId, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(sockid, buf, 0)
    }

    /// `mtcp_recv` with `flags` 0 or `MSG_PEEK`.
    pub fn recv(&self, sockid: SockId, buf: &mut [u8], flags: i32) -> io::Result<usize> {
        self.inner
            .call_on(sockid, |e, _| e.core.recv(sockid, buf, flags))
    }

    /// `mtcp_readv`: fills the buffers in order.
    pub fn readv(&self, sockid: SockId, bufs: &mut [&mut [u8]]) -> io::Result<usize> {
        self.inner
            .call_on(sockid, |e, _| e.core.readv(sockid, bufs))
    }

    /// `mtcp_write`: bytes accepted, possibly fewer than given; EAGAIN when the send buffer is
    /// full.
    pub fn write(&self, sockid: SockId, data: &[u8]) -> io::Result<usize> {
        self.inner.call_on(sockid, |e, _| e.core.send(sockid, data))
    }

    /// `mtcp_writev`.
    pub fn writev(&self, sockid: SockId, bufs: &[&[u8]]) -> io::Result<usize> {
        self.inner
            .call_on(sockid, |e, _| e.core.writev(sockid, bufs))
    }

    /// `shutdown` with `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR` (mTCP has none; this is Linux's).
    pub fn shutdown(&self, sockid: SockId, how: i32) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, now| e.core.shutdown(sockid, how, now))
    }

    /// `mtcp_close`: FIN after queued data (RST if unread data remains, or with linger 0); the
    /// descriptor returns to the pool at once.
    pub fn close(&self, sockid: SockId) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, now| e.core.close(sockid, now))
    }

    /// `mtcp_abort`: RST and release.
    pub fn abort(&self, sockid: SockId) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, now| e.core.abort(sockid, now))
    }

    /// `mtcp_getsockopt` for integer options (`SO_ERROR` reads and clears the pending error;
    /// `SO_LINGER` gives l_onoff, 0 or 1, as an int read does on Linux).
    pub fn getsockopt(&self, sockid: SockId, level: i32, optname: i32) -> io::Result<i32> {
        self.inner
            .call_on(sockid, |e, _| e.core.getsockopt(sockid, level, optname))
    }

    /// `mtcp_setsockopt` for integer options (`SO_LINGER`: seconds, negative turns it off).
    pub fn setsockopt(
        &self,
        sockid: SockId,
        level: i32,
        optname: i32,
        value: i32,
    ) -> io::Result<()> {
        self.inner.call_on(sockid, |e, _| {
            e.core.setsockopt(sockid, level, optname, value)
        })
    }

    /// `mtcp_getsockname`.
    pub fn getsockname(&self, sockid: SockId) -> io::Result<SocketAddrV4> {
        self.inner
            .call_on(sockid, |e, _| e.core.getsockname(sockid))
    }

    /// `mtcp_getpeername`: ENOTCONN unless connected.
    pub fn getpeername(&self, sockid: SockId) -> io::Result<SocketAddrV4> {
        self.inner
            .call_on(sockid, |e, _| e.core.getpeername(sockid))
    }

    /// `mtcp_socket_ioctl`: `FIONREAD` (bytes readable) and `FIONBIO` (accepted, no effect).
    pub fn socket_ioctl(&self, sockid: SockId, request: i32) -> io::Result<i32> {
        self.inner
            .call_on(sockid, |e, _| e.core.ioctl(sockid, request))
    }

    /// `mtcp_setsock_nonblock`: sockets are always non-blocking; checks the descriptor.
    pub fn setsock_nonblock(&self, sockid: SockId) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, _| e.core.setsock_nonblock(sockid))
    }

    /// `mtcp_epoll_create`: EINVAL for `size` ≤ 0. Several instances per context are allowed.
    pub fn epoll_create(&self, size: i32) -> io::Result<SockId> {
        self.inner.call(|e, _| e.core.epoll_create(size))
    }

    /// `mtcp_epoll_ctl` with `MTCP_EPOLL_CTL_ADD/MOD/DEL`. A descriptor belongs to at most one
    /// epoll instance at a time.
    pub fn epoll_ctl(&self, epid: SockId, op: i32, sockid: SockId, events: u32) -> io::Result<()> {
        self.inner
            .call_on(sockid, |e, _| e.core.epoll_ctl(epid, op, sockid, events))
    }

    /// `mtcp_epoll_wait`: waits up to `timeout_ms` (-1: forever, 0: poll) and appends
    /// `(sockid, events)` pairs to `out`; returns how many. In a simulated network it never
    /// waits (time moves only in `Network::run`).
    pub fn epoll_wait(
        &self,
        epid: SockId,
        out: &mut Vec<(SockId, u32)>,
        maxevents: i32,
        timeout_ms: i32,
    ) -> io::Result<usize> {
        self.epoll_wait_until(epid, out, maxevents, timeout_ms, &mut || false)
    }

    /// `epoll_wait` that also returns (with 0 events) when `interrupted()` says so; the Python
    /// layer checks for signals there.
    pub fn epoll_wait_until(
        &self,
        epid: SockId,
        out: &mut Vec<(SockId, u32)>,
        maxevents: i32,
        timeout_ms: i32,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> io::Result<usize> {
        if maxevents <= 0 {
            // Still report a bad epid first, as Linux checks the descriptor first.
            self.inner.call(|e, _| e.core.epoll_collect(epid, 0, out))?;
            return Err(err(Errno::EINVAL));
        }
        // The usual call finds events at its first look: that look goes without the waiting
        // loop's set-up. Before looking: a notification after this point ends a wait at once.
        let epoch = self.inner.app_wake.epoch();
        let (found, deadline, now) = self.inner.epoll_look(epid, maxevents, out);
        let found = found.map_err(err)?;
        if found > 0 || self.inner.mode == Mode::Sim || self.inner.stop.load(Ordering::Acquire) {
            return Ok(found);
        }
        self.epoll_wait_more(
            epid,
            out,
            maxevents,
            timeout_ms,
            interrupted,
            (epoch, deadline, now),
        )
    }

    /// `epoll_wait_until` after a first look found nothing: waits and looks again until events,
    /// the timeout or an interruption. `last` is the first look's (epoch, deadline, now).
    #[inline(never)]
    fn epoll_wait_more(
        &self,
        epid: SockId,
        out: &mut Vec<(SockId, u32)>,
        maxevents: i32,
        timeout_ms: i32,
        interrupted: &mut dyn FnMut() -> bool,
        last: (u32, Option<Instant>, Instant),
    ) -> io::Result<usize> {
        let inner = &*self.inner;
        let (mut epoch, mut deadline, mut now) = last;
        // Read the wall clock only once a wait is needed (most inline calls find events).
        let start = std::time::Instant::now();
        let limit = (timeout_ms >= 0).then(|| std::time::Duration::from_millis(timeout_ms as u64));
        // Inline mode polls a few times (yielding) before it parks, as the loop thread does:
        // the peer's next frame is usually microseconds away, and a futex sleep and wake-up
        // cost more than that.
        let mut spins = 0u32;
        loop {
            let elapsed = start.elapsed();
            let remaining = match limit {
                Some(l) if elapsed >= l => return Ok(0),
                Some(l) => l - elapsed,
                None => MAX_PARK,
            };
            if inner.mode == Mode::Inline && spins < INLINE_SPIN_POLLS {
                spins += 1;
                std::hint::spin_loop();
            } else if inner.mode == Mode::Inline && inner.busy_poll && elapsed < BUSY_POLL {
                // A polled port wakes nobody when a frame arrives: keep polling a while.
                std::thread::yield_now();
            } else {
                let mut wait = remaining.min(std::time::Duration::from_millis(50));
                if inner.mode == Mode::Inline {
                    if let Some(d) = deadline {
                        wait = wait.min(std::time::Duration::from_micros((d - now).total_micros()));
                    }
                }
                inner.app_wake.wait_since(epoch, wait);
                if interrupted() {
                    return Err(err(Errno::EINTR));
                }
            }
            epoch = inner.app_wake.epoch();
            let found;
            (found, deadline, now) = inner.epoll_look(epid, maxevents, out);
            let found = found.map_err(err)?;
            if found > 0 || inner.stop.load(Ordering::Acquire) {
                return Ok(found);
            }
        }
    }

    /// `mtcp_init_rss`: connections from this context then use source ports whose replies hash
    /// back to it. `saddr` must be the host's address or 0.0.0.0.
    pub fn init_rss(
        &self,
        saddr: Ipv4Addr,
        num_addrs: i32,
        daddr: Ipv4Addr,
        dport: u16,
    ) -> io::Result<()> {
        let _ = (daddr, dport); // the hash covers every destination; kept for mTCP's signature
        let queues = self.inner.num_queues;
        self.inner
            .call(|e, _| e.core.init_rss(saddr, num_addrs, queues))
    }

    /// `mtcp_pipe`: a connected (read end, write end) pair usable with epoll.
    pub fn pipe(&self) -> io::Result<(SockId, SockId)> {
        self.inner.call(|e, _| e.core.pipe())
    }

    /// Counters.
    pub fn stats(&self) -> ContextStats {
        self.inner.with_engine(|engine| {
            let mut s = engine.core.stats;
            s.flows = engine.core.flows.len() as u64;
            s.sockets_in_use = engine.core.sockets.in_use() as u64;
            // The port's own drops (full queues, oversized frames) count too.
            let port = mtcp_io::PacketIo::stats(&engine.io);
            s.drops += port.drops;
            s.rx_steered = port.steered;
            s
        })
    }

    /// `mtcp_destroy_context`: stops the loop and aborts every connection. Later calls fail
    /// with EPERM, as in mTCP.
    pub fn destroy(&self) {
        self.inner.shutdown();
    }

    /// Whether the context was destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.inner.stop.load(Ordering::Acquire)
    }

    /// Runs the loop once now (inline and threaded modes; a no-op in a simulated network).
    pub fn poll(&self) {
        if self.inner.mode == Mode::Sim {
            return;
        }
        let inner = &*self.inner;
        inner.with_engine(|engine| {
            engine.poll(inner.clock.now());
            if engine.core.take_wakeup() {
                inner.app_wake.notify();
            }
        });
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("core", &self.inner.core)
            .field("mode", &self.inner.mode)
            .finish()
    }
}
