//! BBR (`CongestionAlgorithm::Bbr`) in the two-connection harness: ProbeRTT visits on a long
//! flow (draft-ietf-ccwg-bbr §5.3.4: the min RTT expires after 10 s), and intact delivery
//! under loss, reordering and duplication.
mod common;

use common::*;
use mtcp_proto::tcp::{BbrMode, CongestionAlgorithm, TcpConfig};
use mtcp_proto::time::{Duration, Instant};

fn bbr(buf: usize) -> TcpConfig {
    TcpConfig {
        congestion: CongestionAlgorithm::Bbr,
        ..config(buf)
    }
}

/// One ProbeRTT visit as seen from outside: when it started, how long it lasted and the
/// largest cwnd during it.
#[derive(Debug)]
struct Visit {
    at: Duration,
    lasted: Duration,
    max_cwnd: usize,
}

/// Sends `bytes` over `link` with BBR, sampling the sender's mode at every step; returns the
/// ProbeRTT visits and the sender's count of them.
fn probe_rtt_visits(bytes: usize, link: Link) -> (Vec<Visit>, u64) {
    let mut pair = Pair::new(11, link, bbr(16 * 1024), bbr(16 * 1024), bytes, 0);
    let start = pair.now;
    let mut visits: Vec<Visit> = Vec::new();
    let mut open: Option<(Instant, usize)> = None;
    let mut count = 0;
    while pair.server.received.len() < bytes {
        assert!(pair.step(), "{}", pair.describe());
        let conn = pair.client.conn.as_ref().unwrap();
        let Some(info) = conn.bbr_info() else {
            panic!("the client runs BBR")
        };
        count = info.probe_rtt_count;
        match (info.mode == BbrMode::ProbeRtt, open) {
            (true, None) => open = Some((pair.now, conn.cwnd())),
            (true, Some((at, max))) => open = Some((at, max.max(conn.cwnd()))),
            (false, Some((at, max))) => {
                visits.push(Visit {
                    at: at - start,
                    lasted: pair.now - at,
                    max_cwnd: max,
                });
                open = None;
            }
            (false, None) => {}
        }
    }
    pair.run(Duration::from_secs(60));
    pair.check_intact();
    (visits, count)
}

#[test]
fn probe_rtt_every_ten_seconds_on_a_long_flow() {
    // 16 KiB windows at 20 ms RTT: ~800 KB/s, so 20 MB is a ~25 s flow. Every RTT sample
    // equals the minimum, which is therefore never refreshed by a lower one: ProbeRTT comes
    // when the 10 s filter expires, lasts 200 ms plus a round at 4 segments, and returns
    // to ProbeBW.
    let (visits, count) = probe_rtt_visits(20 << 20, Link::lossless(10));
    eprintln!("{visits:?}");
    assert_eq!(count as usize, visits.len());
    assert!(visits.len() >= 2, "{visits:?}");
    for v in &visits {
        assert!(v.max_cwnd <= 4 * 1448, "cwnd {} in ProbeRTT", v.max_cwnd);
        assert!(
            v.lasted >= Duration::from_millis(200) && v.lasted < Duration::from_millis(400),
            "{v:?}"
        );
    }
    // The first after 10 s of flow, the next about 10 s after the first ended.
    assert!(visits[0].at >= Duration::from_secs(10), "{visits:?}");
    let gap = visits[1].at - visits[0].at;
    assert!(
        gap >= Duration::from_secs(10) && gap < Duration::from_secs(11),
        "{visits:?}"
    );
    // A flow shorter than the filter never needs one.
    let (visits, count) = probe_rtt_visits(4 << 20, Link::lossless(10));
    assert!(visits.is_empty() && count == 0, "{visits:?}");
}

#[test]
fn bbr_delivers_intact_under_loss_reordering_and_duplication() {
    let link = Link {
        delay: Duration::from_millis(10),
        loss_percent: 5,
        reorder_percent: 5,
        duplicate_percent: 2,
    };
    for seed in 0..6 {
        let mut pair = Pair::new(seed, link, bbr(64 * 1024), bbr(64 * 1024), MIB, MIB / 2);
        pair.run(Duration::from_secs(600));
        pair.check_intact();
        let stats = pair.client.conn.as_ref().unwrap().stats();
        assert!(stats.retransmitted_segments > 0, "seed {seed}: {stats:?}");
    }
}
