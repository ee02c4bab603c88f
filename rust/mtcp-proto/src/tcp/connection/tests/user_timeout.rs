//! `TCP_USER_TIMEOUT` (RFC 5482): unacknowledged data fails the connection after the user
//! timeout, not after `max_retries` backed-off RTOs.
use super::*;

/// Sends one segment at 1 s that is never acknowledged and fires every timer until the
/// connection fails; returns when it failed (ms) and the retransmissions it took.
fn fail_time(user_timeout: Option<Duration>) -> (u64, u64) {
    let mut c = established_with(&TcpConfig {
        user_timeout,
        ..plain()
    });
    c.send(b"data").unwrap();
    recv_one(&mut c, 1000);
    let mut failed_at = 0;
    while c.state() != State::Closed {
        let t = c.poll_timeout().expect("a timer while data is outstanding");
        failed_at = t.total_millis();
        c.handle_timeout(t);
        drain(&mut c, failed_at);
    }
    assert_eq!(c.take_error(), Some(Errno::ETIMEDOUT));
    (failed_at, c.stats().retransmitted_segments)
}

#[test]
fn test_established_user_timeout_fails_with_etimedout_at_the_deadline() {
    let (at_ms, retransmits) = fail_time(Some(Duration::from_millis(2500)));
    // RTOs at 1.2, 1.6, 2.4 s (200, 400, 800 ms); the next would be 4.0 s, clamped to 3.5 s.
    assert_eq!(at_ms, 3500, "failed 2.5 s after the data was sent");
    assert_eq!(retransmits, 3);
    let (without, retransmits) = fail_time(None);
    assert!(without > 100_000, "max_retries alone: {without} ms");
    assert_eq!(retransmits, 15);
}

#[test]
fn test_established_user_timeout_clock_restarts_on_progress() {
    let mut c = established_with(&TcpConfig {
        user_timeout: Some(Duration::from_millis(1000)),
        ..plain()
    });
    c.send(&[7u8; 3000]).unwrap();
    drain(&mut c, 0);
    // Half the data acknowledged at 900 ms: the rest has a fresh second.
    send(&mut c, 900, ack(LOCAL_SEQ + 1 + 1460));
    for t in [1100, 1500, 1899] {
        tick(&mut c, t);
        drain(&mut c, t);
        assert_ne!(c.state(), State::Closed, "at {t} ms");
    }
    tick(&mut c, 1900);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.take_error(), Some(Errno::ETIMEDOUT));
}
