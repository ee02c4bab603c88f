//! `wants_transmit` is the runtime's only reason to call `poll_transmit`: whenever it says
//! no, `poll_transmit` must have nothing to send, or a segment is never sent.
use super::*;

/// Fails when `poll_transmit` would send although `wants_transmit` says there is nothing.
#[track_caller]
fn assert_hint_covers_output(c: &mut Connection, ms: u64) {
    if !c.wants_transmit() {
        recv_nothing(c, ms);
    }
}

/// Established with the peer's MSS at the 88-byte floor and a 4 KiB send buffer: the
/// scoreboard (sndbuf / 256, at least 16 segments) fills before the send buffer does.
fn established_small_scoreboard(sack: bool) -> Connection {
    let config = TcpConfig {
        sndbuf: 4096,
        sack,
        ..plain()
    };
    let syn = TcpRepr {
        max_seg_size: Some(88),
        sack_permitted: sack,
        ..remote_syn()
    };
    let mut c = syn_received_with(&config, &syn);
    send(&mut c, 0, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
    c
}

/// Grows cwnd past the scoreboard's 16 segments, then fills the scoreboard; returns the time.
fn fill_scoreboard(c: &mut Connection) -> u64 {
    let mut ms = 10;
    let mss = usize::from(c.mss());
    for _ in 0..20 {
        if c.cwnd() > 20 * mss {
            break;
        }
        c.send(&vec![1u8; 4096]).unwrap();
        let sent = drain(c, ms);
        assert!(!sent.is_empty());
        ms += 10;
        let last = sent.last().unwrap();
        let end = last.seq() + last.payload.len();
        send(c, ms, ack(end));
        assert_hint_covers_output(c, ms);
    }
    assert!(c.cwnd() > 20 * mss, "cwnd grew");
    while c.send(&vec![2u8; 4096]).is_ok() {}
    let sent = drain(c, ms);
    assert_eq!(sent.len(), 16, "the scoreboard holds 16 segments");
    assert!(c.send_queue() > 16 * mss, "more data waits behind them");
    ms
}

/// After a retransmission timeout without SACK, go-back-N resends from SND.UNA while the
/// scoreboard is still full of the segments in flight: `wants_transmit` must say so.
#[test]
fn test_established_timeout_with_full_scoreboard_wants_transmit() {
    let mut c = established_small_scoreboard(false);
    let ms = fill_scoreboard(&mut c);
    let rto_at = c.poll_timeout().expect("the RTO is armed").total_millis() + 1;
    assert!(rto_at > ms);
    tick(&mut c, rto_at);
    assert_eq!(c.stats().timeouts, 1);
    assert!(
        c.wants_transmit(),
        "the go-back-N retransmission must be reported"
    );
    let resent = recv_one(&mut c, rto_at);
    assert!(resent.seq() < c.snd_max, "a retransmission");
    assert_hint_covers_output(&mut c, rto_at);
}

/// The same with SACK: the timeout marks the holes lost and they are resent.
#[test]
fn test_established_sack_timeout_with_full_scoreboard_wants_transmit() {
    let mut c = established_small_scoreboard(true);
    let ms = fill_scoreboard(&mut c);
    let rto_at = c.poll_timeout().expect("the RTO is armed").total_millis() + 1;
    assert!(rto_at > ms);
    // The tail loss probe fires first; whatever fires, the hint must cover the output.
    let mut now = ms;
    for _ in 0..10 {
        if c.stats().timeouts > 0 {
            break;
        }
        now = c.poll_timeout().expect("a timer").total_millis() + 1;
        tick(&mut c, now);
        assert_hint_covers_output(&mut c, now);
        let _ = drain(&mut c, now);
    }
    assert_eq!(c.stats().timeouts, 1);
    assert_hint_covers_output(&mut c, now);
}

/// A segment through the full receive path (not predicted) leaves `output_quiet` set only
/// when nothing waits: the handshake's last ACK leaves it set; out-of-order data (a
/// duplicate ACK owed at once) and data Nagle held until the ACK leave it clear.
#[test]
fn test_full_path_segment_leaves_output_quiet_only_when_nothing_waits() {
    let mut c = syn_received_with(&plain(), &remote_syn());
    drain(&mut c, 0);
    send(&mut c, 1, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
    assert!(
        c.output_quiet,
        "the handshake's last ACK leaves nothing to send"
    );
    recv_nothing(&mut c, 1);
    // Out of order (plain(): no SACK, so not predicted either way): a duplicate ACK now.
    let later = data(REMOTE_SEQ + 11, b"later");
    assert!(!c.predicts(&later));
    send(&mut c, 2, later);
    assert!(!c.output_quiet);
    assert!(c.wants_transmit(), "the duplicate ACK is owed");
    let out = drain(&mut c, 2);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ack(), REMOTE_SEQ + 1);
    // Nagle holds a small second write while the first is in flight; its ACK lets it out.
    assert_eq!(c.send(b"one"), Ok(3));
    assert_eq!(drain(&mut c, 3).len(), 1);
    assert_eq!(c.send(b"two"), Ok(3));
    assert!(drain(&mut c, 3).is_empty(), "Nagle holds it");
    send(&mut c, 4, ack(LOCAL_SEQ + 4));
    assert!(!c.output_quiet);
    assert!(c.wants_transmit(), "the ACK lets the held data out");
    let out = drain(&mut c, 4);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload.as_slice(), b"two");
}
