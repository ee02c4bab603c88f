//! Header prediction (`header_prediction.rs`): which segments take the fast path. That the
//! fast path leaves exactly the state the full path would is checked on every predicted
//! segment of every test of this crate (`Connection::handle_segment` under `cfg(test)` runs
//! the full path on a clone and compares).
use super::*;
use crate::tcp::connection::header_prediction::LEAN_ACKS;

fn sack_established() -> Connection {
    let config = TcpConfig {
        sack: true,
        ..plain()
    };
    let c = established_sack_at(&config, 0);
    assert!(c.sack_enabled());
    c
}

/// One round of a ping-pong at `ms`: the peer's "ping" at `seq` acknowledging `acked` (which
/// must take the fast path), read back, answered with "pong"; returns what was sent.
#[track_caller]
fn ping_pong_round(
    c: &mut Connection,
    ms: u64,
    seq: SeqNumber,
    acked: SeqNumber,
    what: &str,
) -> Vec<Out> {
    let request = TcpRepr {
        ack_number: acked,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        ..data(seq, b"ping")
    };
    assert!(c.predicts(&request), "{what}");
    send(c, ms, request);
    let mut buf = [0u8; 8];
    assert_eq!(c.recv(&mut buf, false), Ok(4));
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(c.send(b"pong"), Ok(4));
    drain(c, ms)
}

#[test]
fn test_header_prediction_takes_a_ping_pong_and_leaves_the_rest() {
    let mut c = sack_established();
    let mut seq = REMOTE_SEQ + 1;
    let mut acked = LOCAL_SEQ + 1;
    for round in 0..5u64 {
        let ms = 10 + 10 * round;
        // Round 0 acknowledges nothing with nothing outstanding; later rounds acknowledge
        // the previous response, everything outstanding.
        let out = ping_pong_round(&mut c, ms, seq, acked, &format!("round {round}"));
        seq += 4;
        let response = out.last().expect("the response");
        assert_eq!(
            (response.payload.as_slice(), response.ack()),
            (&b"pong"[..], seq)
        );
        acked += 4;
    }
    // The last response is outstanding: a pure ACK of all of it is predicted, of part not.
    let all = TcpRepr {
        seq_number: seq,
        ..ack(acked)
    };
    let part = TcpRepr {
        seq_number: seq,
        ..ack(acked - 2)
    };
    assert!(c.predicts(&all));
    assert!(!c.predicts(&part));
    let in_order = data(seq, b"more");
    let in_order = TcpRepr {
        ack_number: acked,
        ..in_order
    };
    assert!(c.predicts(&in_order));
    for other in [
        TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::FIN | TcpFlags::RST,
            ..in_order
        },
        TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::FIN | TcpFlags::SYN,
            ..in_order
        },
        TcpRepr {
            seq_number: seq + 1,
            ..in_order
        },
        TcpRepr {
            sack_ranges: [Some((acked - 4, acked - 2)), None, None],
            ..in_order
        },
        TcpRepr {
            window_len: 0,
            ..in_order
        },
    ] {
        assert!(!c.predicts(&other), "{other:?}");
    }
    send(&mut c, 100, all);
    assert_eq!(c.send_queue(), 0);
}

/// Every ACK of a ping-pong's response (its sole segment in flight) takes the one-pass path
/// (`predicted_sole_ack`), whose state `handle_segment` compares with the full path's; with
/// BBR, which reads the rate sample, none does.
#[test]
fn test_header_prediction_acks_a_sole_segment_in_one_pass() {
    for (congestion, expected) in [
        (CongestionAlgorithm::NewReno, 4),
        (CongestionAlgorithm::Cubic, 4),
        (CongestionAlgorithm::Bbr, 0),
    ] {
        let config = TcpConfig {
            sack: true,
            congestion,
            ..plain()
        };
        let mut c = established_sack_at(&config, 0);
        let before = LEAN_ACKS.with(|n| n.get());
        let mut seq = REMOTE_SEQ + 1;
        let mut acked = LOCAL_SEQ + 1;
        for round in 0..5u64 {
            let ms = 10 + 10 * round;
            let what = format!("{congestion:?} round {round}");
            assert_eq!(ping_pong_round(&mut c, ms, seq, acked, &what).len(), 1);
            seq += 4;
            acked += 4;
        }
        let taken = LEAN_ACKS.with(|n| n.get()) - before;
        assert_eq!(taken, expected, "{congestion:?}");
        assert!(c.srtt().is_some(), "{congestion:?}");
    }
}

/// The sole record left after an ACK of the first of two segments sent apart: its ACK takes
/// the one-pass path too, and the delivery state (the send interval starts at the newest
/// delivered segment's send time, draft-cheng §3.3) must end as the full path leaves it.
#[test]
fn test_header_prediction_acks_the_last_of_two_segments_in_one_pass() {
    let config = TcpConfig {
        sack: true,
        nodelay: true,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    assert_eq!(c.send(b"first"), Ok(5));
    assert_eq!(drain(&mut c, 10).len(), 1);
    assert_eq!(c.send(b"second"), Ok(6));
    assert_eq!(drain(&mut c, 14).len(), 1);
    let seq = REMOTE_SEQ + 1;
    let first = TcpRepr {
        seq_number: seq,
        ..ack(LOCAL_SEQ + 1 + 5)
    };
    assert!(!c.predicts(&first), "part of the flight: the full path");
    send(&mut c, 30, first);
    let before = LEAN_ACKS.with(|n| n.get());
    let second = TcpRepr {
        seq_number: seq,
        ..ack(LOCAL_SEQ + 1 + 11)
    };
    assert!(c.predicts(&second));
    send(&mut c, 35, second);
    assert_eq!(LEAN_ACKS.with(|n| n.get()) - before, 1);
    assert_eq!(c.send_queue(), 0);
}

#[test]
fn test_header_prediction_off_without_sack() {
    let mut c = established();
    assert!(!c.sack_enabled());
    assert!(!c.predicts(&data(REMOTE_SEQ + 1, b"x")));
    send(&mut c, 10, data(REMOTE_SEQ + 1, b"x"));
    assert_eq!(c.recv_queue(), 1);
}

/// The peer's close that acknowledges our response (the server side of every short
/// connection), with or without last data: predicted, and it leaves the connection in
/// CLOSE-WAIT with the FIN counted, its ACK waiting for our own FIN (the full-path twin
/// check compares the whole state).
#[test]
fn test_header_prediction_takes_the_peers_fin() {
    for last_data in [&b""[..], &b"bye"[..]] {
        let mut c = sack_established();
        let seq = REMOTE_SEQ + 1;
        send(&mut c, 10, data(seq, b"ping"));
        let mut buf = [0u8; 8];
        assert_eq!(c.recv(&mut buf, false), Ok(4));
        assert_eq!(c.send(b"pong"), Ok(4));
        assert_eq!(drain(&mut c, 10).len(), 1);
        let fin = TcpRepr {
            ack_number: LOCAL_SEQ + 1 + 4,
            flags: TcpFlags::ACK | TcpFlags::FIN | TcpFlags::PSH,
            ..data(seq + 4, last_data)
        };
        assert!(c.predicts(&fin));
        send(&mut c, 12, fin);
        assert_eq!(c.state(), State::CloseWait);
        assert_eq!(c.send_queue(), 0, "the response is acknowledged");
        assert_eq!(c.recv(&mut buf, false), Ok(last_data.len()));
        assert_eq!(&buf[..last_data.len()], last_data);
        if last_data.is_empty() {
            assert_eq!(c.recv(&mut buf, false), Ok(0), "end of stream");
        }
        // Our close answers it: FIN and the ACK of the peer's FIN in one segment.
        c.close(at(13));
        let out = drain(&mut c, 13);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flags(), TcpFlags::ACK | TcpFlags::FIN);
        assert_eq!(out[0].ack(), seq + 4 + last_data.len() + 1);
    }
}

/// A predicted segment leaves `output_quiet` set only when nothing waits to be sent, so the
/// runtime's `wants_transmit` after it may answer from the flag: a delayed ACK leaves it
/// set; queued data not yet sent, or an ACK owed at once (quickack mode), leave it clear.
#[test]
fn test_header_prediction_sets_output_quiet_only_when_nothing_waits() {
    for quick_acks in [0, 2] {
        let config = TcpConfig {
            sack: true,
            quick_acks,
            ..plain()
        };
        let mut c = established_sack_at(&config, 0);
        assert!(!c.wants_transmit());
        let request = data(REMOTE_SEQ + 1, b"ping");
        assert!(c.predicts(&request));
        send(&mut c, 10, request);
        if quick_acks == 0 {
            // The ACK is delayed: nothing to send, and the flag says so.
            assert!(c.output_quiet, "a delayed ACK leaves nothing to send");
            assert!(!c.wants_transmit());
            recv_nothing(&mut c, 10);
        } else {
            assert!(!c.output_quiet, "an ACK is owed at once");
            assert!(c.wants_transmit());
            let out = drain(&mut c, 10);
            assert_eq!(out.len(), 1);
            assert!(out[0].is_pure_ack());
        }
        // A response queued but not sent yet when the next segment arrives (nothing
        // outstanding, so predicted): the response still waits.
        assert_eq!(c.send(b"pong"), Ok(4));
        let more = data(REMOTE_SEQ + 5, b"ping");
        assert!(c.predicts(&more));
        send(&mut c, 11, more);
        assert!(!c.output_quiet, "queued data waits");
        assert!(c.wants_transmit());
        let out = drain(&mut c, 11);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].payload.as_slice(), b"pong");
        assert!(!c.wants_transmit());
    }
}
