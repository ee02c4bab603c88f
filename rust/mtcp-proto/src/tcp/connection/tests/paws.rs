//! Timestamps checks (RFC 7323): PAWS (§5.3), TS.Recent's 24-day validity (§5.5) and
//! segments missing the option (§3.2).
use super::*;

const DAY_MS: u64 = 24 * 3600 * 1000;

fn ts(tsval: u32) -> Option<TcpTimestamp> {
    Some(TcpTimestamp { tsval, tsecr: 0 })
}

/// Established with timestamps; the peer's last TSval (TS.Recent) is 1010, set at 80 ms.
fn established_with_timestamps() -> Connection {
    let offering = TcpRepr {
        timestamp: ts(1000),
        ..remote_syn()
    };
    let config = TcpConfig {
        timestamps: true,
        ..plain()
    };
    let mut c = Connection::accept(&config, LOCAL, REMOTE, &offering, LOCAL_SEQ, at(0));
    recv_one(&mut c, 0);
    send(
        &mut c,
        80,
        TcpRepr {
            timestamp: ts(1010),
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.state(), State::Established);
    c
}

/// After `idle_ms` of silence the peer sends data with a TSval that its clock, having run on
/// for that long at 1 kHz, now shows: more than 2^31 ahead of TS.Recent after 24.9 days, so
/// it compares as older. Returns whether the data was accepted.
fn accepted_after_idle(idle_ms: u64) -> bool {
    let mut c = established_with_timestamps();
    let now = 80 + idle_ms;
    let tsval = 1010u32.wrapping_add(idle_ms as u32);
    send(
        &mut c,
        now,
        TcpRepr {
            timestamp: ts(tsval),
            ..data(REMOTE_SEQ + 1, b"still here")
        },
    );
    let accepted = c.recv_queue() == 10;
    if accepted {
        tick(&mut c, now + 40);
        let out = recv_one(&mut c, now + 40);
        assert_eq!(out.ack(), REMOTE_SEQ + 11);
        assert_eq!(
            out.repr.timestamp.unwrap().tsecr,
            tsval,
            "TS.Recent updated"
        );
    } else {
        // PAWS: dropped, answered with a duplicate ACK (§5.3 R1).
        assert_eq!(recv_one(&mut c, now).ack(), REMOTE_SEQ + 1);
    }
    accepted
}

#[test]
fn test_paws_ts_recent_invalid_after_24_days_idle() {
    // 25 days: TS.Recent has expired (§5.5), the segment is accepted.
    assert!(accepted_after_idle(25 * DAY_MS));
    // (Without the rule it is dropped as an old duplicate, and so would every later segment
    // be: the connection would be dead.)
    // Within 24 days PAWS still holds: an older TSval is rejected.
    let mut c = established_with_timestamps();
    send(
        &mut c,
        23 * DAY_MS,
        TcpRepr {
            timestamp: ts(1009),
            ..data(REMOTE_SEQ + 1, b"stale")
        },
    );
    assert_eq!(c.recv_queue(), 0);
    assert_eq!(recv_one(&mut c, 23 * DAY_MS).ack(), REMOTE_SEQ + 1);
}

#[test]
fn test_paws_segment_without_timestamp_dropped_silently() {
    let mut c = established_with_timestamps();
    send(&mut c, 100, data(REMOTE_SEQ + 1, b"no option"));
    assert_eq!(c.recv_queue(), 0, "RFC 7323 §3.2: dropped");
    recv_nothing(&mut c, 100);
    tick(&mut c, 200);
    recv_nothing(&mut c, 200);
    // A SYN without it is still answered (challenge ACK, RFC 5961 §4).
    let syn = TcpRepr {
        flags: TcpFlags::SYN,
        ..data(REMOTE_SEQ + 1, b"")
    };
    send(&mut c, 250, syn);
    assert_eq!(recv_one(&mut c, 250).ack(), REMOTE_SEQ + 1);
    assert_eq!(c.stats().challenge_acks, 1);
    // A RST needs no timestamp (§5.3 R1 note).
    let rst = TcpRepr {
        flags: TcpFlags::RST,
        ..data(REMOTE_SEQ + 1, b"")
    };
    send(&mut c, 300, rst);
    assert_eq!(c.state(), State::Closed);
}
