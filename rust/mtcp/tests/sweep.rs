//! A seeded sweep of whole connections through the simulated network (issue 5, "Done when"):
//! each seed opens a connection, sends `DEFAULT_BYTES` each way under seed-derived loss
//! (0–20%), reordering (0–10%), duplication (0–5%) and corruption (0–5%), with 8 KiB or
//! 64 KiB buffers and NewReno, CUBIC or BBR, and closes it. Every byte must arrive intact, both
//! sides must see the other's FIN, and both contexts must end with no connection left.
//!
//! CI runs `DEFAULT_SEEDS` seeds; `MTCP_SWEEP_SEEDS=3000` (`MTCP_SWEEP_FIRST` for the first
//! seed, `MTCP_SWEEP_BYTES` for the bytes each way) runs more by hand, e.g.
//! `MTCP_SWEEP_SEEDS=3000 cargo test --release -p mtcp --test sweep -- --nocapture`.
mod common;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant as WallClock;

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, SockId};
use mtcp_proto::Duration;

const DEFAULT_SEEDS: u64 = 1000;
const DEFAULT_BYTES: usize = 32 * 1024;

/// SplitMix64: independent-looking parameters from one seed.
fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed
        .wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A rate in `0..=max_percent` percent, in steps of 0.5 %.
fn rate(seed: u64, salt: u64, max_percent: u64) -> f64 {
    (mix(seed, salt) % (2 * max_percent + 1)) as f64 / 200.0
}

fn impairments(seed: u64) -> Impairments {
    Impairments {
        loss: rate(seed, 1, 20),
        reorder: rate(seed, 2, 10),
        duplicate: rate(seed, 3, 5),
        corrupt: rate(seed, 4, 5),
        delay_us: 50 + mix(seed, 5) % 2000,
        ..Impairments::default()
    }
}

fn config(seed: u64) -> Config {
    let buf = if mix(seed, 6) % 2 == 0 {
        8 * 1024
    } else {
        64 * 1024
    };
    Config {
        rcvbuf: buf,
        sndbuf: buf,
        cc: ["newreno", "cubic", "bbr"][(mix(seed, 7) % 3) as usize].into(),
        // mTCP's idle timeout would (rightly) reset a connection whose peer stayed silent for
        // 30 s of backed-off retransmissions at 20% loss; the sweep checks delivery.
        tcp_timeout: 0,
        // Linux's 6 SYN retransmissions fail one handshake in ~1,000 at 20% loss each way
        // (ETIMEDOUT, as configured); the sweep is about what happens after it.
        tcp_syn_retries: 30,
        // Long enough that a FIN whose ACKs were all lost is ACKed again (not reset) even
        // after several RTOs at the 60 s cap; the close must be orderly.
        tcp_timewait: 600,
        ..Config::default()
    }
}

/// Opens a connection, however many SYN retransmissions it takes.
fn connect(p: &SimPair, lsock: SockId) -> (SockId, SockId) {
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    (c, sim_handshake(p, c, lsock, Duration::from_secs(3600)))
}

/// What the network did over a sweep.
#[derive(Default)]
struct Totals {
    sent: u64,
    lost: u64,
    reordered: u64,
    duplicated: u64,
    corrupted: u64,
    /// Simulated time from connect until both sides had all data and the FIN.
    transfer: std::time::Duration,
}

/// One seed: connect, `len` bytes each way, both sides close; panics on any failure.
fn run_seed(seed: u64, len: usize, totals: &mut Totals) {
    let imp = impairments(seed);
    let p = sim_pair(seed, imp.clone(), config(seed));
    let l = listener(&p.server, p.server_addr);
    let start = p.net.now();
    let (c, s) = connect(&p, l);
    let up = pattern(len, 2 * seed);
    let down = pattern(len, 2 * seed + 1);
    let mut client = Pump::new(&p.client, c, up.clone());
    let mut server = Pump::new(&p.server, s, down.clone());
    let ok = p.net.run_until(Duration::from_secs(3600), &mut || {
        client.step();
        server.step();
        client.done() && server.done()
    });
    assert!(
        ok,
        "transfer did not finish ({} / {len} up, {} / {len} down) at {:?}; \
         {imp:?}; net {:?}",
        server.got.len(),
        client.got.len(),
        p.net.now(),
        p.net.stats()
    );
    let transfer_us = (p.net.now() - start).total_micros();
    assert!(server.got == up, "upstream bytes differ");
    assert!(client.got == down, "downstream bytes differ");
    p.client.close(c).unwrap();
    p.server.close(s).unwrap();
    // Both FINs are in; the last ACKs and TIME-WAIT (600 s) must drain both flow tables.
    let ok = p.net.run_until(Duration::from_secs(3600), &mut || {
        p.client.stats().flows == 0 && p.server.stats().flows == 0
    });
    assert!(
        ok,
        "connections did not close: client {:?} server {:?}",
        p.client.stats(),
        p.server.stats()
    );
    let net = p.net.stats();
    totals.sent += net.sent;
    totals.lost += net.lost;
    totals.reordered += net.reordered;
    totals.duplicated += net.duplicated;
    totals.corrupted += net.corrupted;
    totals.transfer += std::time::Duration::from_micros(transfer_us);
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn seeded_sweep_with_corruption_delivers_every_byte() {
    let first = env_u64("MTCP_SWEEP_FIRST", 0);
    let seeds = env_u64("MTCP_SWEEP_SEEDS", DEFAULT_SEEDS);
    let len = env_u64("MTCP_SWEEP_BYTES", DEFAULT_BYTES as u64) as usize;
    let started = WallClock::now();
    let mut failed = Vec::new();
    let mut totals = Totals::default();
    for seed in first..first + seeds {
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| run_seed(seed, len, &mut totals))) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            eprintln!("sweep: seed {seed} FAILED: {why}");
            failed.push(seed);
        }
    }
    eprintln!(
        "sweep: seeds {first}..{}: {} connections intact, {} bytes delivered, {} failed, \
         {:.1} s",
        first + seeds,
        seeds - failed.len() as u64,
        2 * len as u64 * (seeds - failed.len() as u64),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "sweep: frames sent {}, lost {}, reordered {}, duplicated {}, corrupted {}; \
         simulated transfer time {:.0} s",
        totals.sent,
        totals.lost,
        totals.reordered,
        totals.duplicated,
        totals.corrupted,
        totals.transfer.as_secs_f64()
    );
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}
