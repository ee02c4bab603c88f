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

/// Fires every timer of `c` until it closes; returns when (ms) and the segments it sent.
fn run_until_closed(c: &mut Connection) -> (u64, Vec<Out>) {
    let mut sent = Vec::new();
    let mut closed_at = 0;
    while c.state() != State::Closed {
        let t = c
            .poll_timeout()
            .expect("a timer until the connection fails");
        closed_at = t.total_millis();
        c.handle_timeout(t);
        sent.extend(drain(c, closed_at));
    }
    assert_eq!(c.take_error(), Some(Errno::ETIMEDOUT));
    (closed_at, sent)
}

#[test]
fn test_syn_sent_user_timeout_bounds_syn_retries() {
    let fail_at = |user_timeout: Option<Duration>| {
        let mut c = syn_sent_with(&TcpConfig {
            user_timeout,
            ..plain()
        });
        let (at_ms, sent) = run_until_closed(&mut c);
        assert!(sent.iter().all(|s| s.flags() == TcpFlags::SYN), "{sent:?}");
        (at_ms, sent.len())
    };
    // SYN at 0, again at 1 s (RTO 1 s); the next (3 s) is clamped to the user timeout.
    assert_eq!(fail_at(Some(Duration::from_millis(2500))), (2500, 1));
    // Without it, tcp_syn_retries (6) decides: 1 + 2 + 4 + 8 + 16 + 32 + 60 s (RTO cap).
    assert_eq!(fail_at(None), (123_000, 6));
    // The handshake's clock stops when it completes: the user timeout then starts afresh
    // with data (RFC 5482).
    let mut c = syn_sent_with(&TcpConfig {
        user_timeout: Some(Duration::from_millis(2500)),
        ..plain()
    });
    let syn_ack = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        seq_number: REMOTE_SEQ,
        ack_number: LOCAL_SEQ + 1,
        max_seg_size: Some(1460),
        ..SEND_TEMPL
    };
    send(&mut c, 2000, syn_ack);
    assert_eq!(c.state(), State::Established);
    tick(&mut c, 10_000);
    assert_eq!(c.state(), State::Established);
}

/// An established connection with keepalive (idle 10 s, interval 5 s, `count`) whose peer
/// never answers: when it is dropped (ms) and how many probes went out.
fn keepalive_death(count: u32, user_timeout: Option<Duration>) -> (u64, u64) {
    let mut c = established_with(&TcpConfig {
        keepalive: Some(KeepAlive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(5),
            count,
        }),
        user_timeout,
        ..plain()
    });
    let (at_ms, sent) = run_until_closed(&mut c);
    assert!(sent.last().unwrap().flags().rst(), "reset when given up");
    (at_ms, c.stats().keepalive_probes)
}

#[test]
fn test_established_user_timeout_decides_keepalive_death() {
    // Linux's tcp_keepalive_timer: with a user timeout, the connection dies at the first
    // keepalive tick at which the peer has been silent that long (at least one probe sent),
    // whatever TCP_KEEPCNT says.
    // Shorter than idle + count · interval (10 + 9 · 5 = 55 s): dropped at the 15 s tick.
    assert_eq!(
        keepalive_death(9, Some(Duration::from_secs(12))),
        (15_000, 1)
    );
    assert_eq!(keepalive_death(9, None), (55_000, 9));
    // Longer: probing goes on past TCP_KEEPCNT (2 would end it at 20 s) until 30 s.
    assert_eq!(
        keepalive_death(2, Some(Duration::from_secs(30))),
        (30_000, 4)
    );
    assert_eq!(keepalive_death(2, None), (20_000, 2));
}
