//! Proportional Rate Reduction (RFC 6937): during recovery the sender sends in
//! proportion to what the peer reports delivered, neither pausing until `pipe` has drained
//! below ssthresh nor bursting when it has fallen far below (PRR-SSRB). Each scenario is run
//! with PRR off too, which shows the stall and the burst PRR removes.
use super::*;
use crate::tcp::congestion::CongestionControl;

const MSS: usize = 1460;

/// SACK, RFC 6675's DupThresh loss detection (RACK off, so losses are found at a known ACK),
/// NewReno.
fn sack_config(prr: bool) -> TcpConfig {
    TcpConfig {
        sack: true,
        rack: false,
        sndbuf: 256 * 1024,
        prr,
        ..plain()
    }
}

/// Start of segment `i` of the second flight.
fn seg(i: usize) -> SeqNumber {
    LOCAL_SEQ + 1 + MSS * (10 + i)
}

/// An established SACK connection with cwnd 20 and twenty full segments in flight (the second
/// flight, segments 0..20 after the first ten were acknowledged), and more data queued.
fn twenty_in_flight(prr: bool) -> Connection {
    twenty_in_flight_with(sack_config(prr))
}

fn twenty_in_flight_with(config: TcpConfig) -> Connection {
    let mut c = established_sack_at(&config, 0);
    c.send(&[7u8; MSS * 100]).unwrap();
    assert_eq!(drain(&mut c, 0).len(), 10, "initial window");
    send(&mut c, 10, ack(seg(0)));
    assert_eq!(drain(&mut c, 10).len(), 20, "slow start doubled the window");
    assert_eq!(c.cwnd(), 20 * MSS);
    c
}

/// An ACK at `seg(0)` (segment 0 is missing) SACKing segments `from..to`.
fn sack(from: usize, to: usize) -> TcpRepr<'static> {
    TcpRepr {
        sack_ranges: [Some((seg(from), seg(to))), None, None],
        ..ack(seg(0))
    }
}

/// Feeds `acks` one per millisecond from 20 ms and returns how many segments each released.
fn sends_per_ack(c: &mut Connection, acks: Vec<TcpRepr<'static>>) -> Vec<usize> {
    acks.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let t = 20 + i as u64;
            send(c, t, a);
            drain(c, t).iter().filter(|s| !s.payload.is_empty()).count()
        })
        .collect()
}

#[test]
fn test_prr_sends_in_proportion_to_delivery() {
    // Segment 0 is lost; the peer SACKs segments 1..20 one ACK at a time. The third starts
    // recovery (DupThresh) with ssthresh = 10 segments, RecoverFS = 20: PRR then sends one
    // segment per two delivered, from the first ACK of recovery to the last.
    let run = |prr: bool| {
        let mut c = twenty_in_flight(prr);
        let acks = (2..=20).map(|to| sack(1, to)).collect();
        let sent = sends_per_ack(&mut c, acks);
        assert_eq!(c.stats().fast_recoveries, 1);
        // The two SACKs before recovery each let one new segment out (RFC 6675 pipe), so
        // 22 segments are in flight when it starts: ssthresh = 11 = RecoverFS / 2.
        assert_eq!(c.cc.ssthresh(), 11 * MSS);
        assert_eq!(c.prr.recover_fs, 22 * MSS);
        sent
    };
    let sent = run(true);
    // sent[0..2]: before recovery; sent[2]: the entry ACK, which resends segment 0.
    let recovery = &sent[2..];
    assert!(recovery.iter().all(|&n| n <= 1), "no burst: {sent:?}");
    // While pipe > ssthresh: after k ACKs of recovery, each delivering one segment,
    // ceil(k · 11 / 22) segments have been sent (RFC 6937 §3), the retransmission included.
    for k in 1..=14 {
        let sent_k: usize = recovery[..k].iter().sum();
        assert_eq!(sent_k, k.div_ceil(2), "after {k} ACKs: {sent:?}");
    }
    // Then pipe has reached ssthresh and PRR-SSRB sends one segment per segment delivered.
    assert_eq!(&recovery[15..], &[1, 1], "{sent:?}");
    // Without PRR (cwnd = ssthresh at once, RFC 6675) nothing goes after the retransmission
    // until pipe has drained from 20 to 11 segments: eight silent ACKs, then one per ACK.
    let sent = run(false);
    assert_eq!(&sent[2..12], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], "{sent:?}");
}

#[test]
fn test_prr_ssrb_bounds_the_burst_after_heavy_loss() {
    // Segments 0..16 are lost; SACKs for 16, 17, 18, 19 arrive. The third marks all sixteen
    // lost at once: pipe = 3 segments (the new ones sent since), far below ssthresh = 11.
    let run = |prr: bool| {
        let mut c = twenty_in_flight(prr);
        let acks = (17..=20).map(|to| sack(16, to)).collect();
        let sent = sends_per_ack(&mut c, acks);
        assert_eq!(c.stats().fast_recoveries, 1);
        sent
    };
    // sent[0..2]: a new segment for each SACK before recovery.
    // PRR-SSRB: at most DeliveredData + 1 MSS per ACK (slow start towards ssthresh).
    let sent = run(true);
    assert_eq!(sent, vec![1, 1, 2, 2], "{sent:?}");
    // RFC 6675 alone fills cwnd − pipe at once: eight retransmissions in one burst.
    let sent = run(false);
    assert_eq!(sent, vec![1, 1, 8, 1], "{sent:?}");
}

#[test]
fn test_prr_recovery_ends_at_ssthresh() {
    // Recovery ends early, while PRR's cwnd (pipe + sndcnt) is still far above ssthresh.
    let mut c = twenty_in_flight(true);
    let acks = (2..=8).map(|to| sack(1, to)).collect();
    sends_per_ack(&mut c, acks);
    assert!(c.in_recovery);
    assert!(c.cwnd() > 15 * MSS, "{}", c.cwnd());
    // The retransmission arrives: everything up to SND.MAX is acknowledged.
    let snd_max = c.snd_max;
    send(&mut c, 40, ack(snd_max));
    assert!(!c.in_recovery);
    // cwnd = ssthresh (RFC 6937 §3), plus the one MSS congestion avoidance adds for this
    // ACK's 30 segments.
    assert_eq!(c.cc.ssthresh(), 11 * MSS);
    assert_eq!(c.cwnd(), 12 * MSS);
}

#[test]
fn test_prr_without_sack_replaces_newreno_inflation() {
    // The same loss without SACK: plain duplicate ACKs. PRR's estimate counts each as one
    // segment delivered and gone from the network (Linux's Reno accounting).
    let run = |prr: bool| {
        let mut c = twenty_in_flight_with(TcpConfig {
            sack: false,
            ..sack_config(prr)
        });
        let acks = (0..19).map(|_| ack(seg(0))).collect();
        let sent = sends_per_ack(&mut c, acks);
        assert_eq!(c.stats().fast_recoveries, 1);
        assert_eq!(c.cc.ssthresh(), 11 * MSS);
        sent
    };
    // sent[0..2]: Limited Transmit (RFC 3042); sent[2]: the fast retransmission.
    let sent = run(true);
    assert_eq!(&sent[..3], &[1, 1, 1], "{sent:?}");
    let recovery = &sent[2..];
    assert!(recovery.iter().all(|&n| n <= 1), "no burst: {sent:?}");
    // About one segment per two duplicate ACKs (a sub-MSS sndcnt waits for the next ACK:
    // sender SWS avoidance).
    for k in 1..=13 {
        let sent_k: usize = recovery[..k].iter().sum();
        assert!(
            sent_k + 1 >= k.div_ceil(2) && sent_k <= k.div_ceil(2),
            "after {k} ACKs: {sent:?}"
        );
    }
    // RFC 6582's inflation: cwnd = ssthresh + 3 MSS, one more per duplicate, so nothing new
    // goes until it passes the 22 segments in flight: eight silent ACKs.
    let sent = run(false);
    assert_eq!(&sent[2..12], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], "{sent:?}");
}
