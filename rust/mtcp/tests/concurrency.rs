//! Calls from several application threads at once (issue 7): two threaded contexts per stack,
//! each driven by its own application thread while the contexts' pinned loop threads run, and
//! two threads hammering one context. Every byte must come back intact — no loss, duplication
//! or reorder — and every connection must be handled by exactly one server context.
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::{Config, Context, Errno, Ipv4Cidr, RunMode, SockId, Stack};
use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNS_PER_CLIENT: usize = 50;
const BYTES_PER_CONN: usize = 256 * 1024;
const BUDGET: Duration = Duration::from_secs(20);

fn threaded_stack(hub: &str, addr: &str) -> Stack {
    Stack::new(Config {
        port: vec![hub.to_string()],
        addr: Some(Ipv4Cidr {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
        }),
        num_cores: 2,
        max_concurrency: 256,
        mode: RunMode::Threaded,
        ..Config::default()
    })
    .unwrap()
}

fn would_block(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(Errno::EAGAIN.raw())
}
/// An epoll echo server on `ctx` until `stop`: echoes what it reads (keeping what the send
/// buffer did not take, in order), closes on EOF. Returns the connections it accepted.
fn echo_server(ctx: Context, port: u16, stop: Arc<AtomicBool>) -> u64 {
    let l = listener(&ctx, SocketAddrV4::new([0, 0, 0, 0].into(), port));
    let ep = ctx.epoll_create(64).unwrap();
    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, l, MTCP_EPOLLIN)
        .unwrap();
    // Per connection: bytes read but not yet echoed.
    let mut backlog: HashMap<SockId, Vec<u8>> = HashMap::new();
    let mut accepted = 0;
    let mut events = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while !stop.load(Ordering::Acquire) {
        events.clear();
        ctx.epoll_wait(ep, &mut events, 64, 10).unwrap();
        for &(fd, ev) in &events {
            if fd == l {
                while let Ok((a, _)) = ctx.accept(l) {
                    accepted += 1;
                    ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, a, MTCP_EPOLLIN | MTCP_EPOLLOUT)
                        .unwrap();
                    backlog.insert(a, Vec::new());
                }
                continue;
            }
            let Some(pending) = backlog.get_mut(&fd) else {
                continue;
            };
            let mut eof = ev & (MTCP_EPOLLERR | MTCP_EPOLLHUP) != 0;
            loop {
                // Flush what is pending first so the echo keeps the stream's order.
                while !pending.is_empty() {
                    match ctx.write(fd, pending) {
                        Ok(n) => {
                            pending.drain(..n);
                        }
                        Err(e) if would_block(&e) => break,
                        Err(e) => panic!("server write: {e}"),
                    }
                }
                if !pending.is_empty() {
                    break;
                }
                match ctx.read(fd, &mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) if would_block(&e) => break,
                    Err(e) => panic!("server read: {e}"),
                }
            }
            if eof && pending.is_empty() {
                ctx.close(fd).unwrap();
                backlog.remove(&fd);
            }
        }
    }
    assert!(
        backlog.is_empty(),
        "{} connections left open",
        backlog.len()
    );
    accepted
}

struct Conn {
    fd: SockId,
    data: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    shut: bool,
}

/// Opens `conns` connections on `ctx` at once, each writing its own pattern and checking the
/// echo; returns when every connection saw its pattern back and EOF.
fn echo_client(ctx: Context, to: SocketAddrV4, conns: usize, seed: u64) {
    ctx.init_rss("0.0.0.0".parse().unwrap(), 1, *to.ip(), to.port())
        .unwrap();
    let ep = ctx.epoll_create(64).unwrap();
    let mut by_fd: HashMap<SockId, Conn> = HashMap::new();
    for i in 0..conns {
        let fd = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
        assert_eq!(errno(ctx.connect(fd, to)), Errno::EINPROGRESS);
        ctx.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, fd, MTCP_EPOLLIN | MTCP_EPOLLOUT)
            .unwrap();
        let data = pattern(BYTES_PER_CONN, seed * 1000 + i as u64);
        by_fd.insert(
            fd,
            Conn {
                fd,
                data,
                sent: 0,
                got: Vec::with_capacity(BYTES_PER_CONN),
                shut: false,
            },
        );
    }
    let deadline = Instant::now() + BUDGET;
    let mut events = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut done = 0;
    while done < conns {
        assert!(
            Instant::now() < deadline,
            "client {seed}: {done}/{conns} done"
        );
        events.clear();
        ctx.epoll_wait(ep, &mut events, 64, 10).unwrap();
        for &(fd, _) in &events {
            let Some(c) = by_fd.get_mut(&fd) else {
                continue;
            };
            while c.sent < c.data.len() {
                match ctx.write(fd, &c.data[c.sent..]) {
                    Ok(n) => c.sent += n,
                    Err(e) if would_block(&e) || e.raw_os_error() == Some(libc::ENOTCONN) => break,
                    Err(e) => panic!("client write: {e}"),
                }
            }
            if c.sent == c.data.len() && !c.shut {
                ctx.shutdown(fd, SHUT_WR).unwrap();
                c.shut = true;
            }
            loop {
                match ctx.read(fd, &mut buf) {
                    Ok(0) => {
                        assert_eq!(c.got.len(), c.data.len(), "fd {} short echo", c.fd);
                        assert!(c.got == c.data, "fd {}: echo differs", c.fd);
                        ctx.close(fd).unwrap();
                        by_fd.remove(&fd);
                        done += 1;
                        break;
                    }
                    Ok(n) => {
                        let at = c.got.len();
                        assert!(at + n <= c.data.len(), "fd {}: echo longer than sent", c.fd);
                        // Check as it arrives: a reorder or duplicate shows at its offset.
                        assert!(
                            buf[..n] == c.data[at..at + n],
                            "fd {}: echo differs at offset {at}",
                            c.fd
                        );
                        c.got.extend_from_slice(&buf[..n]);
                    }
                    Err(e) if would_block(&e) || e.raw_os_error() == Some(libc::ENOTCONN) => break,
                    Err(e) => panic!("client read: {e}"),
                }
            }
        }
    }
}

#[test]
fn four_threads_drive_two_threaded_contexts_per_side() {
    let started = Instant::now();
    let server = threaded_stack("test-concurrency-a", "198.18.9.1");
    let client = threaded_stack("test-concurrency-a", "198.18.9.2");
    let sctx = [
        server.create_context(0).unwrap(),
        server.create_context(1).unwrap(),
    ];
    let cctx = [
        client.create_context(0).unwrap(),
        client.create_context(1).unwrap(),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let servers: Vec<_> = sctx
        .iter()
        .map(|ctx| {
            let (ctx, stop) = (ctx.clone(), stop.clone());
            std::thread::spawn(move || echo_server(ctx, 80, stop))
        })
        .collect();
    // Both listeners exist before the first SYN (a SYN steered to a context without one is
    // answered with RST).
    std::thread::sleep(Duration::from_millis(50));
    let clients: Vec<_> = cctx
        .iter()
        .enumerate()
        .map(|(i, ctx)| {
            let ctx = ctx.clone();
            let to = "198.18.9.1:80".parse().unwrap();
            std::thread::spawn(move || echo_client(ctx, to, CONNS_PER_CLIENT, i as u64 + 1))
        })
        .collect();
    let client_results: Vec<_> = clients.into_iter().map(|t| t.join()).collect();
    stop.store(true, Ordering::Release);
    let accepted: Vec<u64> = servers.into_iter().map(|t| t.join().unwrap()).collect();
    for r in client_results {
        r.unwrap();
    }
    let total = (2 * CONNS_PER_CLIENT) as u64;
    assert_eq!(accepted.iter().sum::<u64>(), total);
    for (i, ctx) in sctx.iter().enumerate() {
        // The context that accepted a connection is the only one that ever opened it.
        assert_eq!(ctx.stats().connections_opened, accepted[i], "server {i}");
        assert_eq!(ctx.stats().drops, 0, "server {i}");
    }
    assert!(accepted.iter().all(|&a| a > 0), "no split: {accepted:?}");
    for (i, ctx) in cctx.iter().enumerate() {
        assert_eq!(
            ctx.stats().connections_opened,
            CONNS_PER_CLIENT as u64,
            "client {i}"
        );
        assert_eq!(ctx.stats().drops, 0, "client {i}");
    }
    assert!(started.elapsed() < BUDGET + Duration::from_secs(5));
}

/// One thread only writes, one only reads, on the same context (different sockets), while the
/// context's loop thread runs: a stream of 8 MiB must arrive intact.
#[test]
fn two_threads_hammer_one_context() {
    const TOTAL: usize = 8 * 1024 * 1024;
    let server = threaded_stack("test-concurrency-b", "198.18.9.1");
    let client = threaded_stack("test-concurrency-b", "198.18.9.2");
    let s = server.create_context(0).unwrap();
    let c = client.create_context(0).unwrap();
    let l = listener(&s, "198.18.9.1:81".parse().unwrap());
    // Two connections from the same client context; the server echoes neither, it sinks one
    // and sources the other, so the client context has a writer and a reader on one context.
    let deadline = Instant::now() + BUDGET;
    let connect = |c: &Context| {
        let fd = c.socket(AF_INET, SOCK_STREAM, 0).unwrap();
        assert_eq!(
            errno(c.connect(fd, "198.18.9.1:81".parse().unwrap())),
            Errno::EINPROGRESS
        );
        let a = loop {
            assert!(Instant::now() < deadline, "accept");
            if let Ok((a, _)) = s.accept(l) {
                break a;
            }
            std::thread::yield_now();
        };
        while c.getpeername(fd).is_err() {
            assert!(Instant::now() < deadline, "connect");
            std::thread::yield_now();
        }
        (fd, a)
    };
    let (up_c, up_s) = connect(&c);
    let (down_c, down_s) = connect(&c);
    let data = Arc::new(pattern(TOTAL, 77));

    // Writes `data` on `fd` of `ctx`, then shuts it down.
    fn writer(ctx: Context, fd: SockId, data: Arc<Vec<u8>>, deadline: Instant) {
        let mut sent = 0;
        while sent < data.len() {
            assert!(Instant::now() < deadline, "writer stuck at {sent}");
            match ctx.write(fd, &data[sent..(sent + 64 * 1024).min(data.len())]) {
                Ok(n) => sent += n,
                Err(e) if would_block(&e) => std::thread::yield_now(),
                Err(e) => panic!("write: {e}"),
            }
        }
        ctx.shutdown(fd, SHUT_WR).unwrap();
    }
    // Reads `fd` of `ctx` to EOF and checks it against `data`.
    fn reader(ctx: Context, fd: SockId, data: Arc<Vec<u8>>, deadline: Instant) {
        let mut got = 0;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            assert!(Instant::now() < deadline, "reader stuck at {got}");
            match ctx.read(fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    assert!(got + n <= data.len(), "more bytes than sent");
                    assert!(buf[..n] == data[got..got + n], "differs at offset {got}");
                    got += n;
                }
                Err(e) if would_block(&e) => std::thread::yield_now(),
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(got, data.len());
    }

    let threads = [
        // Client context: one thread writes up_c, another reads down_c — the hammer.
        {
            let (c, d) = (c.clone(), data.clone());
            std::thread::spawn(move || writer(c, up_c, d, deadline))
        },
        {
            let (c, d) = (c.clone(), data.clone());
            std::thread::spawn(move || reader(c, down_c, d, deadline))
        },
        // Server context: the same shape on its side.
        {
            let (s, d) = (s.clone(), data.clone());
            std::thread::spawn(move || reader(s, up_s, d, deadline))
        },
        {
            let (s, d) = (s.clone(), data.clone());
            std::thread::spawn(move || writer(s, down_s, d, deadline))
        },
    ];
    for t in threads {
        t.join().unwrap();
    }
    for ctx in [&s, &c] {
        assert_eq!(ctx.stats().drops, 0);
    }
}
