//! Loss recovery in the two-connection harness: SACK-based recovery (RFC 6675), RACK-TLP
//! (RFC 8985), D-SACK (RFC 2883), CUBIC (RFC 9438) and keepalive, each against the same
//! scenario with the feature off, so every test fails without its feature.
mod common;

use common::*;
use mtcp_proto::tcp::{CongestionAlgorithm, KeepAlive, State, TcpConfig, TcpStats};
use mtcp_proto::time::Duration;
use mtcp_proto::Errno;

/// 20 ms RTT, 5% random loss each way, nothing else.
fn five_percent_loss() -> Link {
    Link {
        loss_percent: 5,
        ..Link::lossless(10)
    }
}

/// One MiB client → server; returns the virtual time it took and the client's counters.
fn one_way(seed: u64, link: Link, client: TcpConfig, server: TcpConfig) -> (Duration, TcpStats) {
    let pair = Pair::new(seed, link, client, server, MIB, 0);
    deliver_all(pair, MIB, Duration::from_secs(3600))
}

/// Runs `pair` until the server has all `bytes`, then to the end; returns the time the data
/// took (handshake included, TIME-WAIT not) and the client's counters.
fn deliver_all(mut pair: Pair, bytes: usize, limit: Duration) -> (Duration, TcpStats) {
    let start = pair.now;
    while pair.server.received.len() < bytes {
        assert!(
            pair.step() && pair.now < start + limit,
            "{}",
            pair.describe()
        );
    }
    let took = pair.now - start;
    pair.run(limit);
    pair.check_intact();
    (took, pair.client.conn.as_ref().unwrap().stats())
}

/// Data segments (client → server) whose first transmission starts at one of `starts` are
/// dropped; returns the filter.
fn drop_first_transmission(starts: Vec<u32>) -> DropFilter {
    let mut pending = starts;
    Box::new(move |seg, to_server| {
        if !to_server || seg.payload.is_empty() {
            return false;
        }
        match pending.iter().position(|&s| s == seg.seq_number.0) {
            Some(i) => {
                pending.swap_remove(i);
                true
            }
            None => false,
        }
    })
}

/// Client's first data byte (the harness's client ISS is 0xfffff000).
const DATA_START: u32 = 0xfffff001;
/// Payload per segment with timestamps on.
const MSS: u32 = 1448;

fn seg_start(index: u32) -> u32 {
    DATA_START.wrapping_add(index * MSS)
}

#[test]
fn sack_recovery_is_not_rto_bound_at_five_percent_loss() {
    // 1 MiB at 20 ms RTT with 5% loss each way: with the scoreboard, RACK and TLP every
    // seed finishes within 4.5 s of virtual time and with at most 3 RTOs; without SACK
    // (NewReno, go-back-N after a timeout) the same seeds are RTO-bound.
    let mut with_sack = Duration::ZERO;
    let mut without = Duration::ZERO;
    for seed in 0..8 {
        let cfg = config(256 * 1024);
        let (t, stats) = one_way(seed, five_percent_loss(), cfg.clone(), cfg);
        assert!(
            t < Duration::from_millis(4500) && stats.timeouts <= 3,
            "seed {seed}: {t:?}, {stats:?}"
        );
        assert!(
            stats.fast_recoveries > 2 * stats.timeouts,
            "seed {seed}: {stats:?}"
        );
        with_sack += t;
        let plain = TcpConfig {
            sack: false,
            ..config(256 * 1024)
        };
        let (t, stats) = one_way(seed, five_percent_loss(), plain.clone(), plain);
        assert!(
            stats.timeouts > 5,
            "seed {seed}: NewReno without SACK: {stats:?}"
        );
        without += t;
    }
    assert!(
        with_sack.total_micros() * 2 < without.total_micros(),
        "SACK {with_sack:?} vs none {without:?}"
    );
}

/// Runs `bytes` client → server with scripted drops on a lossless 20 ms RTT link.
fn scripted(client: TcpConfig, bytes: usize, drops: Vec<u32>) -> (Duration, TcpStats) {
    let server = config(256 * 1024);
    let mut pair = Pair::new(1, Link::lossless(10), client, server, bytes, 0);
    pair.drop_if = Some(drop_first_transmission(drops));
    deliver_all(pair, bytes, Duration::from_secs(60))
}

/// When the server's application first holds `bytes` bytes, with `drops` scripted.
fn time_to_receive(client: TcpConfig, total: usize, bytes: usize, drops: Vec<u32>) -> Duration {
    let mut pair = Pair::new(1, Link::lossless(10), client, config(256 * 1024), total, 0);
    pair.drop_if = Some(drop_first_transmission(drops));
    let start = pair.now;
    while pair.server.received.len() < bytes {
        assert!(pair.step(), "{}", pair.describe());
    }
    pair.now - start
}

#[test]
fn several_drops_in_one_window_repaired_in_one_round_trip() {
    // 120 segments; four holes in one window (segments 40, 43, 46, 49 of the fourth flight).
    let drops = vec![seg_start(40), seg_start(43), seg_start(46), seg_start(49)];
    let bytes = 120 * MSS as usize;
    let past_holes = 50 * MSS as usize;
    let rtt = Duration::from_millis(20);
    let lossless = time_to_receive(config(256 * 1024), bytes, past_holes, vec![]);
    // SACK recovery resends exactly the four holes at once: one recovery episode, no
    // timeout, and the data past the last hole is in about one round trip late (RACK waits
    // a quarter of the minimum RTT for reordering).
    let sack = time_to_receive(config(256 * 1024), bytes, past_holes, drops.clone());
    assert!(
        sack <= lossless + rtt + rtt,
        "{sack:?} vs {lossless:?} lossless"
    );
    let (_, stats) = scripted(config(256 * 1024), bytes, drops.clone());
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert_eq!(stats.fast_recoveries, 1, "{stats:?}");
    // The four holes, and at most two segments the first ACK could not report (three SACK
    // blocks fit), which RACK calls lost and the peer's D-SACK reveals.
    assert!((4..=6).contains(&stats.retransmitted_segments), "{stats:?}");
    // NewReno without SACK repairs one hole per round trip (RFC 6582 partial ACKs).
    let plain = TcpConfig {
        sack: false,
        ..config(256 * 1024)
    };
    let newreno = time_to_receive(plain, bytes, past_holes, drops);
    assert!(
        newreno >= lossless + rtt.saturating_mul(4),
        "{newreno:?} vs {lossless:?}"
    );
}

#[test]
fn tail_loss_probe_repairs_a_dropped_last_segment_before_the_rto() {
    let bytes = 30 * MSS as usize;
    let last = seg_start(29);
    let (lossless, _) = scripted(config(256 * 1024), bytes, vec![]);
    let (t, stats) = scripted(config(256 * 1024), bytes, vec![last]);
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert_eq!(stats.tail_loss_probes, 1, "{stats:?}");
    assert!(
        t < lossless + Duration::from_millis(150),
        "{t:?} vs {lossless:?}"
    );
    // The last three lost: the probe (last segment again) is SACKed, RACK marks the others.
    let (t3, stats) = scripted(
        config(256 * 1024),
        bytes,
        vec![seg_start(27), seg_start(28), last],
    );
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert_eq!(stats.tail_loss_probes, 1, "{stats:?}");
    assert!(
        t3 < lossless + Duration::from_millis(150),
        "{t3:?} vs {lossless:?}"
    );
    // Without RACK-TLP the RTO (≥ 200 ms) repairs it.
    let no_rack = TcpConfig {
        rack: false,
        ..config(256 * 1024)
    };
    let (t_rto, stats) = scripted(no_rack, bytes, vec![last]);
    assert_eq!(stats.timeouts, 1, "{stats:?}");
    assert!(t_rto >= lossless + Duration::from_millis(200), "{t_rto:?}");
}

#[test]
fn dsack_reports_duplicates() {
    // The network duplicates 10% of segments: the receiver reports each duplicate in a
    // D-SACK block (RFC 2883) and the sender counts them.
    let link = Link {
        duplicate_percent: 10,
        ..Link::lossless(10)
    };
    let cfg = config(64 * 1024);
    let (_, stats) = one_way(7, link, cfg.clone(), cfg);
    assert!(stats.dsacks_received > 10, "{stats:?}");
    assert_eq!(
        stats.retransmitted_segments, 0,
        "duplicates are not losses: {stats:?}"
    );
}

#[test]
fn cubic_and_newreno_both_deliver_under_loss_and_reordering() {
    for congestion in [CongestionAlgorithm::Cubic, CongestionAlgorithm::NewReno] {
        for seed in 0..4 {
            let cfg = TcpConfig {
                congestion,
                ..config(64 * 1024)
            };
            let mut pair = Pair::new(seed, lossy(), cfg.clone(), cfg, MIB / 2, MIB / 2);
            pair.run(Duration::from_secs(3600));
            pair.check_intact();
        }
    }
}

#[test]
fn keepalive_detects_a_dead_peer() {
    let keepalive = KeepAlive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    };
    let run = |keepalive: Option<KeepAlive>| {
        let client = TcpConfig {
            keepalive,
            ..config(64 * 1024)
        };
        let mut pair = Pair::new(1, Link::lossless(10), client, config(64 * 1024), 0, 0);
        // Keep both sides open: no shutdown, so the connection idles once established.
        pair.client.shut = true;
        pair.server.shut = true;
        while pair
            .server
            .conn
            .as_ref()
            .is_none_or(|c| c.state() != State::Established)
        {
            assert!(pair.step());
        }
        // Answered probes keep it alive for a minute.
        let until = pair.now + Duration::from_secs(60);
        while pair.now < until && pair.step() {}
        let client = pair.client.conn.as_ref().unwrap();
        assert_eq!(client.state(), State::Established);
        let answered = client.stats().keepalive_probes;
        // Then the peer vanishes.
        pair.link.loss_percent = 100;
        let dead_at = pair.now;
        while pair.client.conn.as_ref().unwrap().state() != State::Closed && pair.step() {
            assert!(pair.now < dead_at + Duration::from_secs(100));
        }
        (pair, answered, dead_at)
    };
    let (pair, answered, dead_at) = run(Some(keepalive));
    assert!(answered >= 5, "about one probe per idle period: {answered}");
    let client = pair.client.conn.as_ref().unwrap();
    assert_eq!(client.peek_error(), Some(Errno::ETIMEDOUT));
    let took = pair.now - dead_at;
    // At most idle + count · interval after the last answer, which came at most idle earlier.
    assert!(took <= Duration::from_secs(10 + 3 * 2), "{took:?}");
    assert!(took >= Duration::from_secs(3 * 2), "{took:?}");
    // Without keepalive nothing happens: no timer is left, the connection stays open.
    let (pair, answered, _) = run(None);
    assert_eq!(answered, 0);
    assert_eq!(
        pair.client.conn.as_ref().unwrap().state(),
        State::Established
    );
}

#[test]
fn a_receiver_pausing_half_a_millisecond_on_a_microsecond_link_draws_no_probe() {
    // 50 µs each way (a LAN, the in-memory link), nothing lost; every 2 ms the receiver
    // stalls for 0.5 ms (its thread busy elsewhere), so its ACKs leave at the end of the
    // stall. 2·SRTT (~0.2 ms) alone is shorter than the stall: without the PTO's slack (Linux's
    // TCP_TIMEOUT_MIN) a tail-loss probe fires in nearly every stall, resending data that
    // was never lost.
    let link = Link {
        delay: Duration::from_micros(50),
        ..Link::lossless(0)
    };
    let mut pair = Pair::new(7, link, config(256 * 1024), config(256 * 1024), 8 * MIB, 0);
    pair.delay_if = Some(Box::new(|now, to_server| {
        let in_period = now.total_micros() % 2_000;
        if !to_server && in_period < 500 {
            Duration::from_micros(500 - in_period)
        } else {
            Duration::ZERO
        }
    }));
    let (_, stats) = deliver_all(pair, 8 * MIB, Duration::from_secs(60));
    assert_eq!(stats.tail_loss_probes, 0, "{stats:?}");
    assert_eq!(stats.retransmitted_segments, 0, "{stats:?}");
    assert_eq!(stats.timeouts, 0, "{stats:?}");
}
