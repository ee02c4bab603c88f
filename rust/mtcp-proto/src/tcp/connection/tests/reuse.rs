//! TIME-WAIT reuse (RFC 6191, RFC 1122 §4.2.2.13): which SYNs may open a new incarnation.
use super::*;

fn syn_at(seq: SeqNumber, tsval: Option<u32>) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: seq,
        timestamp: tsval.map(|tsval| TcpTimestamp { tsval, tsecr: 0 }),
        ..remote_syn()
    }
}

/// TIME-WAIT with timestamps on; the peer's FIN carried TSval 500 (TS.Recent).
fn time_wait_with_timestamps() -> Connection {
    let config = TcpConfig {
        timestamps: true,
        ..time_wait_config()
    };
    let ts = |tsval| Some(TcpTimestamp { tsval, tsecr: 0 });
    let mut c = syn_received_with(
        &config,
        &TcpRepr {
            timestamp: ts(100),
            ..remote_syn()
        },
    );
    assert!(c.timestamps_enabled());
    send(
        &mut c,
        0,
        TcpRepr {
            timestamp: ts(200),
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.state(), State::Established);
    c.close(at(0));
    recv_one(&mut c, 0);
    send(
        &mut c,
        0,
        TcpRepr {
            timestamp: ts(500),
            ..remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2)
        },
    );
    assert_eq!(c.state(), State::TimeWait);
    recv_one(&mut c, 0);
    c
}

#[test]
fn test_time_wait_syn_above_rcv_nxt_is_a_new_incarnation() {
    let c = time_wait();
    // RCV.NXT is REMOTE_SEQ + 2 (SYN and FIN).
    assert!(c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 3, None)));
    assert!(c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1_000_000, None)));
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 2, None)));
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ, None)));
    // Only a bare SYN qualifies.
    for flags in [TcpFlags::SYN | TcpFlags::ACK, TcpFlags::SYN | TcpFlags::RST] {
        let seg = TcpRepr {
            flags,
            ..syn_at(REMOTE_SEQ + 100, None)
        };
        assert!(!c.accepts_new_incarnation(&seg), "{flags:?}");
    }
}

#[test]
fn test_time_wait_new_incarnation_iss_is_above_old_snd_nxt() {
    let c = time_wait();
    // SND.NXT is LOCAL_SEQ + 2 (SYN and FIN); Linux's gap is 65535 + 2.
    assert_eq!(c.snd_nxt(), LOCAL_SEQ + 2);
    assert_eq!(c.new_incarnation_iss(), LOCAL_SEQ + 2 + 65537);
    assert!(c.new_incarnation_iss() > c.snd_nxt());
}

#[test]
fn test_time_wait_with_timestamps_decides_by_tsval() {
    let c = time_wait_with_timestamps();
    // A newer TSval wins even with an old sequence number (RFC 6191 §2) ...
    assert!(c.accepts_new_incarnation(&syn_at(REMOTE_SEQ, Some(501))));
    // ... and an old or equal one loses even with a new sequence number.
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1000, Some(500))));
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1000, Some(499))));
    // TSval compared modulo 2^32 (RFC 7323 §5.3).
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1000, Some(500 + (1 << 31)))));
    // A SYN without timestamps falls back to the sequence number.
    assert!(c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1000, None)));
    assert!(!c.accepts_new_incarnation(&syn_at(REMOTE_SEQ + 1, None)));
}

#[test]
fn test_only_time_wait_accepts_new_incarnations() {
    let fresh = syn_at(REMOTE_SEQ + 1_000_000, None);
    for c in [
        established(),
        fin_wait_2(),
        close_wait(),
        last_ack(),
        closing(),
    ] {
        assert!(!c.accepts_new_incarnation(&fresh), "{:?}", c.state());
    }
}

#[test]
fn test_time_wait_end_closes_silently() {
    let mut c = time_wait();
    c.end_time_wait();
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
    assert_eq!(c.take_error(), None);
    assert_eq!(c.poll_timeout(), None);
    recv_nothing(&mut c, 0);
    // Other states are untouched.
    let mut e = established();
    e.end_time_wait();
    assert_eq!(e.state(), State::Established);
}

#[test]
fn test_time_wait_refused_syn_is_answered_with_an_ack() {
    // What the runtime does without reuse (and still does for an old SYN): the TIME-WAIT
    // connection re-ACKs RCV.NXT and stays.
    let mut c = time_wait();
    send(&mut c, 10, syn_at(REMOTE_SEQ, None));
    assert_eq!(c.state(), State::TimeWait);
    let out = recv_one(&mut c, 10);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 2);
}
