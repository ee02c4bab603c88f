//! Opening and closing connections allocates no buffers once a context is warm: a closed
//! connection's send and receive rings (and its scoreboard and reassembly ranges) stay with
//! its flow slot, or go to the context's pool, and the next connection takes them. A counting
//! global allocator watches short connections (connect, 10,000 B each way, FIN both ways)
//! between two stacks on the in-memory hub. A ring's storage grows as it is first reached
//! (256 B, doubling, then the whole ring), so a transfer of 10,000 B into a 12,345-byte ring
//! makes it grow to exactly `RING` bytes, a size nothing else allocates; those allocations are
//! counted. Other allocations are not: the timer wheel's 4,096 slots each allocate once, on
//! their first use in real time. One test only in this binary, so no other test thread
//! allocates meanwhile.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use mtcp::consts::*;
use std::net::SocketAddrV4;

use mtcp::{Config, Context, Errno, Ipv4Cidr, RunMode, SockId, Stack};

struct Counting;

/// Allocations of exactly `RING` bytes.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// `rcvbuf` and `sndbuf` of both stacks: a size no other allocation has.
const RING: usize = 12_345;

/// Bytes each way: more than the ring's last power-of-two step (8,192), so every ring that
/// starts empty grows to exactly `RING` bytes.
const TRANSFER: usize = 10_000;

fn count(size: usize) {
    if size == RING {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Two stacks on an in-memory hub, inline (run-to-completion) mode, driven from this thread.
struct Pair {
    server: Context,
    client: Context,
    server_addr: SocketAddrV4,
}

fn stack(addr: &str) -> Context {
    Stack::new(Config {
        port: vec!["no-alloc-connections".to_string()],
        addr: Some(Ipv4Cidr {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
        }),
        mode: RunMode::Inline,
        rcvbuf: RING,
        sndbuf: RING,
        ..Config::default()
    })
    .unwrap()
    .create_context(0)
    .unwrap()
}

impl Pair {
    /// Polls both contexts until `done` says so (at most 100 000 rounds).
    fn run_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..100_000 {
            self.server.poll();
            self.client.poll();
            if done() {
                return;
            }
        }
        panic!("{what} did not happen");
    }
}

/// Writes all of `data` on `sock` of `from`, polling both contexts while the send buffer is
/// full.
fn write_all(p: &Pair, from: &Context, sock: SockId, data: &[u8]) {
    let mut sent = 0;
    p.run_until("write", || {
        if let Ok(n) = from.write(sock, &data[sent..]) {
            sent += n;
        }
        sent == data.len()
    });
}

/// Reads exactly `want.len()` bytes from `sock` of `on` and checks them.
fn read_exact(p: &Pair, on: &Context, sock: SockId, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    let mut len = 0;
    p.run_until("read", || {
        if let Ok(n) = on.read(sock, &mut got[len..]) {
            len += n;
        }
        len == want.len()
    });
    assert_eq!(got, want);
}

/// One short connection: a 10,000 B request, its echo, the client closes, the server closes
/// on EOF; runs until both sides have left the flow table (`tcp_timewait` is 0, as in mTCP).
fn short_connection(p: &Pair, lsock: SockId, round: u64) {
    let request: Vec<u8> = (0..TRANSFER)
        .map(|i| (i as u64).wrapping_mul(7).wrapping_add(round) as u8)
        .collect();
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(p.client.connect(c, p.server_addr)),
        Errno::EINPROGRESS
    );
    let mut s = None;
    p.run_until("accept", || {
        s = p.server.accept(lsock).ok().map(|(s, _)| s);
        s.is_some()
    });
    let s = s.unwrap();
    write_all(p, &p.client, c, &request);
    read_exact(p, &p.server, s, &request);
    write_all(p, &p.server, s, &request);
    read_exact(p, &p.client, c, &request);
    p.client.close(c).unwrap();
    let mut buf = [0u8; 128];
    p.run_until("FIN", || matches!(p.server.read(s, &mut buf), Ok(0)));
    p.server.close(s).unwrap();
    p.run_until("the end of both flows", || {
        p.server.stats().flows == 0 && p.client.stats().flows == 0
    });
}

/// Ring allocations made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn short_connections_allocate_nothing_once_warm() {
    let p = Pair {
        server: stack("198.18.7.1"),
        client: stack("198.18.7.2"),
        server_addr: "198.18.7.1:80".parse().unwrap(),
    };
    let lsock = listener(&p.server, p.server_addr);
    // Warm-up: the first connections allocate their rings.
    for round in 0..20 {
        short_connection(&p, lsock, round);
    }
    let rounds = 50;
    let n = allocations(|| {
        for round in 0..rounds {
            short_connection(&p, lsock, 100 + round);
        }
    });
    // Without reuse each connection grows two rings per side to `RING` bytes (200 here).
    assert_eq!(
        n, 0,
        "{n} rings allocated in {rounds} warm short connections"
    );
}
