//! Congestion window validation (RFC 7661): an application-limited sender, one small segment
//! in flight per exchange, does not grow cwnd, neither in slow start nor in congestion
//! avoidance; a sender that fills its window afterwards still ramps as slow start should.
use super::*;
use crate::tcp::congestion::CongestionControl;

const MSS: usize = 1460;
const INITIAL_WINDOW: usize = 10 * MSS;

fn config(congestion: CongestionAlgorithm) -> TcpConfig {
    TcpConfig {
        sack: true,
        sndbuf: 256 * 1024,
        congestion,
        ..plain()
    }
}

/// `count` request/response-like exchanges from `start` ms: 64 bytes out, acknowledged 1 ms
/// later. Returns the next sequence number to be sent.
fn ping_pong(c: &mut Connection, mut next: SeqNumber, start: u64, count: u64) -> SeqNumber {
    for i in 0..count {
        let t = start + 2 * i;
        assert_eq!(c.send(&[1u8; 64]).unwrap(), 64);
        let out = drain(c, t);
        assert_eq!(out.len(), 1, "one small segment per exchange");
        assert_eq!(out[0].seq(), next);
        next += 64;
        send(c, t + 1, ack(next));
    }
    next
}

#[test]
fn test_cwnd_validation_app_limited_slow_start_does_not_grow() {
    for algorithm in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let mut c = established_sack_at(&config(algorithm), 0);
        assert_eq!(c.cwnd(), INITIAL_WINDOW);
        let next = ping_pong(&mut c, LOCAL_SEQ + 1, 10, 300);
        assert_eq!(
            c.cwnd(),
            INITIAL_WINDOW,
            "{algorithm:?}: app-limited ACKs grew cwnd"
        );

        // A bulk phase that fills the window still doubles it per round trip.
        c.send(&[7u8; MSS * 60]).unwrap();
        let flight = drain(&mut c, 1000);
        assert_eq!(
            flight.len(),
            10,
            "{algorithm:?}: the initial window goes out"
        );
        for i in 1..=10 {
            send(&mut c, 1010, ack(next + MSS * i));
        }
        assert_eq!(c.cwnd(), 2 * INITIAL_WINDOW, "{algorithm:?}: slow start");
        let second = drain(&mut c, 1010);
        assert_eq!(
            second.len(),
            20,
            "{algorithm:?}: the doubled window goes out"
        );
    }
}

#[test]
fn test_cwnd_validation_app_limited_avoidance_does_not_grow() {
    let mut c = established_sack_at(&config(CongestionAlgorithm::NewReno), 0);
    c.cc.set_ssthresh(5 * MSS); // congestion avoidance from the start
                                // NewReno would add a segment per window of acknowledged bytes: 300 × 64 B > 14,600 B.
    let next = ping_pong(&mut c, LOCAL_SEQ + 1, 10, 300);
    assert_eq!(c.cwnd(), INITIAL_WINDOW, "app-limited ACKs grew cwnd");

    // A cwnd-limited window grows it by one segment per window acknowledged (RFC 5681 §3.1).
    c.send(&[7u8; MSS * 60]).unwrap();
    assert_eq!(drain(&mut c, 1000).len(), 10);
    for i in 1..=10 {
        send(&mut c, 1010, ack(next + MSS * i));
    }
    assert_eq!(c.cwnd(), INITIAL_WINDOW + MSS, "congestion avoidance");
}

#[test]
fn test_cwnd_validation_half_used_window_still_grows_in_slow_start() {
    // RFC 7661 lets cwnd reach twice the flight in slow start (Linux: 2 × max_packets_out):
    // six of ten segments in flight still grow cwnd, up to twelve.
    let mut c = established_sack_at(&config(CongestionAlgorithm::NewReno), 0);
    c.send(&[7u8; MSS * 6]).unwrap();
    assert_eq!(drain(&mut c, 10).len(), 6);
    for i in 1..=6 {
        send(&mut c, 20, ack(LOCAL_SEQ + 1 + MSS * i));
    }
    assert_eq!(c.cwnd(), 12 * MSS);
}
