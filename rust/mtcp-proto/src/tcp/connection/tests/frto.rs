//! F-RTO (RFC 5682 §3) and undoing needless window reductions (RFC 4015 response, D-SACK
//! undo as Linux's): a delay spike that fires the RTO is told from a loss, and its reduction
//! is undone without resending the window; D-SACKs proving every retransmission of a
//! recovery needless undo it too. Each is run with the feature off or the evidence absent.
use super::*;
use crate::tcp::congestion::CongestionControl;

const MSS: usize = 1460;

/// SACK without RACK-TLP (no tail loss probe before the RTO), NewReno, F-RTO as given.
fn sack_config(frto: bool) -> TcpConfig {
    TcpConfig {
        sack: true,
        rack: false,
        sndbuf: 256 * 1024,
        frto,
        ..plain()
    }
}

/// Start of data segment `i`.
fn seg(i: usize) -> SeqNumber {
    LOCAL_SEQ + 1 + MSS * i
}

/// Established at 20 ms (SRTT 20 ms, RTO 200 ms), ten segments sent at 100 ms (the initial
/// window) and more queued.
fn ten_in_flight(frto: bool) -> Connection {
    let mut c = established_sack_at(&sack_config(frto), 20);
    c.send(&[7u8; MSS * 100]).unwrap();
    assert_eq!(drain(&mut c, 100).len(), 10);
    c
}

/// Fires the RTO at 300 ms: only segment 0 is resent, cwnd falls to one segment.
fn time_out(c: &mut Connection) {
    tick(c, 300);
    let out = drain(c, 300);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].seq(), seg(0));
    assert_eq!(c.stats().timeouts, 1);
    assert_eq!(c.cwnd(), MSS);
    assert_eq!(c.cc.ssthresh(), 5 * MSS);
}

/// Data segments `c` sends at `ms`, as segment indices.
fn sent_segments(c: &mut Connection, ms: u64) -> Vec<usize> {
    drain(c, ms)
        .iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| (s.seq() - seg(0)) as usize / MSS)
        .collect()
}

#[test]
fn test_frto_delay_spike_timeout_is_undone_without_go_back_n() {
    // The peer's ACKs for the ten segments are delayed past the RTO, then arrive.
    let run = |frto: bool| {
        let mut c = ten_in_flight(frto);
        time_out(&mut c);
        // First ACK: segments 0 and 1, the originals. Segment 1 was never resent: its
        // arrival shows the timeout spurious at once (step 3b, checked first as Linux).
        send(&mut c, 350, ack(seg(2)));
        let after_first = sent_segments(&mut c, 350);
        send(&mut c, 351, ack(seg(5)));
        let after_second = sent_segments(&mut c, 351);
        send(&mut c, 352, ack(seg(10)));
        let rest = sent_segments(&mut c, 352);
        (c, after_first, after_second, rest)
    };
    let (c, first, second, rest) = run(true);
    // The restored window (10 segments, slow start: + 2 for this ACK) less the 8 still in
    // flight: four new segments, no retransmission.
    assert_eq!(first, vec![10, 11, 12, 13], "new data, not retransmissions");
    assert!(
        second.iter().chain(&rest).all(|&i| i >= 13),
        "{second:?} {rest:?}"
    );
    let stats = c.stats();
    assert_eq!(stats.retransmitted_segments, 1, "only the RTO's: {stats:?}");
    assert_eq!((stats.spurious_timeouts, stats.undos), (1, 1), "{stats:?}");
    // Eifel-style response: the pre-timeout window (slow start, ssthresh unset) is back.
    assert_eq!(c.cc.ssthresh(), usize::MAX);
    assert!(c.cwnd() >= 10 * MSS, "cwnd {}", c.cwnd());
    assert!(c.scoreboard.next_lost().is_none());
    // Without F-RTO the same ACKs resend the window (every unSACKed segment was marked lost)
    // and the reduction stays.
    let (c, first, second, rest) = run(false);
    assert_eq!(first, vec![2, 3, 4], "go-back-N of the lost marks");
    assert!(!second.is_empty() && second.iter().chain(&rest).any(|&i| i < 10));
    let stats = c.stats();
    assert!(stats.retransmitted_segments > 4, "{stats:?}");
    assert_eq!((stats.spurious_timeouts, stats.undos), (0, 0), "{stats:?}");
    assert_eq!(c.cc.ssthresh(), 5 * MSS);
    assert!(c.cwnd() < 10 * MSS, "cwnd {}", c.cwnd());
}

#[test]
fn test_frto_real_loss_falls_back_to_conventional_recovery() {
    // Segments 1..10 were really lost: the first ACK covers only the retransmission.
    let mut c = ten_in_flight(true);
    time_out(&mut c);
    send(&mut c, 350, ack(seg(1)));
    assert_eq!(
        sent_segments(&mut c, 350),
        vec![10, 11],
        "step 2b: two new segments"
    );
    // The new segments arrive above the hole: a duplicate ACK SACKing them (step 3a).
    let dup = TcpRepr {
        sack_ranges: [Some((seg(10), seg(12))), None, None],
        ..ack(seg(1))
    };
    send(&mut c, 400, dup);
    let resent = sent_segments(&mut c, 400);
    assert_eq!(
        resent.first(),
        Some(&1),
        "the lost segments are resent: {resent:?}"
    );
    let stats = c.stats();
    assert_eq!((stats.spurious_timeouts, stats.undos), (0, 0), "{stats:?}");
    assert_eq!(c.cc.ssthresh(), 5 * MSS, "the reduction stays");
}

#[test]
fn test_frto_without_new_data_is_conventional() {
    // Step 2b needs unsent data: with none queued the timeout is handled as before.
    let mut c = established_sack_at(&sack_config(true), 20);
    c.send(&[7u8; MSS * 10]).unwrap();
    assert_eq!(drain(&mut c, 100).len(), 10);
    time_out(&mut c);
    // The first ACK covers only the resent segment 0: no verdict yet, and step 2b has
    // nothing new to send, so the lost marks are resent (cwnd 2 segments).
    send(&mut c, 350, ack(seg(1)));
    assert_eq!(sent_segments(&mut c, 350), vec![1, 2]);
    assert_eq!(c.stats().undos, 0);
}

/// Recovery on a reordered (not lost) segment 0: SACKs for 1..4 start it, then the original
/// arrives and everything is acknowledged. Returns the connection and cwnd before recovery.
fn reordered_recovery() -> (Connection, usize) {
    let mut c = ten_in_flight(true);
    let cwnd_before = c.cwnd();
    for (t, to) in [(110, 2), (111, 3), (112, 4)] {
        let sack = TcpRepr {
            sack_ranges: [Some((seg(1), seg(to))), None, None],
            ..ack(seg(0))
        };
        send(&mut c, t, sack);
        drain(&mut c, t);
    }
    assert_eq!(c.stats().fast_recoveries, 1);
    assert_eq!(c.stats().retransmitted_segments, 1, "segment 0 resent");
    assert!(c.cc.ssthresh() < cwnd_before);
    let snd_max = c.snd_max;
    send(&mut c, 113, ack(snd_max));
    assert!(!c.in_recovery);
    (c, cwnd_before)
}

#[test]
fn test_dsack_of_every_retransmission_undoes_the_recovery() {
    let (mut c, cwnd_before) = reordered_recovery();
    // The retransmitted copy of segment 0 reaches the peer too: a D-SACK (RFC 2883 §4).
    let snd_max = c.snd_max;
    let dsack = TcpRepr {
        sack_ranges: [Some((seg(0), seg(1))), None, None],
        ..ack(snd_max)
    };
    eprintln!(
        "before {:?} una {:?} max {:?}",
        c.undo, c.snd_una, c.snd_max
    );
    send(&mut c, 130, dsack);
    eprintln!("after {:?} {:?}", c.undo, c.stats());
    assert_eq!(c.stats().dsacks_received, 1);
    assert_eq!(c.stats().undos, 1);
    assert_eq!(c.cc.ssthresh(), usize::MAX, "ssthresh before recovery");
    assert!(c.cwnd() >= cwnd_before, "{} < {cwnd_before}", c.cwnd());
}

#[test]
fn test_no_undo_without_dsack_evidence() {
    // The same recovery with no D-SACK (the retransmission was needed): nothing is undone,
    // also not after the record expires a round trip later.
    let (mut c, cwnd_before) = reordered_recovery();
    let snd_max = c.snd_max;
    send(&mut c, 130, ack(snd_max));
    drain(&mut c, 130);
    let snd_max = c.snd_max;
    send(&mut c, 150, ack(snd_max));
    assert!(c.undo.is_none(), "record dropped after the episode");
    assert_eq!(c.stats().undos, 0);
    assert!(c.cc.ssthresh() < cwnd_before);
    // A late D-SACK now no longer undoes anything.
    let dsack = TcpRepr {
        sack_ranges: [Some((seg(0), seg(1))), None, None],
        ..ack(snd_max)
    };
    send(&mut c, 160, dsack);
    assert_eq!(c.stats().undos, 0);
}

/// Without SACK (RFC 5682 §2, basic F-RTO): ten segments sent at 100 ms, the RTO at 300 ms
/// resends segment 0 (go-back-N from SND.UNA).
fn ten_in_flight_without_sack(frto: bool) -> Connection {
    let mut c = established_with(&TcpConfig {
        sndbuf: 256 * 1024,
        frto,
        ..plain()
    });
    c.send(&[7u8; MSS * 100]).unwrap();
    assert_eq!(drain(&mut c, 100).len(), 10);
    time_out(&mut c);
    c
}

#[test]
fn test_frto_without_sack_delay_spike_is_undone() {
    let run = |frto: bool| {
        let mut c = ten_in_flight_without_sack(frto);
        send(&mut c, 350, ack(seg(2))); // segment 1's original arrived
        let first = sent_segments(&mut c, 350);
        send(&mut c, 351, ack(seg(10)));
        let rest = sent_segments(&mut c, 351);
        (c, first, rest)
    };
    let (c, first, rest) = run(true);
    assert!(
        first.iter().chain(&rest).all(|&i| i >= 10),
        "new data only: {first:?} {rest:?}"
    );
    assert_eq!(c.stats().retransmitted_segments, 1);
    assert_eq!((c.stats().spurious_timeouts, c.stats().undos), (1, 1));
    assert_eq!(c.cc.ssthresh(), usize::MAX);
    // Without F-RTO: go-back-N from segment 2.
    let (c, first, _) = run(false);
    assert_eq!(first, vec![2, 3, 4]);
    assert_eq!(c.cc.ssthresh(), 5 * MSS);
}

#[test]
fn test_frto_without_sack_real_loss_goes_back_n() {
    let mut c = ten_in_flight_without_sack(true);
    // Only the resent segment 0 is acknowledged: step 2b sends two new segments past the
    // window (cwnd is 2 segments, 9 outstanding).
    send(&mut c, 350, ack(seg(1)));
    assert_eq!(sent_segments(&mut c, 350), vec![10, 11]);
    // They arrive above the hole: a duplicate ACK (step 3a), and go-back-N resumes.
    send(&mut c, 400, ack(seg(1)));
    let resent = sent_segments(&mut c, 400);
    assert_eq!(resent.first(), Some(&1), "{resent:?}");
    assert_eq!(c.stats().undos, 0);
    assert_eq!(c.cc.ssthresh(), 5 * MSS);
}

#[test]
fn test_dsack_of_a_segment_never_resent_does_not_undo() {
    // A network duplicate of segment 5 (never retransmitted) is D-SACKed: not evidence.
    let (mut c, cwnd_before) = reordered_recovery();
    let snd_max = c.snd_max;
    let dsack = TcpRepr {
        sack_ranges: [Some((seg(5), seg(6))), None, None],
        ..ack(snd_max)
    };
    send(&mut c, 130, dsack);
    assert_eq!(c.stats().dsacks_received, 1);
    assert_eq!(c.stats().undos, 0);
    assert!(c.cc.ssthresh() < cwnd_before);
}
