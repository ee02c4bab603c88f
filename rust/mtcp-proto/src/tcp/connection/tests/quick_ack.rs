//! Quickack mode (Linux's `tcp_incr_quickack`): the first segments of a connection, and the
//! first after an idle RTO, are acknowledged one by one; then every second segment or after
//! the delayed-ACK time.
use super::*;

fn big_buffers() -> TcpConfig {
    TcpConfig {
        rcvbuf: 64 * 1024,
        sndbuf: 64 * 1024,
        ..plain()
    }
}

/// Feeds `count` one-byte segments from `seq` at `ms`, returning how many got an ACK at once.
fn acked_at_once(c: &mut Connection, seq: &mut SeqNumber, ms: u64, count: usize) -> usize {
    (0..count)
        .filter(|_| {
            send(c, ms, data(*seq, b"x"));
            *seq += 1;
            recv(c, ms).is_some_and(|out| out.is_pure_ack() && out.ack() == *seq)
        })
        .count()
}

#[test]
fn test_established_quick_acks_at_start_then_after_idle() {
    let mut c = established_with(&big_buffers());
    let mut seq = REMOTE_SEQ + 1;
    // min(16, 64 KiB / (2 · 1460) = 22): sixteen segments acknowledged one by one.
    assert_eq!(acked_at_once(&mut c, &mut seq, 10, 20), 16);
    tick(&mut c, 50);
    drain(&mut c, 50);
    // Still busy (well within an RTO of 1 s): delayed ACKs.
    assert_eq!(acked_at_once(&mut c, &mut seq, 60, 1), 0);
    tick(&mut c, 100);
    drain(&mut c, 100);
    // Silent for more than the RTO: quickack mode again.
    assert_eq!(acked_at_once(&mut c, &mut seq, 1200, 3), 3);
}

#[test]
fn test_established_quick_acks_bounded_by_the_receive_window() {
    // 8 KiB buffer: 8192 / 2920 = 2 quick ACKs, as Linux's rcv_wnd / (2 · rcv_mss).
    let mut c = established();
    let mut seq = REMOTE_SEQ + 1;
    assert_eq!(acked_at_once(&mut c, &mut seq, 10, 5), 2);
    // Off: none.
    let mut c = established_with(&TcpConfig {
        quick_acks: 0,
        ..big_buffers()
    });
    let mut seq = REMOTE_SEQ + 1;
    assert_eq!(acked_at_once(&mut c, &mut seq, 10, 5), 0);
}
