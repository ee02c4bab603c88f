//! BBR (`cc = bbr`, `TCP_CA_BBR`) against CUBIC in the simulated network: under random loss
//! BBR keeps its rate where CUBIC cuts its window on every loss, and on a rate-limited
//! bottleneck with a deep queue it fills the link without filling the queue. Same seed,
//! same network, only the controller differs.
mod common;
use std::net::SocketAddrV4;

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno, SockId};
use mtcp_proto::{Duration, Instant};

fn config(cc: &str, buffer: usize) -> Config {
    Config {
        rcvbuf: buffer,
        sndbuf: buffer,
        cc: cc.into(),
        ..Config::default()
    }
}

/// Seconds of virtual time to move `len` bytes client → server (checked byte for byte).
fn transfer_secs(seed: u64, imp: Impairments, config: Config, len: usize) -> f64 {
    let p = sim_pair(seed, imp, config);
    let l = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, l);
    let start = p.net.now();
    let data = pattern(len, seed);
    let got = transfer_one_way(&p, c, s, &data, Duration::from_secs(3600));
    assert!(got == data, "seed {seed}: {} of {len} bytes", got.len());
    (p.net.now() - start).total_micros() as f64 / 1e6
}

#[test]
fn bbr_goodput_at_one_percent_loss_is_several_times_cubics() {
    // 100 ms RTT, 1% random loss each way, 4 MiB buffers (goodput.md's set-up), 4 MiB.
    // Measured: BBR 1.30 s and 1.36 s, CUBIC 22.0 s and 23.5 s (17x).
    let imp = Impairments {
        loss: 0.01,
        delay_us: 50_000,
        queue_bytes: 64 << 20,
        ..Impairments::default()
    };
    for seed in [1, 2] {
        let cubic = transfer_secs(seed, imp.clone(), config("cubic", 4 << 20), 4 << 20);
        let bbr = transfer_secs(seed, imp.clone(), config("bbr", 4 << 20), 4 << 20);
        eprintln!("seed {seed}: cubic {cubic:.2} s, bbr {bbr:.2} s");
        assert!(
            bbr * 10.0 < cubic,
            "seed {seed}: bbr {bbr:.2} s is not 10x faster than cubic {cubic:.2} s"
        );
    }
}

/// 20 Mbit/s, 40 ms RTT (BDP 100 kB) and a 1 MB queue: 400 ms of buffering.
fn deep_bottleneck() -> Impairments {
    Impairments {
        rate_bps: Some(20_000_000),
        queue_bytes: 1_000_000,
        delay_us: 20_000,
        ..Impairments::default()
    }
}

/// What one bulk flow through `deep_bottleneck()` did, with a ping connection alongside.
struct Run {
    /// Goodput from 1 s after the start to the end, bits/s.
    steady_goodput_bps: f64,
    /// Median round trip of 1-byte pings echoed by the server, sent every 50 ms after the
    /// first second.
    median_ping: Duration,
}

fn bulk_with_pings(seed: u64, cc: &str, len: usize) -> Run {
    let p = sim_pair(seed, deep_bottleneck(), config(cc, 4 << 20));
    let bulk_listener = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, bulk_listener);
    let ping_addr: SocketAddrV4 = "198.18.0.1:7".parse().unwrap();
    let ping_listener = listener(&p.server, ping_addr);
    let pc = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    p.client
        .setsockopt(pc, IPPROTO_TCP, TCP_NODELAY, 1)
        .unwrap();
    let _ = p.client.connect(pc, ping_addr);
    let mut ps: Option<SockId> = None;

    let start = p.net.now();
    let data = pattern(len, seed);
    let (mut sent, mut got) = (0usize, Vec::with_capacity(len));
    let mut buf = vec![0u8; 65536];
    let mut steady_mark: Option<(Instant, usize)> = None;
    let mut ping_sent: Option<Instant> = None;
    let mut next_ping = start + Duration::from_secs(1);
    let mut pings: Vec<Duration> = Vec::new();
    let would_block = |e: &std::io::Error| mtcp::errno_of(e) == Some(Errno::EAGAIN);
    let done = p.net.run_until(Duration::from_secs(600), &mut || {
        let now = p.net.now();
        while sent < len {
            match p.client.write(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if would_block(&e) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        loop {
            match p.server.read(s, &mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                Ok(_) => break,
                Err(e) if would_block(&e) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        if steady_mark.is_none() && now >= start + Duration::from_secs(1) {
            steady_mark = Some((now, got.len()));
        }
        // The ping: server echoes, client times it.
        if ps.is_none() {
            ps = p.server.accept(ping_listener).ok().map(|(s, _)| s);
        }
        if let Some(ps) = ps {
            let mut one = [0u8; 16];
            if let Ok(n) = p.server.read(ps, &mut one) {
                if n > 0 {
                    p.server.write(ps, &one[..n]).unwrap();
                }
            }
            let mut echo = [0u8; 16];
            if let (Some(at), Ok(n)) = (ping_sent, p.client.read(pc, &mut echo)) {
                if n > 0 {
                    pings.push(now - at);
                    ping_sent = None;
                }
            }
            if ping_sent.is_none()
                && now >= next_ping
                && got.len() < len
                && p.client.write(pc, b"p").is_ok()
            {
                ping_sent = Some(now);
                next_ping = now + Duration::from_millis(50);
            }
        }
        got.len() == len
    });
    assert!(
        done && got == data,
        "seed {seed} {cc}: {} of {len} bytes",
        got.len()
    );
    let (mark_at, mark_bytes) = steady_mark.expect("transfer shorter than 1 s");
    let secs = (p.net.now() - mark_at).total_micros() as f64 / 1e6;
    pings.sort();
    assert!(pings.len() >= 5, "{cc}: only {} pings", pings.len());
    Run {
        steady_goodput_bps: (len - mark_bytes) as f64 * 8.0 / secs,
        median_ping: pings[pings.len() / 2],
    }
}

#[test]
fn bbr_fills_a_deep_bottleneck_without_filling_its_queue() {
    // 8 MiB through 20 Mbit/s takes ~3.5 s. CUBIC with 4 MiB buffers grows until the 1 MB
    // queue overflows, so a ping waits behind ~400 ms of data; BBR paces at the measured
    // bottleneck rate and keeps at most ~1 BDP queued.
    let len = 8 << 20;
    let cubic = bulk_with_pings(3, "cubic", len);
    let bbr = bulk_with_pings(3, "bbr", len);
    eprintln!(
        "cubic: {:.2} Mbit/s, median ping {:?}; bbr: {:.2} Mbit/s, median ping {:?}",
        cubic.steady_goodput_bps / 1e6,
        cubic.median_ping,
        bbr.steady_goodput_bps / 1e6,
        bbr.median_ping
    );
    assert!(
        bbr.steady_goodput_bps >= 0.9 * 20e6,
        "bbr reaches {:.2} Mbit/s of 20",
        bbr.steady_goodput_bps / 1e6
    );
    assert!(
        bbr.median_ping.total_micros() * 3 < cubic.median_ping.total_micros(),
        "bbr ping {:?}, cubic {:?}",
        bbr.median_ping,
        cubic.median_ping
    );
    assert!(
        bbr.median_ping < Duration::from_millis(120),
        "bbr ping {:?} on a 40 ms path",
        bbr.median_ping
    );
}

#[test]
fn tcp_congestion_selects_bbr_per_socket() {
    let p = sim_pair(4, Impairments::default(), config("cubic", 64 << 10));
    let s = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        p.client.getsockopt(s, IPPROTO_TCP, TCP_CONGESTION).unwrap(),
        TCP_CA_CUBIC
    );
    p.client
        .setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, TCP_CA_BBR)
        .unwrap();
    assert_eq!(
        p.client.getsockopt(s, IPPROTO_TCP, TCP_CONGESTION).unwrap(),
        TCP_CA_BBR
    );
    let p = sim_pair(4, Impairments::default(), config("bbr", 64 << 10));
    let s = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        p.client.getsockopt(s, IPPROTO_TCP, TCP_CONGESTION).unwrap(),
        TCP_CA_BBR
    );
}
