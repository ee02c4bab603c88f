//! The engine's per-packet cost through the public API, two run-to-completion (inline) contexts
//! on one in-memory hub, in one thread:
//!
//! * `engine_rx/write_read/N`: one 64 B request written by the client on one of `N`
//!   established connections and read by the server (client segment build and send, server
//!   receive burst, flow lookup, TCP input, copy out). The connections are visited in a
//!   scattered order so the flow table is not helped by the cache of the previous packet; a
//!   flat figure across N = 1, 1,000 and 10,000 shows the lookup is O(1).
//! * `engine_rx/server_read/N`: the same, timing the server's `read` only (its poll takes in
//!   the frame, looks the flow up and queues the data; in a trial run the server sent about one
//!   ACK per 16 requests, the window update after half the 2048 B buffer was read, RFC 1122
//!   §4.2.3.3). One clock read pair per packet is included.
//! * `engine_rpc/rpc_64B`: a 64 B request/response round trip on one connection.
//!
//! Setup (connections opened and accepted) is outside the measured loop.
use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mtcp::consts::*;
use mtcp::{Config, Context, Ipv4Cidr, RunMode, SockId, Stack};

const SERVER_IP: [u8; 4] = [198, 18, 9, 1];
const CLIENT_IP: [u8; 4] = [198, 18, 9, 2];
const PORT: u16 = 7;
const MSG: usize = 64;
/// Per-socket buffers, small so 10,000 connections fit in memory.
const BUF: usize = 2048;

fn stack(hub: &str, ip: [u8; 4], conns: usize) -> Stack {
    Stack::new(Config {
        port: vec![hub.to_string()],
        addr: Some(Ipv4Cidr {
            addr: ip.into(),
            prefix_len: 24,
        }),
        rcvbuf: BUF,
        sndbuf: BUF,
        max_concurrency: conns + 64,
        max_num_buffers: 2 * conns + 64,
        mode: RunMode::Inline,
        ..Config::default()
    })
    .expect("stack on the memory hub")
}

/// Two inline contexts on one hub with `n` established connections: the client's sockets and,
/// at the same index, the server's accepted socket of the same flow.
struct Established {
    server_stack: Stack,
    client_stack: Stack,
    server: Context,
    client: Context,
    pairs: Vec<(SockId, SockId)>,
    /// Requests the server did not find on its first read (reported, should be 0).
    stalls: Cell<u64>,
}

impl Established {
    fn open(hub: &str, n: usize) -> Established {
        let server_stack = stack(hub, SERVER_IP, n);
        let client_stack = stack(hub, CLIENT_IP, n);
        let server = server_stack.create_context(0).expect("server context");
        let client = client_stack.create_context(0).expect("client context");
        let listener = server.socket(AF_INET, SOCK_STREAM, 0).expect("socket");
        server
            .bind(listener, SocketAddrV4::new(SERVER_IP.into(), PORT))
            .expect("bind");
        server.listen(listener, 4096).expect("listen");
        let to = SocketAddrV4::new(SERVER_IP.into(), PORT);
        let mut accepted: HashMap<u16, SockId> = HashMap::with_capacity(n);
        let mut clients = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(120);
        // Connect in batches no larger than the backlog, accepting as the handshakes finish.
        while clients.len() < n || accepted.len() < n {
            assert!(
                Instant::now() < deadline,
                "setup stuck at {}",
                accepted.len()
            );
            let batch = (n - clients.len()).min(1024);
            for _ in 0..batch {
                let c = client.socket(AF_INET, SOCK_STREAM, 0).expect("socket");
                // Small segments go out at once, as in an RPC (no Nagle hold-back).
                client
                    .setsockopt(c, IPPROTO_TCP, TCP_NODELAY, 1)
                    .expect("nodelay");
                let _ = client.connect(c, to); // EINPROGRESS
                clients.push(c);
            }
            client.poll();
            server.poll();
            client.poll();
            while let Ok((s, peer)) = server.accept(listener) {
                server
                    .setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1)
                    .expect("nodelay");
                accepted.insert(peer.port(), s);
            }
        }
        let pairs = clients
            .iter()
            .map(|&c| {
                let port = client.getsockname(c).expect("getsockname").port();
                (c, accepted[&port])
            })
            .collect();
        Established {
            server_stack,
            client_stack,
            server,
            client,
            pairs,
            stalls: Cell::new(0),
        }
    }

    /// Sends one request on pair `i` (client side).
    fn send(&self, i: usize, msg: &[u8]) {
        let n = self
            .client
            .write(self.pairs[i].0, msg)
            .expect("client write");
        assert_eq!(n, msg.len(), "send buffer full: ACKs are not flowing");
    }

    /// Reads the request of pair `i` on the server.
    fn receive(&self, i: usize, buf: &mut [u8]) -> usize {
        let mut tries = 0;
        let n = loop {
            match self.server.read(self.pairs[i].1, buf) {
                Ok(n) => break n,
                // The client held the segment back (its window or cwnd, e.g. after an RTO):
                // let it take in the server's ACKs and send, and count the stall.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && tries < 1000 => {
                    tries += 1;
                    self.client.poll();
                }
                Err(e) => panic!("server read: {e}"),
            }
        };
        if tries > 0 {
            self.stalls.set(self.stalls.get() + 1);
        }
        assert_eq!(n, MSG, "request split across reads");
        n
    }
}

impl Drop for Established {
    fn drop(&mut self) {
        if self.stalls.get() > 0 {
            eprintln!(
                "note: {} requests needed more than one server read",
                self.stalls.get()
            );
        }
        self.client_stack.destroy();
        self.server_stack.destroy();
    }
}

/// Visits every index of `0..n` once per `n` calls, in a scattered order (a stride coprime
/// with `n`), so consecutive packets belong to unrelated flows.
struct Scatter {
    n: usize,
    stride: usize,
    at: usize,
}

impl Scatter {
    fn new(n: usize) -> Scatter {
        let mut stride = (n / 2 + 1).max(1) | 1;
        while gcd(stride, n) != 1 {
            stride += 2;
        }
        Scatter { n, stride, at: 0 }
    }

    fn next(&mut self) -> usize {
        self.at = (self.at + self.stride) % self.n;
        self.at
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn rx_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_rx");
    group.throughput(Throughput::Elements(1));
    let msg = [0x5au8; MSG];
    let mut buf = [0u8; BUF];
    for n in [1usize, 1_000, 10_000] {
        // A fresh set of connections per benchmark: the pause while criterion analyses one
        // benchmark would otherwise fire RTOs on the next one's connections.
        let pair = Established::open(&format!("bench-engine-wr-{n}"), n);
        let mut order = Scatter::new(n);
        group.bench_with_input(BenchmarkId::new("write_read", n), &n, |b, _| {
            b.iter(|| {
                let i = order.next();
                pair.send(i, &msg);
                black_box(pair.receive(i, &mut buf))
            })
        });
        drop(pair);
        let pair = Established::open(&format!("bench-engine-sr-{n}"), n);
        group.bench_with_input(BenchmarkId::new("server_read", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let i = order.next();
                    pair.send(i, &msg);
                    let t0 = Instant::now();
                    black_box(pair.receive(i, &mut buf));
                    spent += t0.elapsed();
                }
                spent
            })
        });
    }
    group.finish();
}

fn rpc(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_rpc");
    group.throughput(Throughput::Elements(1));
    let pair = Established::open("bench-engine-rpc", 1);
    let (client_sock, server_sock) = pair.pairs[0];
    let request = [0x5au8; MSG];
    let mut buf = [0u8; BUF];
    group.bench_function("rpc_64B", |b| {
        b.iter(|| {
            pair.send(0, &request);
            let n = pair.receive(0, &mut buf);
            let w = pair.server.write(server_sock, &buf[..n]).expect("reply");
            assert_eq!(w, n);
            let r = pair.client.read(client_sock, &mut buf).expect("response");
            assert_eq!(r, MSG, "response not delivered in one poll");
            black_box(r)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = engine_benches;
    config = config();
    targets = rx_path, rpc
}
criterion_main!(engine_benches);
