//! Native benchmarks of issue 4: the same workloads on mtcp (in-memory hub) and on the Linux
//! kernel's TCP (loopback), written once against a small socket trait so both sides run the
//! same code.
//!
//! ```text
//! bench_native plan [--quick]                 # the suite, one argument line per run (JSON)
//! bench_native suite [--quick]                # runs the plan (one child process per run), table + JSON
//! bench_native run --stack mtcp|kernel --mode threaded|inline|single
//!              --workload short|rpc|bulk|scale [--conns N] [--secs S] [--count N]
//!              [--bytes B] [--buf B] [--no-latency] [--mtu M]    # one run, one JSON line
//! bench_native scaling --workload short|rpc [--conns N] [--secs S] [--repeat R]
//!              # issue 7: 1 and 2 context pairs, threaded and pair-per-core, and 1 and 2
//!              # pinned kernel pairs (kernel-pair-per-core); scaling factor of each
//! ```
//!
//! Workloads: **short** (connect, 64 B request, 64 B response, the client closes with FIN, the
//! server closes on EOF; `--conns` in flight), **rpc** (64 B ping-pong, one request in flight per
//! connection), **bulk** (one connection streams `--bytes`), **scale** (rpc over `--conns`
//! established connections, plus memory per connection). Modes: **threaded** (mtcp: each
//! context's loop thread pinned, one application thread per side; kernel: two threads),
//! **inline** (mtcp run-to-completion, one thread per side), **single** (one thread drives both
//! sides; the per-core figure, and the mode for callgrind). `--mtu` sets the in-memory link's
//! IP MTU for mtcp (68–9000, default 1500; 9000 for jumbo frames); the kernel's loopback keeps
//! its own (65,536 bytes here), which the record reports.
use std::io::{self, ErrorKind};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IN: u32 = 0x001;
const OUT: u32 = 0x004;
const ERR: u32 = 0x008;
const HUP: u32 = 0x010;
const MSG: usize = 64;
const SERVER_PORT: u16 = 7000;

/// The socket calls a workload needs, in mTCP's shape (non-blocking, epoll-driven).
trait Net: Clone + Send + 'static {
    fn listener(&self, port: u16, backlog: i32) -> io::Result<i32>;
    /// A non-blocking connect with TCP_NODELAY; completion shows as OUT.
    fn connect(&self, to: SocketAddrV4) -> io::Result<i32>;
    fn accept(&self, l: i32) -> io::Result<i32>;
    fn read(&self, fd: i32, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&self, fd: i32, buf: &[u8]) -> io::Result<usize>;
    fn close(&self, fd: i32);
    fn epoll(&self) -> io::Result<i32>;
    fn ctl(&self, ep: i32, add: bool, fd: i32, events: u32) -> io::Result<()>;
    fn wait(&self, ep: i32, out: &mut Vec<(i32, u32)>, timeout_ms: i32) -> io::Result<usize>;
    /// Frames this side has sent and received so far (mtcp only; 0 for the kernel).
    fn frames(&self) -> u64 {
        0
    }
}

// ------------------------------------------------------------------------------ mtcp side

#[derive(Clone)]
struct Mtcp(mtcp::Context);

impl Net for Mtcp {
    fn frames(&self) -> u64 {
        let s = self.0.stats();
        s.tx_frames + s.rx_frames
    }
    fn listener(&self, port: u16, backlog: i32) -> io::Result<i32> {
        use mtcp::consts::*;
        let s = self.0.socket(AF_INET, SOCK_STREAM, 0)?;
        self.0.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1)?;
        self.0
            .bind(s, SocketAddrV4::new([0, 0, 0, 0].into(), port))?;
        self.0.listen(s, backlog)?;
        Ok(s)
    }
    fn connect(&self, to: SocketAddrV4) -> io::Result<i32> {
        use mtcp::consts::*;
        let s = self.0.socket(AF_INET, SOCK_STREAM, 0)?;
        self.0.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1)?;
        match self.0.connect(s, to) {
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(s),
            Ok(()) => Ok(s),
            Err(e) => {
                let _ = self.0.close(s);
                Err(e)
            }
        }
    }
    fn accept(&self, l: i32) -> io::Result<i32> {
        self.0.accept(l).map(|(s, _)| s)
    }
    fn read(&self, fd: i32, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(fd, buf)
    }
    fn write(&self, fd: i32, buf: &[u8]) -> io::Result<usize> {
        self.0.write(fd, buf)
    }
    fn close(&self, fd: i32) {
        let _ = self.0.close(fd);
    }
    fn epoll(&self) -> io::Result<i32> {
        self.0.epoll_create(1024)
    }
    fn ctl(&self, ep: i32, add: bool, fd: i32, events: u32) -> io::Result<()> {
        use mtcp::consts::*;
        let op = if add {
            MTCP_EPOLL_CTL_ADD
        } else {
            MTCP_EPOLL_CTL_MOD
        };
        self.0.epoll_ctl(ep, op, fd, events)
    }
    fn wait(&self, ep: i32, out: &mut Vec<(i32, u32)>, timeout_ms: i32) -> io::Result<usize> {
        out.clear();
        self.0.epoll_wait(ep, out, 1024, timeout_ms)
    }
}

// ---------------------------------------------------------------------------- kernel side

/// The kernel's TCP through libc: the same calls an epoll server written in C makes.
#[derive(Clone)]
struct Kernel;

fn cvt(r: libc::c_int) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

impl Kernel {
    fn set_int(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
        // SAFETY: `value` outlives the call and the length passed is its size.
        cvt(unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        })
        .map(drop)
    }
    fn stream() -> io::Result<i32> {
        // SAFETY: plain syscall, no pointers.
        cvt(unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })
    }
}

impl Net for Kernel {
    fn listener(&self, port: u16, backlog: i32) -> io::Result<i32> {
        let s = Self::stream()?;
        Self::set_int(s, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        Self::set_int(s, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
        let sa = sockaddr(SocketAddrV4::new([127, 0, 0, 1].into(), port));
        // SAFETY: `sa` is a valid sockaddr_in for the duration of the call.
        cvt(unsafe {
            libc::bind(
                s,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        })?;
        // SAFETY: plain syscall.
        cvt(unsafe { libc::listen(s, backlog) })?;
        Ok(s)
    }
    fn connect(&self, to: SocketAddrV4) -> io::Result<i32> {
        let s = Self::stream()?;
        Self::set_int(s, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
        let sa = sockaddr(to);
        // SAFETY: `sa` is a valid sockaddr_in for the duration of the call.
        let r = unsafe {
            libc::connect(
                s,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                self.close(s);
                return Err(e);
            }
        }
        Ok(s)
    }
    fn accept(&self, l: i32) -> io::Result<i32> {
        // SAFETY: null address pointers are allowed by accept4.
        cvt(unsafe {
            libc::accept4(
                l,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        })
    }
    fn read(&self, fd: i32, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn write(&self, fd: i32, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn close(&self, fd: i32) {
        // SAFETY: the workload owns `fd` and never uses it again.
        unsafe { libc::close(fd) };
    }
    fn epoll(&self) -> io::Result<i32> {
        // SAFETY: plain syscall.
        cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
    }
    fn ctl(&self, ep: i32, add: bool, fd: i32, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        let op = if add {
            libc::EPOLL_CTL_ADD
        } else {
            libc::EPOLL_CTL_MOD
        };
        // SAFETY: `ev` is valid for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }).map(drop)
    }
    fn wait(&self, ep: i32, out: &mut Vec<(i32, u32)>, timeout_ms: i32) -> io::Result<usize> {
        const MAX: usize = 1024;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX];
        // SAFETY: `evs` holds MAX entries.
        let n = cvt(unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), MAX as i32, timeout_ms) })
            .or_else(|e| {
                if e.kind() == ErrorKind::Interrupted {
                    Ok(0)
                } else {
                    Err(e)
                }
            })? as usize;
        out.clear();
        out.extend(evs[..n].iter().map(|e| (e.u64 as i32, e.events)));
        Ok(n)
    }
}

// ------------------------------------------------------------------------------- workloads

/// An echo server (or, for bulk, a sink): accepts, echoes what it reads, closes on EOF.
struct Server<N: Net> {
    net: N,
    ep: i32,
    listeners: Vec<i32>,
    echo: bool,
    bytes: Arc<AtomicU64>,
    events: Vec<(i32, u32)>,
    buf: Vec<u8>,
}

impl<N: Net> Server<N> {
    /// Listens on `ports` consecutive ports from `base`.
    fn new(net: N, base: u16, ports: u16, echo: bool) -> io::Result<Self> {
        let ep = net.epoll()?;
        let mut listeners = Vec::new();
        for p in 0..ports {
            let l = net.listener(base + p, 65535)?;
            net.ctl(ep, true, l, IN)?;
            listeners.push(l);
        }
        Ok(Server {
            net,
            ep,
            listeners,
            echo,
            bytes: Arc::new(AtomicU64::new(0)),
            events: Vec::with_capacity(1024),
            buf: vec![0; 256 * 1024],
        })
    }
}

#[inline(never)]
fn server_step<N: Net>(s: &mut Server<N>, timeout_ms: i32) {
    let mut events = std::mem::take(&mut s.events);
    if s.net.wait(s.ep, &mut events, timeout_ms).is_err() {
        s.events = events;
        return;
    }
    for &(fd, ev) in &events {
        if s.listeners.contains(&fd) {
            while let Ok(c) = s.net.accept(fd) {
                if s.net.ctl(s.ep, true, c, IN).is_err() {
                    s.net.close(c);
                }
            }
            continue;
        }
        if ev & (IN | ERR | HUP) == 0 {
            continue;
        }
        match s.net.read(fd, &mut s.buf) {
            Ok(0) => s.net.close(fd),
            Ok(n) => {
                s.bytes.fetch_add(n as u64, Ordering::Relaxed);
                // One request in flight per connection: the echo always fits the send buffer.
                if s.echo && s.net.write(fd, &s.buf[..n]).is_err() {
                    s.net.close(fd);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => s.net.close(fd),
        }
    }
    s.events = events;
}

/// One side of a workload that ends by itself (count or deadline reached).
trait Client {
    fn step(&mut self, timeout_ms: i32) -> bool;
    fn result(&self) -> Outcome;
}

#[derive(Default, Debug)]
struct Outcome {
    ops: u64,
    errors: u64,
    secs: f64,
    latencies_ns: Vec<u32>,
    bytes: u64,
    mem_delta: i64,
    slab_delta: i64,
    established: u64,
    establish_secs: f64,
    /// mtcp only: segments retransmitted and frames dropped, both contexts.
    retransmits: u64,
    drops: u64,
    /// mtcp only: frames the client sent and received while it measured (rpc and scale: a
    /// 64 B request and its response take 2, a delayed ACK that fires between a connection's
    /// turns adds one; short: the handshake, request, response and both FINs).
    client_frames: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Free,
    Connecting,
    Waiting(usize),
}

fn slot(slots: &mut Vec<Slot>, fd: i32) -> &mut Slot {
    let i = fd as usize;
    if slots.len() <= i {
        slots.resize(i + 1, Slot::Free);
    }
    &mut slots[i]
}

/// Short connections: `conns` in flight, each connect / 64 B / 64 B / close.
struct ShortClient<N: Net> {
    net: N,
    ep: i32,
    to: SocketAddrV4,
    conns: usize,
    active: usize,
    slots: Vec<Slot>,
    limit: Option<u64>,
    deadline: Instant,
    started: u64,
    out: Outcome,
    t0: Instant,
    events: Vec<(i32, u32)>,
    /// Where responses are read to (see `RpcClient::buf`).
    buf: [u8; 256],
}

impl<N: Net> ShortClient<N> {
    fn open(&mut self) {
        match self.net.connect(self.to) {
            Ok(fd) => {
                if self.net.ctl(self.ep, true, fd, OUT).is_err() {
                    self.net.close(fd);
                    self.out.errors += 1;
                    return;
                }
                *slot(&mut self.slots, fd) = Slot::Connecting;
                self.active += 1;
                self.started += 1;
            }
            Err(_) => self.out.errors += 1,
        }
    }
    fn finish(&mut self, fd: i32, ok: bool) {
        self.net.close(fd);
        *slot(&mut self.slots, fd) = Slot::Free;
        self.active -= 1;
        if ok {
            self.out.ops += 1;
        } else {
            self.out.errors += 1;
        }
    }
    fn more(&self) -> bool {
        match self.limit {
            Some(l) => self.started < l,
            None => Instant::now() < self.deadline,
        }
    }
}

#[inline(never)]
fn short_client_step<N: Net>(c: &mut ShortClient<N>, timeout_ms: i32) -> bool {
    while c.active < c.conns && c.more() {
        let errors = c.out.errors;
        c.open();
        if c.out.errors > errors {
            break;
        }
    }
    if c.active == 0 && !c.more() {
        c.out.secs = c.t0.elapsed().as_secs_f64();
        c.out.client_frames = c.net.frames() - c.out.client_frames;
        return true;
    }
    let mut events = std::mem::take(&mut c.events);
    let _ = c.net.wait(c.ep, &mut events, timeout_ms);
    for &(fd, ev) in &events {
        match *slot(&mut c.slots, fd) {
            Slot::Free => {}
            Slot::Connecting => {
                if ev & (ERR | HUP) != 0 {
                    c.finish(fd, false);
                } else if ev & OUT != 0 {
                    if c.net.write(fd, &[b'q'; MSG]).ok() == Some(MSG)
                        && c.net.ctl(c.ep, false, fd, IN).is_ok()
                    {
                        *slot(&mut c.slots, fd) = Slot::Waiting(0);
                    } else {
                        c.finish(fd, false);
                    }
                }
            }
            Slot::Waiting(got) => match c.net.read(fd, &mut c.buf) {
                Ok(0) => c.finish(fd, false),
                Ok(n) if got + n >= MSG => c.finish(fd, true),
                Ok(n) => *slot(&mut c.slots, fd) = Slot::Waiting(got + n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => c.finish(fd, false),
            },
        }
    }
    c.events = events;
    false
}

impl<N: Net> Client for ShortClient<N> {
    fn step(&mut self, timeout_ms: i32) -> bool {
        short_client_step(self, timeout_ms)
    }
    fn result(&self) -> Outcome {
        Outcome {
            latencies_ns: Vec::new(),
            ..self.out
        }
    }
}

/// Persistent RPC: `conns` connections established first, then one 64 B request in flight on
/// each until the count or the deadline.
struct RpcClient<N: Net> {
    net: N,
    ep: i32,
    to: Vec<SocketAddrV4>,
    conns: usize,
    slots: Vec<Slot>,
    sent_at: Vec<Instant>,
    opened: usize,
    connecting: usize,
    established: Vec<i32>,
    running: bool,
    limit: Option<u64>,
    secs: f64,
    deadline: Instant,
    latency: bool,
    out: Outcome,
    t0: Instant,
    mem0: (i64, i64),
    events: Vec<(i32, u32)>,
    /// With a window: the established connections with no request in flight, longest idle
    /// first (a queue, so picking the next one costs the same at 1 k and 100 k connections).
    inflight: Option<usize>,
    idle: std::collections::VecDeque<i32>,
    /// Where responses are read to: kept, as an application keeps its buffer, rather than a
    /// zeroed array per step.
    buf: [u8; 256],
}

fn rss_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn slab_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Slab:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

impl<N: Net> RpcClient<N> {
    fn send(&mut self, fd: i32) -> bool {
        if self.latency {
            let i = fd as usize;
            if self.sent_at.len() <= i {
                self.sent_at.resize(i + 1, self.t0);
            }
            self.sent_at[i] = Instant::now();
        }
        self.net.write(fd, &[b'q'; MSG]).ok() == Some(MSG)
    }
    fn start(&mut self) {
        self.running = true;
        self.out.establish_secs = self.t0.elapsed().as_secs_f64();
        self.out.established = self.established.len() as u64;
        self.out.mem_delta = rss_bytes() - self.mem0.0;
        self.out.slab_delta = slab_bytes() - self.mem0.1;
        self.out.client_frames = self.net.frames();
        self.t0 = Instant::now();
        self.deadline = self.t0 + Duration::from_secs_f64(self.secs);
        let established = std::mem::take(&mut self.established);
        let Some(window) = self.inflight else {
            for fd in established {
                if !self.send(fd) {
                    self.out.errors += 1;
                }
            }
            return;
        };
        let first = window.min(established.len());
        self.idle = established.into();
        for _ in 0..first {
            self.send_next();
        }
    }

    /// With a window: a request on the connection idle longest (each connection in turn).
    fn send_next(&mut self) {
        if let Some(fd) = self.idle.pop_front() {
            if !self.send(fd) {
                self.out.errors += 1;
            }
        }
    }
}

#[inline(never)]
fn rpc_client_step<N: Net>(c: &mut RpcClient<N>, timeout_ms: i32) -> bool {
    if !c.running {
        // Connect in batches so a listen queue is never flooded.
        while c.opened < c.conns && c.connecting < 256 {
            let to = c.to[c.opened % c.to.len()];
            c.opened += 1;
            match c.net.connect(to) {
                Ok(fd) if c.net.ctl(c.ep, true, fd, OUT).is_ok() => {
                    *slot(&mut c.slots, fd) = Slot::Connecting;
                    c.connecting += 1;
                }
                _ => c.out.errors += 1,
            }
        }
        if c.opened == c.conns && c.connecting == 0 {
            c.start();
        }
    } else {
        let done = match c.limit {
            Some(l) => c.out.ops >= l,
            None => Instant::now() >= c.deadline,
        };
        if done || c.out.errors > c.conns as u64 {
            c.out.secs = c.t0.elapsed().as_secs_f64();
            c.out.client_frames = c.net.frames() - c.out.client_frames;
            // Again after the requests: mtcp allocates a connection's buffers when it first
            // moves data, so the count after establishing alone would leave them out.
            c.out.mem_delta = c.out.mem_delta.max(rss_bytes() - c.mem0.0);
            return true;
        }
    }
    let mut events = std::mem::take(&mut c.events);
    let _ = c.net.wait(c.ep, &mut events, timeout_ms);
    for &(fd, ev) in &events {
        match *slot(&mut c.slots, fd) {
            Slot::Free => {}
            Slot::Connecting => {
                c.connecting -= 1;
                if ev & (ERR | HUP) != 0 || c.net.ctl(c.ep, false, fd, IN).is_err() {
                    c.out.errors += 1;
                    c.net.close(fd);
                    *slot(&mut c.slots, fd) = Slot::Free;
                } else {
                    *slot(&mut c.slots, fd) = Slot::Waiting(0);
                    c.established.push(fd);
                }
            }
            Slot::Waiting(got) => match c.net.read(fd, &mut c.buf) {
                Ok(n) if n > 0 && got + n >= MSG => {
                    *slot(&mut c.slots, fd) = Slot::Waiting(got + n - MSG);
                    c.out.ops += 1;
                    if c.latency {
                        let t = c.sent_at[fd as usize].elapsed().as_nanos();
                        c.out.latencies_ns.push(t.min(u32::MAX as u128) as u32);
                    }
                    if c.inflight.is_some() {
                        c.idle.push_back(fd);
                        c.send_next();
                    } else if !c.send(fd) {
                        c.out.errors += 1;
                    }
                }
                Ok(n) if n > 0 => *slot(&mut c.slots, fd) = Slot::Waiting(got + n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                _ => {
                    c.out.errors += 1;
                    c.net.close(fd);
                    *slot(&mut c.slots, fd) = Slot::Free;
                }
            },
        }
    }
    c.events = events;
    false
}

impl<N: Net> Client for RpcClient<N> {
    fn step(&mut self, timeout_ms: i32) -> bool {
        rpc_client_step(self, timeout_ms)
    }
    fn result(&self) -> Outcome {
        let mut lat = self.out.latencies_ns.clone();
        lat.sort_unstable();
        Outcome {
            latencies_ns: lat,
            ..self.out
        }
    }
}

/// Bulk: one connection writes `total` bytes; done when the server has read them all.
struct BulkClient<N: Net> {
    net: N,
    ep: i32,
    fd: i32,
    total: u64,
    sent: u64,
    server_bytes: Arc<AtomicU64>,
    chunk: Vec<u8>,
    connected: bool,
    closed: bool,
    out: Outcome,
    t0: Instant,
    events: Vec<(i32, u32)>,
}

impl<N: Net> Client for BulkClient<N> {
    fn step(&mut self, timeout_ms: i32) -> bool {
        if self.server_bytes.load(Ordering::Relaxed) >= self.total {
            self.out.secs = self.t0.elapsed().as_secs_f64();
            self.out.bytes = self.total;
            self.out.ops = 1;
            return true;
        }
        let mut events = std::mem::take(&mut self.events);
        let wait = if self.closed { 0 } else { timeout_ms };
        let _ = self.net.wait(self.ep, &mut events, wait);
        for &(_, ev) in &events {
            if ev & (ERR | HUP) != 0 {
                self.out.errors += 1;
            }
            if ev & OUT != 0 && !self.connected {
                self.connected = true;
                self.t0 = Instant::now();
            }
        }
        self.events = events;
        if self.connected && !self.closed {
            while self.sent < self.total {
                let n = (self.total - self.sent).min(self.chunk.len() as u64) as usize;
                match self.net.write(self.fd, &self.chunk[..n]) {
                    Ok(w) => self.sent += w as u64,
                    Err(_) => break,
                }
            }
            if self.sent >= self.total {
                self.net.close(self.fd);
                self.closed = true;
            }
        }
        false
    }
    fn result(&self) -> Outcome {
        Outcome {
            latencies_ns: Vec::new(),
            ..self.out
        }
    }
}

// ---------------------------------------------------------------------------------- runners

#[derive(Clone, Debug)]
struct Params {
    stack: String,
    mode: String,
    workload: String,
    conns: usize,
    secs: f64,
    count: Option<u64>,
    bytes: u64,
    buf: usize,
    latency: bool,
    /// rpc/scale: requests in flight at once, each on the next idle connection in turn
    /// (default: one on every connection).
    inflight: Option<usize>,
    /// mtcp: `tcp_delack_ms` (default: the configuration's, 40).
    delack_ms: Option<u64>,
    /// mtcp: the in-memory link's IP MTU (default: the configuration's, 1500).
    mtu: Option<usize>,
}

impl Params {
    /// The IP MTU the run's packets use: the in-memory link's for mtcp, the loopback device's
    /// for the kernel (`None` when it can't be read).
    fn link_mtu(&self) -> Option<usize> {
        if self.stack == "mtcp" {
            return Some(self.mtu.unwrap_or(mtcp::Config::default().mtu));
        }
        std::fs::read_to_string("/sys/class/net/lo/mtu")
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

fn pin(cpu: usize) {
    let _ = mtcp_io::sys::affinity::pin_current_thread(
        cpu % mtcp_io::sys::affinity::available_cpus().max(1),
    );
}

/// Runs server and client to the client's end: on two threads pinned to `cpus[0]` and
/// `cpus[1]`, or both on the calling thread pinned to `cpus[0]` (`single`).
fn drive<N: Net, C: Client + Send>(
    mut server: Server<N>,
    mut client: C,
    single: bool,
    cpus: [usize; 2],
) -> Outcome {
    if single {
        pin(cpus[0]);
        loop {
            server_step(&mut server, 0);
            if client.step(0) {
                return client.result();
            }
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            pin(cpus[0]);
            while !stop.load(Ordering::Relaxed) {
                server_step(&mut server, 2);
            }
        });
        let h = scope.spawn(move || {
            pin(cpus[1]);
            loop {
                if client.step(2) {
                    return client.result();
                }
            }
        });
        let r = h.join().expect("client thread");
        stop.store(true, Ordering::Relaxed);
        r
    })
}

fn workload<N: Net>(
    p: &Params,
    server_net: N,
    client_net: N,
    to: SocketAddrV4,
    cpus: [usize; 2],
) -> io::Result<Outcome> {
    let single = p.mode == "single";
    let ports = p.conns.div_ceil(20_000).max(1) as u16;
    let server = Server::new(server_net, to.port(), ports, p.workload != "bulk")?;
    let ep = client_net.epoll()?;
    let now = Instant::now();
    let deadline = now + Duration::from_secs_f64(p.secs);
    Ok(match p.workload.as_str() {
        "short" => drive(
            server,
            ShortClient {
                out: Outcome {
                    client_frames: client_net.frames(),
                    ..Outcome::default()
                },
                net: client_net,
                ep,
                to,
                conns: p.conns,
                active: 0,
                slots: Vec::new(),
                limit: p.count,
                deadline,
                started: 0,
                t0: now,
                events: Vec::with_capacity(1024),
                buf: [0; 256],
            },
            single,
            cpus,
        ),
        "rpc" | "scale" => {
            let mem0 = (rss_bytes(), slab_bytes());
            let to = (0..ports)
                .map(|i| SocketAddrV4::new(*to.ip(), to.port() + i))
                .collect();
            drive(
                server,
                RpcClient {
                    net: client_net,
                    ep,
                    to,
                    conns: p.conns,
                    slots: Vec::new(),
                    sent_at: Vec::new(),
                    opened: 0,
                    connecting: 0,
                    established: Vec::new(),
                    running: false,
                    limit: p.count,
                    secs: p.secs,
                    deadline,
                    latency: p.latency,
                    out: Outcome::default(),
                    t0: now,
                    mem0,
                    events: Vec::with_capacity(1024),
                    inflight: p.inflight,
                    idle: std::collections::VecDeque::new(),
                    buf: [0; 256],
                },
                single,
                cpus,
            )
        }
        "bulk" => {
            let bytes = server.bytes.clone();
            let fd = client_net.connect(to)?;
            client_net.ctl(ep, true, fd, OUT)?;
            drive(
                server,
                BulkClient {
                    net: client_net,
                    ep,
                    fd,
                    total: p.bytes,
                    sent: 0,
                    server_bytes: bytes,
                    chunk: vec![b'b'; 64 * 1024],
                    connected: false,
                    closed: false,
                    out: Outcome::default(),
                    t0: now,
                    events: Vec::with_capacity(16),
                },
                single,
                cpus,
            )
        }
        other => {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("unknown workload {other}"),
            ))
        }
    })
}

fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want.max(lim.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

fn run_one(p: &Params) -> io::Result<Outcome> {
    match p.stack.as_str() {
        "kernel" => {
            raise_fd_limit(2 * p.conns as u64 + 1024);
            let to = SocketAddrV4::new([127, 0, 0, 1].into(), SERVER_PORT);
            workload(p, Kernel, Kernel, to, [0, 1])
        }
        "mtcp" => {
            let mode = match p.mode.as_str() {
                "threaded" => mtcp::RunMode::Threaded,
                "inline" | "single" => mtcp::RunMode::Inline,
                m => {
                    return Err(io::Error::new(
                        ErrorKind::InvalidInput,
                        format!("unknown mode {m}"),
                    ))
                }
            };
            let hub = format!("bench-{}", std::process::id());
            let make = |ip: [u8; 4], mask: u64| {
                mtcp::Stack::new(mtcp::Config {
                    port: vec![hub.clone()],
                    addr: Some(mtcp::Ipv4Cidr {
                        addr: ip.into(),
                        prefix_len: 24,
                    }),
                    core_mask: Some(mask),
                    rcvbuf: p.buf,
                    sndbuf: p.buf,
                    max_concurrency: (p.conns + 64).max(10_000),
                    mode,
                    tcp_delack_ms: p.delack_ms.unwrap_or(mtcp::Config::default().tcp_delack_ms),
                    mtu: p.mtu.unwrap_or(mtcp::Config::default().mtu),
                    ..mtcp::Config::default()
                })
            };
            let server = make([198, 18, 0, 1], 0b01)?;
            let client = make([198, 18, 0, 2], 0b10)?;
            let (s, c) = (server.create_context(0)?, client.create_context(0)?);
            let to = SocketAddrV4::new([198, 18, 0, 1].into(), SERVER_PORT);
            let (server_ctx, client_ctx) = (s.clone(), c.clone());
            let r = workload(p, Mtcp(s), Mtcp(c), to, [0, 1]).map(|mut o| {
                let (a, b) = (server_ctx.stats(), client_ctx.stats());
                o.retransmits = a.retransmits + b.retransmits;
                o.drops = a.drops + b.drops;
                o
            });
            client.destroy();
            server.destroy();
            r
        }
        other => Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("unknown stack {other}"),
        )),
    }
}

// ---------------------------------------------------------------------------------- scaling

/// How the context pairs of a scaling run are laid out on the CPUs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    /// mTCP's model: every context has its own pinned loop thread and the workload runs in one
    /// application thread per context (2 loop + 2 application threads per pair). One pair uses
    /// CPUs 0 (server) and 1 (client), as `run --mode threaded`; with two pairs pair `i` is
    /// entirely on CPU `i`, so two pairs put 8 threads on a 2-CPU machine.
    Threaded,
    /// Run-to-completion: pair `i` (server context `i` + client context `i`) is driven by one
    /// thread pinned to CPU `i`; nothing else runs. The configuration that fits 2 CPUs.
    PairPerCore,
    /// The kernel's TCP laid out as [`Layout::PairPerCore`]: pair `i` is one thread pinned to
    /// CPU `i` driving a server and a client over loopback (its own port range), so the kernel
    /// gets the same 1 → 2 core comparison as mtcp.
    KernelPairPerCore,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Threaded => "threaded",
            Layout::PairPerCore => "pair-per-core",
            Layout::KernelPairPerCore => "kernel-pair-per-core",
        }
    }
}

/// Runs `p.workload` on `pairs` server+client context pairs of two stacks (`num_cores =
/// pairs`) sharing one hub, all pairs at once; returns each pair's outcome. The client
/// contexts call `init_rss`, so the replies of their flows hash back to them and (symmetric
/// key, same queue count) their SYNs reach the server context of the same index.
///
/// Each outcome comes with the share of a CPU its pair's thread got (thread CPU time / wall
/// time; meaningful for [`Layout::PairPerCore`], where that thread does all of the pair's work).
fn run_pairs(
    p: &Params,
    pairs: usize,
    layout: Layout,
    run: usize,
) -> io::Result<Vec<(Outcome, f64)>> {
    let (mode, single) = match layout {
        Layout::Threaded => (mtcp::RunMode::Threaded, false),
        Layout::PairPerCore => (mtcp::RunMode::Inline, true),
        Layout::KernelPairPerCore => return run_kernel_pairs(p, pairs, run),
    };
    let hub = format!("scaling-{}-{run}", std::process::id());
    let make = |ip: [u8; 4], mask: u64| {
        mtcp::Stack::new(mtcp::Config {
            port: vec![hub.clone()],
            addr: Some(mtcp::Ipv4Cidr {
                addr: ip.into(),
                prefix_len: 24,
            }),
            num_cores: pairs,
            core_mask: Some(mask),
            rcvbuf: p.buf,
            sndbuf: p.buf,
            max_concurrency: (p.conns + 64).max(10_000),
            mode,
            mtu: p.mtu.unwrap_or(mtcp::Config::default().mtu),
            ..mtcp::Config::default()
        })
    };
    // One pair: the loop threads on CPUs 0 and 1 as in `run`; two pairs: context i on CPU i.
    let (server_mask, client_mask) = if pairs == 1 {
        (0b01, 0b10)
    } else {
        (0b11, 0b11)
    };
    let server = make([198, 18, 0, 1], server_mask)?;
    let client = make([198, 18, 0, 2], client_mask)?;
    let to = SocketAddrV4::new([198, 18, 0, 1].into(), SERVER_PORT);
    let mut ctxs = Vec::new();
    for i in 0..pairs {
        let (s, c) = (server.create_context(i)?, client.create_context(i)?);
        c.init_rss([0, 0, 0, 0].into(), 1, *to.ip(), to.port())?;
        ctxs.push((s, c));
    }
    let mut q = p.clone();
    q.mode = if single { "single" } else { "threaded" }.into();
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = ctxs
            .iter()
            .enumerate()
            .map(|(i, (s, c))| {
                let cpus = match (layout, pairs) {
                    (Layout::Threaded, 1) => [0, 1],
                    _ => [i, i],
                };
                let (s, c, q) = (s.clone(), c.clone(), &q);
                scope.spawn(move || with_cpu_share(|| workload(q, Mtcp(s), Mtcp(c), to, cpus)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("pair thread"))
            .collect::<io::Result<Vec<(Outcome, f64)>>>()
    });
    // Each pair's connections were opened by its own server context only: the server and
    // client context of a pair count the same connections.
    for (i, (s, c)) in ctxs.iter().enumerate() {
        let (so, co) = (s.stats().connections_opened, c.stats().connections_opened);
        if so != co {
            eprintln!("bench_native: pair {i}: server opened {so}, client {co} connections");
        }
    }
    client.destroy();
    server.destroy();
    results
}

/// [`Layout::KernelPairPerCore`]: `pairs` threads, thread `i` pinned to CPU `i` running the
/// workload against the kernel over loopback, each run and pair on ports of its own (the
/// workload leaves its listeners open).
fn run_kernel_pairs(p: &Params, pairs: usize, run: usize) -> io::Result<Vec<(Outcome, f64)>> {
    raise_fd_limit(2 * (p.conns * pairs) as u64 + 1024);
    let mut q = p.clone();
    q.mode = "single".into();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..pairs)
            .map(|i| {
                let q = &q;
                let port = 10_000 + (run % 50) as u16 * 1000 + 100 * i as u16;
                let to = SocketAddrV4::new([127, 0, 0, 1].into(), port);
                scope.spawn(move || with_cpu_share(|| workload(q, Kernel, Kernel, to, [i, i])))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("pair thread"))
            .collect()
    })
}

/// Runs `run` and returns its outcome with the share of a CPU the calling thread got meanwhile
/// (thread CPU time / wall time).
fn with_cpu_share(run: impl FnOnce() -> io::Result<Outcome>) -> io::Result<(Outcome, f64)> {
    let (wall0, cpu0) = (Instant::now(), thread_cpu_secs());
    let outcome = run()?;
    Ok((
        outcome,
        (thread_cpu_secs() - cpu0) / wall0.elapsed().as_secs_f64(),
    ))
}

/// CPU time of the calling thread.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn fmt_list(v: &[f64], prec: usize) -> String {
    v.iter()
        .map(|r| format!("{r:.prec$}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `bench_native scaling`: 1 and 2 context pairs in both mtcp layouts, and 1 and 2 pinned
/// kernel pairs, `--repeat` runs each (the median counts); one JSON record per run on stdout,
/// then a summary record per layout with the scaling factor (2-pair rate / 1-pair rate).
fn scaling(args: &[String]) -> i32 {
    let mut repeat = 3usize;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--repeat" {
            repeat = it.next().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
        } else {
            rest.push(a.clone());
        }
    }
    let p = match parse(&rest) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bench_native: {e}");
            return 2;
        }
    };
    let mut run = 0;
    for layout in [
        Layout::PairPerCore,
        Layout::Threaded,
        Layout::KernelPairPerCore,
    ] {
        let mut rates = [0.0f64; 2];
        let mut norm_rates = [0.0f64; 2];
        for pairs in [1usize, 2] {
            let mut totals = Vec::new();
            let mut norm = Vec::new();
            for _ in 0..repeat {
                run += 1;
                let outcomes = match run_pairs(&p, pairs, layout, run) {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!("bench_native: {e}");
                        return 1;
                    }
                };
                let per_pair: Vec<f64> = outcomes
                    .iter()
                    .map(|(o, _)| o.ops as f64 / o.secs.max(1e-9))
                    .collect();
                let shares: Vec<f64> = outcomes.iter().map(|(_, s)| *s).collect();
                let errors: u64 = outcomes.iter().map(|(o, _)| o.errors).sum();
                let total: f64 = per_pair.iter().sum();
                // What each pair would do with a whole CPU to itself (others' jobs share it).
                let per_cpu: f64 = per_pair
                    .iter()
                    .zip(&shares)
                    .map(|(r, s)| r / s.max(1e-3))
                    .sum();
                // Threaded: the pair's thread only waits for its workers; no CPU share.
                let pinned = layout != Layout::Threaded;
                let (shares_json, per_cpu_json) = if pinned {
                    (
                        format!("[{}]", fmt_list(&shares, 3)),
                        format!("{per_cpu:.0}"),
                    )
                } else {
                    ("null".to_string(), "null".to_string())
                };
                println!(
                    "{{\"kind\":\"run\",\"workload\":\"{}\",\"conns\":{},\"layout\":\"{}\",\"pairs\":{pairs},\"rate\":{total:.0},\"per_pair\":[{}],\"cpu_share\":{shares_json},\"rate_per_full_cpu\":{per_cpu_json},\"errors\":{errors}}}",
                    p.workload,
                    p.conns,
                    layout.name(),
                    fmt_list(&per_pair, 0),
                );
                norm.push(if pinned { per_cpu } else { total });
                totals.push(total);
            }
            rates[pairs - 1] = median(totals);
            norm_rates[pairs - 1] = median(norm);
        }
        println!(
            "{{\"kind\":\"summary\",\"workload\":\"{}\",\"conns\":{},\"layout\":\"{}\",\"rate_1\":{:.0},\"rate_2\":{:.0},\"scaling\":{:.2},\"scaling_per_full_cpu\":{:.2}}}",
            p.workload,
            p.conns,
            layout.name(),
            rates[0],
            rates[1],
            rates[1] / rates[0].max(1e-9),
            norm_rates[1] / norm_rates[0].max(1e-9)
        );
    }
    0
}

// ----------------------------------------------------------------------------------- output

fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn record(p: &Params, o: &Outcome) -> String {
    let rate = if o.secs > 0.0 {
        o.ops as f64 / o.secs
    } else {
        0.0
    };
    let gbps = if o.secs > 0.0 {
        o.bytes as f64 * 8.0 / o.secs / 1e9
    } else {
        0.0
    };
    let per_conn = |d: i64| {
        if o.established > 0 {
            d as f64 / o.established as f64
        } else {
            0.0
        }
    };
    format!(
        concat!(
            "{{\"workload\":\"{}\",\"stack\":\"{}\",\"mode\":\"{}\",\"conns\":{},",
            "\"ops\":{},\"errors\":{},\"secs\":{:.4},\"rate\":{:.1},\"gbps\":{:.3},",
            "\"bytes\":{},\"p50_us\":{:.2},\"p99_us\":{:.2},\"established\":{},",
            "\"establish_secs\":{:.3},\"rss_bytes_per_conn\":{:.0},\"slab_bytes_per_conn\":{:.0},",
            "\"buf\":{},\"inflight\":{},\"retransmits\":{},\"drops\":{},",
            "\"client_frames_per_op\":{:.2},\"mtu\":{}}}"
        ),
        p.workload,
        p.stack,
        p.mode,
        p.conns,
        o.ops,
        o.errors,
        o.secs,
        rate,
        gbps,
        o.bytes,
        pct(&o.latencies_ns, 0.50),
        pct(&o.latencies_ns, 0.99),
        o.established,
        o.establish_secs,
        per_conn(o.mem_delta),
        per_conn(o.slab_delta),
        p.buf,
        p.inflight.map_or("null".to_string(), |w| w.to_string()),
        o.retransmits,
        o.drops,
        if o.ops > 0 {
            o.client_frames as f64 / o.ops as f64
        } else {
            0.0
        },
        p.link_mtu().map_or("null".to_string(), |m| m.to_string()),
    )
}

/// One `run` argument line of the suite.
fn run_line(
    stack: &str,
    mode: &str,
    workload: &str,
    conns: usize,
    secs: &str,
    extra: &[&str],
) -> Vec<String> {
    let conns = conns.to_string();
    let head = [
        "run",
        "--stack",
        stack,
        "--mode",
        mode,
        "--workload",
        workload,
        "--conns",
        &conns,
        "--secs",
        secs,
    ];
    head.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// The suite: (workload, conns, stacks×modes), sized for `quick` (< 1 min) or default.
fn plan(quick: bool) -> Vec<Vec<String>> {
    let secs = if quick { "1" } else { "3" };
    let bulk = if quick { 128u64 << 20 } else { 1 << 30 };
    let mut runs = Vec::new();
    let mut add = |w: &str, conns: usize, extra: &[&str]| {
        for (stack, mode) in [
            ("kernel", "threaded"),
            ("kernel", "single"),
            ("mtcp", "threaded"),
            ("mtcp", "inline"),
            ("mtcp", "single"),
        ] {
            if quick && mode == "single" && stack == "kernel" {
                continue;
            }
            runs.push(run_line(stack, mode, w, conns, secs, extra));
        }
    };
    add("short", 64, &[]);
    add("rpc", 1, &[]);
    add("rpc", 64, &[]);
    let bulk = bulk.to_string();
    add("bulk", 1, &["--bytes", &bulk, "--buf", "262144"]);
    // Scale: the same 1,024 requests in flight at every connection count (each on the
    // connection idle longest), so the rows differ by how many connections exist, not by how
    // many requests are queued (a request on every one of 100 k connections overflows the
    // hub's receive rings and measures incast collapse instead).
    let scale = ["--buf", "2048", "--inflight", "1024"];
    add("scale", 1000, &scale);
    if !quick {
        add("scale", 10_000, &scale);
    }
    // Bulk with 9,000-byte jumbo frames on the in-memory link (mtcp single: the per-core
    // figure; the kernel's loopback runs with a 65,536-byte MTU in the rows above).
    let jumbo = ["--bytes", &bulk, "--buf", "262144", "--mtu", "9000"];
    runs.push(run_line("mtcp", "single", "bulk", 1, secs, &jumbo));
    // 100 k connections: mtcp only (the kernel side would need 200 k descriptors).
    let big = if quick { 20_000 } else { 100_000 };
    runs.push(run_line("mtcp", "single", "scale", big, secs, &scale));
    runs
}

fn parse(args: &[String]) -> Result<Params, String> {
    let mut p = Params {
        stack: "mtcp".into(),
        mode: "threaded".into(),
        workload: "rpc".into(),
        conns: 1,
        secs: 2.0,
        count: None,
        bytes: 1 << 30,
        buf: 8192,
        latency: true,
        inflight: None,
        delack_ms: None,
        mtu: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<f64>().map_err(|e| format!("{a}: {e}"));
        match a.as_str() {
            "--stack" => p.stack = val()?,
            "--mode" => p.mode = val()?,
            "--workload" => p.workload = val()?,
            "--conns" => p.conns = num(val()?)? as usize,
            "--secs" => p.secs = num(val()?)?,
            "--count" => p.count = Some(num(val()?)? as u64),
            "--bytes" => p.bytes = num(val()?)? as u64,
            "--buf" => p.buf = num(val()?)? as usize,
            "--no-latency" => p.latency = false,
            "--inflight" => p.inflight = Some(num(val()?)?.max(1.0) as usize),
            "--delack-ms" => p.delack_ms = Some(num(val()?)?.clamp(1.0, 500.0) as u64),
            "--mtu" => p.mtu = Some(num(val()?)? as usize),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if p.conns == 0 {
        return Err("--conns must be ≥ 1".into());
    }
    Ok(p)
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    json.find(&pat)
        .map(|i| {
            let rest = &json[i + pat.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim_matches('"')
        })
        .unwrap_or("")
}

fn suite(quick: bool) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bench_native: {e}");
            return 1;
        }
    };
    let runs = plan(quick);
    let mut records = Vec::new();
    for (i, args) in runs.iter().enumerate() {
        eprintln!("[{}/{}] {}", i + 1, runs.len(), args[1..].join(" "));
        match std::process::Command::new(&exe).args(args).output() {
            Ok(out) if out.status.success() => {
                records.push(String::from_utf8_lossy(&out.stdout).trim().to_string())
            }
            Ok(out) => eprintln!("  failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            Err(e) => eprintln!("  failed: {e}"),
        }
    }
    println!(
        "{:<6} {:>6} {:<7} {:<9} {:>6} {:>12} {:>9} {:>9} {:>8} {:>10}",
        "work", "conns", "stack", "mode", "mtu", "rate/s", "p50 µs", "p99 µs", "Gbit/s", "B/conn"
    );
    for r in &records {
        println!(
            "{:<6} {:>6} {:<7} {:<9} {:>6} {:>12} {:>9} {:>9} {:>8} {:>10}",
            field(r, "workload"),
            field(r, "conns"),
            field(r, "stack"),
            field(r, "mode"),
            field(r, "mtu"),
            field(r, "rate"),
            field(r, "p50_us"),
            field(r, "p99_us"),
            field(r, "gbps"),
            field(r, "rss_bytes_per_conn"),
        );
    }
    println!("[{}]", records.join(",\n "));
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let code = match args.first().map(String::as_str) {
        Some("plan") => {
            let lines: Vec<String> = plan(quick)
                .iter()
                .map(|a| {
                    let items: Vec<String> = a.iter().map(|s| format!("\"{s}\"")).collect();
                    format!("[{}]", items.join(","))
                })
                .collect();
            println!("[{}]", lines.join(",\n "));
            0
        }
        Some("suite") => suite(quick),
        Some("scaling") => scaling(&args[1..]),
        Some("run") => match parse(&args[1..]) {
            Ok(p) => match run_one(&p) {
                Ok(o) => {
                    println!("{}", record(&p, &o));
                    0
                }
                Err(e) => {
                    eprintln!("bench_native: {e}");
                    1
                }
            },
            Err(e) => {
                eprintln!("bench_native: {e}");
                2
            }
        },
        _ => {
            eprintln!("usage: bench_native plan|suite [--quick] | run --stack S --mode M --workload W [...]");
            2
        }
    };
    std::process::exit(code);
}
