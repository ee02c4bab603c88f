#![allow(dead_code)]
//! Shared by the integration tests: two connections over a simulated link (quinn's `Pair`
//! pattern): a virtual clock that jumps to
//! the next deadline or delivery, one-way delay, and seeded loss, reordering and duplication from
//! a small xorshift generator, so every run is reproducible.
//!
//! Each test checks the bytes that arrive against the bytes that were sent, both ways.
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};

use mtcp_proto::tcp::{Connection, State, TcpConfig};
use mtcp_proto::time::{Duration, Instant};
use mtcp_proto::wire::{ChecksumCaps, SeqNumber, TcpRepr};

pub const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80);

/// xorshift64* (Vigna): tiny, seedable, good enough to draw link faults.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Link behaviour, applied to each direction independently.
#[derive(Clone, Copy)]
pub struct Link {
    pub delay: Duration,
    pub loss_percent: u64,
    pub reorder_percent: u64,
    pub duplicate_percent: u64,
}

impl Link {
    pub fn lossless(delay_ms: u64) -> Link {
        Link {
            delay: Duration::from_millis(delay_ms),
            loss_percent: 0,
            reorder_percent: 0,
            duplicate_percent: 0,
        }
    }
}

pub struct InFlight {
    pub deliver_at: Instant,
    /// Tie-breaker so equal delivery times keep send order.
    pub order: u64,
    pub to_server: bool,
    pub bytes: Vec<u8>,
}

/// One side: its connection (the server's appears with the first SYN) and its application.
pub struct Endpoint {
    pub conn: Option<Connection>,
    pub config: TcpConfig,
    pub addr: SocketAddrV4,
    pub peer: SocketAddrV4,
    /// Bytes this side's application sends, and how many went into `send` so far.
    pub outgoing: Vec<u8>,
    pub written: usize,
    pub shut: bool,
    /// Bytes received so far.
    pub received: Vec<u8>,
    pub eof: bool,
    /// A slow application: reads at most `.1` bytes every `.0`, so windows close.
    pub slow_reader: Option<(Duration, usize)>,
    pub next_read: Instant,
}

impl Endpoint {
    pub fn new(
        config: TcpConfig,
        addr: SocketAddrV4,
        peer: SocketAddrV4,
        outgoing: Vec<u8>,
    ) -> Self {
        Endpoint {
            conn: None,
            config,
            addr,
            peer,
            outgoing,
            written: 0,
            shut: false,
            received: Vec::new(),
            eof: false,
            slow_reader: None,
            next_read: Instant::ZERO,
        }
    }

    /// The application: write what fits, shut down when everything is written, read all.
    pub fn run_app(&mut self, now: Instant) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if !matches!(
            conn.state(),
            State::SynSent | State::SynReceived | State::Closed
        ) {
            while self.written < self.outgoing.len() {
                match conn.send(&self.outgoing[self.written..]) {
                    Ok(n) => self.written += n,
                    Err(_) => break,
                }
            }
            if self.written == self.outgoing.len() && !self.shut {
                conn.shutdown_write(now);
                self.shut = true;
            }
        }
        let mut buf = [0u8; 4096];
        let mut budget = usize::MAX;
        if let Some((interval, bytes)) = self.slow_reader {
            if now < self.next_read {
                return;
            }
            self.next_read = now + interval;
            budget = bytes;
        }
        while !self.eof && budget > 0 {
            let want = budget.min(buf.len());
            match conn.recv(&mut buf[..want], false) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.received.extend_from_slice(&buf[..n]);
                    budget -= n;
                }
                Err(e) => {
                    assert_eq!(e, mtcp_proto::Errno::EAGAIN, "unexpected recv error");
                    break;
                }
            }
        }
    }
}

pub struct Pair {
    pub now: Instant,
    pub link: Link,
    pub rng: Rng,
    pub client: Endpoint,
    pub server: Endpoint,
    pub in_flight: Vec<InFlight>,
    pub sent: u64,
    /// Hash of every segment put on the wire, with its time and direction.
    pub transcript: DefaultHasher,
    pub segments: u64,
    /// Scripted drops: called for every segment put on the wire (parsed, with its direction,
    /// true = client to server); returning true drops it.
    pub drop_if: Option<DropFilter>,
    /// Scripted delay: called with the send time and direction of every segment that is not
    /// dropped; its answer is added to the link's delay (a delay spike).
    pub delay_if: Option<DelayFilter>,
}

/// See [`Pair::drop_if`].
pub type DelayFilter = Box<dyn FnMut(Instant, bool) -> Duration>;

/// See [`Pair::drop_if`].
pub type DropFilter = Box<dyn FnMut(&TcpRepr<'_>, bool) -> bool>;

impl Pair {
    pub fn new(
        seed: u64,
        link: Link,
        client: TcpConfig,
        server: TcpConfig,
        c2s: usize,
        s2c: usize,
    ) -> Pair {
        let now = Instant::from_millis(1000);
        let mut client = Endpoint::new(client, CLIENT, SERVER, pattern(c2s, 1));
        let server = Endpoint::new(server, SERVER, CLIENT, pattern(s2c, 2));
        client.conn = Some(Connection::connect(
            &client.config,
            CLIENT,
            SERVER,
            SeqNumber(0xfffff000),
            now,
        ));
        Pair {
            now,
            link,
            rng: Rng::new(seed),
            client,
            server,
            in_flight: Vec::new(),
            sent: 0,
            transcript: DefaultHasher::new(),
            segments: 0,
            drop_if: None,
            delay_if: None,
        }
    }

    /// Everything each side wants to send goes onto the link, with faults drawn per segment.
    pub fn flush(&mut self) {
        let mut buf = vec![0u8; 1600];
        for to_server in [true, false] {
            let ep = if to_server {
                &mut self.client
            } else {
                &mut self.server
            };
            let Some(conn) = ep.conn.as_mut() else {
                continue;
            };
            while let Some(len) = conn.poll_transmit(self.now, &mut buf) {
                let bytes = buf[..len].to_vec();
                (self.now, to_server, &bytes).hash(&mut self.transcript);
                self.segments += 1;
                if let Some(filter) = self.drop_if.as_mut() {
                    let (src, dst) = if to_server {
                        (CLIENT, SERVER)
                    } else {
                        (SERVER, CLIENT)
                    };
                    let repr =
                        TcpRepr::parse(&bytes, *src.ip(), *dst.ip(), ChecksumCaps::default())
                            .expect("emitted segments parse");
                    if filter(&repr, to_server) {
                        continue;
                    }
                }
                if self.rng.chance(self.link.loss_percent) {
                    continue;
                }
                let copies = if self.rng.chance(self.link.duplicate_percent) {
                    2
                } else {
                    1
                };
                let extra = match self.delay_if.as_mut() {
                    Some(delay) => delay(self.now, to_server),
                    None => Duration::ZERO,
                };
                for _ in 0..copies {
                    let mut deliver_at = self.now + self.link.delay + extra;
                    if self.rng.chance(self.link.reorder_percent) {
                        let extra = self.rng.below(self.link.delay.total_micros() * 2 + 1);
                        deliver_at += Duration::from_micros(extra);
                    }
                    self.sent += 1;
                    self.in_flight.push(InFlight {
                        deliver_at,
                        order: self.sent,
                        to_server,
                        bytes: bytes.clone(),
                    });
                }
            }
        }
    }

    pub fn deliver(&mut self, packet: InFlight) {
        let (dst, src_addr, dst_addr) = if packet.to_server {
            (&mut self.server, CLIENT, SERVER)
        } else {
            (&mut self.client, SERVER, CLIENT)
        };
        let repr = TcpRepr::parse(
            &packet.bytes,
            *src_addr.ip(),
            *dst_addr.ip(),
            ChecksumCaps::default(),
        )
        .expect("every emitted segment parses with a valid checksum");
        match dst.conn.as_mut() {
            Some(conn) => conn.handle_segment(self.now, &repr),
            None => {
                assert!(
                    repr.flags.syn() && !repr.flags.ack(),
                    "first segment at the server is a SYN"
                );
                dst.conn = Some(Connection::accept(
                    &dst.config,
                    dst.addr,
                    dst.peer,
                    &repr,
                    SeqNumber(7_000_000),
                    self.now,
                ));
            }
        }
    }

    /// One step: app work, transmit, then jump to the next event and process it.
    /// Returns false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        let now = self.now;
        self.client.run_app(now);
        self.server.run_app(now);
        self.flush();
        let timeouts = [&self.client, &self.server]
            .into_iter()
            .filter_map(|ep| ep.conn.as_ref().and_then(|c| c.poll_timeout()));
        let delivery = self.in_flight.iter().map(|p| p.deliver_at).min();
        let app_wakeups = [&self.client, &self.server]
            .into_iter()
            .filter(|ep| ep.slow_reader.is_some() && ep.conn.is_some() && !ep.eof)
            .map(|ep| ep.next_read);
        let Some(next) = timeouts.chain(delivery).chain(app_wakeups).min() else {
            return false;
        };
        self.now = self.now.max(next);
        // Deliver everything due, in (time, send order).
        loop {
            let due = self
                .in_flight
                .iter()
                .enumerate()
                .filter(|(_, p)| p.deliver_at <= self.now)
                .min_by_key(|(_, p)| (p.deliver_at, p.order))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let packet = self.in_flight.swap_remove(i);
            self.deliver(packet);
        }
        for ep in [&mut self.client, &mut self.server] {
            if let Some(conn) = ep.conn.as_mut() {
                if conn.poll_timeout().is_some_and(|t| t <= self.now) {
                    conn.handle_timeout(self.now);
                }
            }
        }
        true
    }

    /// Runs until both sides have closed, or panics after `limit` of simulated time.
    pub fn run(&mut self, limit: Duration) {
        let deadline = self.now + limit;
        while self.step() {
            assert!(
                self.now < deadline,
                "transfer did not finish in {limit:?}: {}",
                self.describe()
            );
            if self.done() {
                break;
            }
        }
    }

    /// The hash of everything put on the wire so far.
    pub fn transcript_hash(&self) -> u64 {
        self.transcript.finish()
    }

    /// Both connections are closed and both applications have read to the end.
    pub fn done(&self) -> bool {
        let closed = |ep: &Endpoint| ep.eof && ep.conn.as_ref().is_some_and(|c| c.is_closed());
        closed(&self.client) && closed(&self.server)
    }

    pub fn describe(&self) -> String {
        let side = |ep: &Endpoint| match ep.conn.as_ref() {
            Some(c) => format!(
                "{} written {}/{} received {} eof {} sendq {} rto {:?} cwnd {} wnd {}",
                c.state(),
                ep.written,
                ep.outgoing.len(),
                ep.received.len(),
                ep.eof,
                c.send_queue(),
                c.rto(),
                c.cwnd(),
                c.send_window()
            ),
            None => "none".into(),
        };
        format!(
            "client: {}; server: {}",
            side(&self.client),
            side(&self.server)
        )
    }

    pub fn check_intact(&self) {
        assert!(self.client.eof && self.server.eof, "{}", self.describe());
        assert!(
            self.server.received == self.client.outgoing,
            "client→server bytes differ"
        );
        assert!(
            self.client.received == self.server.outgoing,
            "server→client bytes differ"
        );
        for ep in [&self.client, &self.server] {
            let conn = ep.conn.as_ref().unwrap();
            assert_eq!(conn.state(), State::Closed);
            assert_eq!(conn.peek_error(), None);
            assert_eq!(conn.send_queue(), 0, "everything sent was acknowledged");
        }
    }
}

/// Deterministic bytes that reveal misordering: not periodic at any small stride.
pub fn pattern(len: usize, salt: u64) -> Vec<u8> {
    let mut rng = Rng::new(salt);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Buffers of `buf` bytes; a TIME-WAIT long enough that a lost last ACK is repaired by the
/// peer's FIN retransmission instead of being answered with RST.
pub fn config(buf: usize) -> TcpConfig {
    TcpConfig {
        rcvbuf: buf,
        sndbuf: buf,
        timewait: Duration::from_secs(2),
        ..TcpConfig::default()
    }
}

pub fn lossy() -> Link {
    Link {
        delay: Duration::from_millis(10),
        loss_percent: 5,
        reorder_percent: 5,
        duplicate_percent: 1,
    }
}

pub const MIB: usize = 1 << 20;

/// Seeds per lossy configuration.
pub const SEEDS: u64 = 20;

pub fn lossy_transfer(seed: u64, buf: usize) {
    let mut pair = Pair::new(seed, lossy(), config(buf), config(buf), MIB, MIB);
    pair.run(Duration::from_secs(3600));
    pair.check_intact();
}
