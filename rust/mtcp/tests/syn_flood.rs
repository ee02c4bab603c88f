//! A SYN flood in the simulated network (issue 5 item 8, RFC 4987): spoofed SYNs far above
//! the backlog, whose SYN-ACKs nobody answers, while legitimate clients connect. With SYN
//! cookies (`tcp_syncookies = 1`, the default) the legitimate connections complete and the
//! server's state stays bounded; with `tcp_syncookies = 0` the SYN queue stays full of spoofed
//! half-open connections and legitimate clients are locked out.
mod common;
mod raw_frames;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::*;
use mtcp::consts::*;
use mtcp::sim::{Impairments, Network};
use mtcp::{Config, Errno};
use mtcp_io::PacketIo;
use mtcp_proto::wire::{SeqNumber, TcpFlags, TcpRepr};
use mtcp_proto::Duration;
use raw_frames::*;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const ATTACKER_MAC: [u8; 6] = [0x02, 0x66, 0, 0, 0, 1];
/// The half-open limit a listener with backlog 128 has (max(backlog, 128)).
const SYN_QUEUE: u64 = 128;

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A SYN from a random spoofed address of the /15 (never one of the real hosts) and port.
fn spoofed_syn(rng: &mut Xorshift) -> Vec<u8> {
    let r = rng.next();
    let host = 256 + (r as u32 % (2 * 65536 - 512)); // skips 198.18.0.x
    let src_ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + host);
    let mut syn = TcpRepr::new(1024 + (r >> 32) as u16 % 60000, 80);
    syn.seq_number = SeqNumber((r >> 16) as u32);
    syn.flags = TcpFlags::SYN;
    syn.window_len = 64240;
    syn.max_seg_size = Some(1460);
    tcp_frame(ATTACKER_MAC, host_mac(SERVER), src_ip, SERVER, &syn)
}

struct FloodOutcome {
    legit: usize,
    /// Legitimate connections established within `deadline` of their connect.
    completed: usize,
    max_flows: u64,
    max_sockets: u64,
    syn_acks_to_attacker: usize,
    slowest: Duration,
}

/// `spoofed` SYNs over `flood_ms` (one batch per millisecond) while `legit` clients connect,
/// evenly spread over the flood; then one more second.
fn flood(syncookies: u8, seed: u64, spoofed: usize, legit: usize, flood_ms: u64) -> FloodOutcome {
    let imp = Impairments {
        delay_us: 1000,
        ..Impairments::default()
    };
    let net = Network::new(seed, imp);
    let config = Config {
        tcp_syncookies: syncookies,
        ..Config::default()
    };
    let server = net.add_host(SERVER, config.clone()).unwrap();
    let client = net.add_host(CLIENT, config).unwrap();
    let server = server.create_context(0).unwrap();
    let client = client.create_context(0).unwrap();
    let lsock = listener(&server, SocketAddrV4::new(SERVER, 80));
    let mut attacker = net.fabric().attach(ATTACKER_MAC, 1).pop().unwrap();
    let mut rng = Xorshift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);

    let deadline = Duration::from_secs(3);
    let mut pending: Vec<(i32, mtcp_proto::Instant)> = Vec::new();
    let mut out = FloodOutcome {
        legit,
        completed: 0,
        max_flows: 0,
        max_sockets: 0,
        syn_acks_to_attacker: 0,
        slowest: Duration::ZERO,
    };
    let (mut sent, mut started) = (0usize, 0usize);
    let total_ms = flood_ms + 1000;
    for ms in 0..total_ms {
        // The flood: this millisecond's share of the spoofed SYNs.
        let due = if ms < flood_ms {
            spoofed * (ms as usize + 1) / flood_ms as usize
        } else {
            spoofed
        };
        while sent < due {
            inject(&mut attacker, &spoofed_syn(&mut rng));
            sent += 1;
        }
        attacker.flush();
        // The legitimate clients.
        if started < legit && ms >= started as u64 * flood_ms / legit as u64 {
            let c = client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
            let err = errno(client.connect(c, SocketAddrV4::new(SERVER, 80)));
            assert_eq!(err, Errno::EINPROGRESS);
            pending.push((c, net.now()));
            started += 1;
        }
        net.run_for(Duration::from_millis(1));
        while server.accept(lsock).is_ok() {}
        let now = net.now();
        pending.retain(|&(c, at)| {
            if client.getpeername(c).is_ok() {
                if now - at <= deadline {
                    out.completed += 1;
                    out.slowest = out.slowest.max(now - at);
                }
                false
            } else {
                now - at <= deadline
            }
        });
        out.syn_acks_to_attacker += drain(&mut attacker);
        let stats = server.stats();
        out.max_flows = out.max_flows.max(stats.flows);
        out.max_sockets = out.max_sockets.max(stats.sockets_in_use);
    }
    assert_eq!(sent, spoofed);
    assert_eq!(started, legit);
    out
}

#[test]
fn syn_flood_with_cookies_lets_legitimate_clients_in_with_bounded_state() {
    // 50,000 spoofed SYNs in 5 s (10,000/s, ~390× the backlog) and 500 clients.
    let o = flood(1, 1, 50_000, 500, 5_000);
    println!(
        "cookies on: {}/{} legitimate connections within 3 s (slowest {:?}), max flows {}, \
         max sockets {}, {} frames to the attacker",
        o.completed, o.legit, o.slowest, o.max_flows, o.max_sockets, o.syn_acks_to_attacker
    );
    assert!(
        o.completed * 100 >= o.legit * 99,
        "only {}/{} completed",
        o.completed,
        o.legit
    );
    // Nothing grows with the flood: the SYN queue's 128 spoofed half-open connections, plus
    // the accepted legitimate connections (the sockets the application holds).
    assert!(
        o.max_flows <= SYN_QUEUE + o.legit as u64 + 8,
        "{} flows",
        o.max_flows
    );
    assert!(
        o.max_sockets <= o.legit as u64 + 2,
        "{} sockets",
        o.max_sockets
    );
    // Every spoofed SYN beyond the queue got a cookie SYN-ACK (and nothing else was kept).
    assert!(o.syn_acks_to_attacker >= 50_000 - SYN_QUEUE as usize);
}

#[test]
fn syn_flood_without_cookies_locks_legitimate_clients_out() {
    let o = flood(0, 1, 50_000, 500, 5_000);
    println!(
        "cookies off: {}/{} legitimate connections within 3 s, max flows {}",
        o.completed, o.legit, o.max_flows
    );
    // The SYN queue is full of spoofed half-open connections (their SYN-ACKs are retried for
    // two minutes): legitimate SYNs are dropped.
    assert!(
        o.completed * 10 < o.legit,
        "{}/{} completed without cookies",
        o.completed,
        o.legit
    );
    assert!(o.max_flows <= SYN_QUEUE + o.legit as u64 + 8);
}

#[test]
fn always_cookies_keep_no_half_open_state() {
    // tcp_syncookies = 2: every SYN is answered with a cookie, so a flood leaves no flow at
    // all, and a legitimate connection (opened by its cookie) carries data both ways.
    let p = sim_pair(
        3,
        Impairments::default(),
        Config {
            tcp_syncookies: 2,
            rcvbuf: 256 * 1024,
            sndbuf: 256 * 1024,
            ..Config::default()
        },
    );
    let l = listener(&p.server, p.server_addr);
    let mut attacker = p.net.fabric().attach(ATTACKER_MAC, 1).pop().unwrap();
    let mut rng = Xorshift(99);
    for _ in 0..1000 {
        inject(&mut attacker, &spoofed_syn(&mut rng));
    }
    attacker.flush();
    p.net.run_for(Duration::from_millis(50));
    assert_eq!(p.server.stats().flows, 0);
    assert_eq!(drain(&mut attacker), 1000, "one SYN-ACK per SYN");

    let (c, s) = sim_connect(&p, l);
    let data = pattern(200_000, 3);
    let got = transfer_one_way(&p, c, s, &data, Duration::from_secs(30));
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
    assert_eq!(p.server.write(s, b"pong").unwrap(), 4);
    let mut reply = [0u8; 4];
    assert!(p.net.run_until(Duration::from_secs(5), &mut || p
        .client
        .read(c, &mut reply)
        .is_ok()));
    assert_eq!(&reply, b"pong");
}
