//! Pacing (`TcpConfig::pacing`): one data segment per mss / (gain · cwnd / SRTT), the next
//! release reported by `poll_timeout`.
use super::*;

/// Established with an RTT sample of 100 ms (the handshake's), 64 KiB buffers.
fn established_100ms(pacing: bool) -> Connection {
    let config = TcpConfig {
        rcvbuf: 64 * 1024,
        sndbuf: 64 * 1024,
        pacing,
        ..plain()
    };
    let mut c = syn_received_with(&config, &remote_syn());
    send(&mut c, 100, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), Some(Duration::from_millis(100)));
    c
}

#[test]
fn test_established_pacing_releases_one_segment_per_interval() {
    let mut c = established_100ms(true);
    assert_eq!(c.send(&[7u8; 10 * 1460]).unwrap(), 10 * 1460);
    let cwnd = c.cwnd();
    assert!(cwnd >= 10 * 1460, "the window allows the whole burst");
    let first = recv_one(&mut c, 100);
    assert_eq!(first.payload.len(), 1460);
    recv_nothing(&mut c, 100);
    // Slow start: gain 2, interval = segment · SRTT / (2 · cwnd) ≈ 5 ms (header included).
    let deadline = c.poll_timeout().expect("a pacing deadline");
    let expected_us = 1460 * 100_000 / (2 * cwnd as u64);
    let wait = (deadline - at(100)).total_micros();
    assert!(
        (expected_us..expected_us + 200).contains(&wait),
        "paced {wait} µs, expected about {expected_us}"
    );
    // Nothing before the deadline, one more segment at it.
    let early = Instant::from_micros(deadline.total_micros() - 1);
    c.handle_timeout(early);
    let mut buf = [0u8; 1600];
    assert_eq!(c.poll_transmit(early, &mut buf), None);
    c.handle_timeout(deadline);
    assert!(c.poll_transmit(deadline, &mut buf).is_some());
    assert_eq!(c.poll_transmit(deadline, &mut buf), None);
    // ACKs are not held back: an ACK that is due at once (out-of-order data; in-order data
    // would wait, the connection answered the handshake with data: pingpong) leaves at once.
    send(&mut c, 106, data(REMOTE_SEQ + 3, b"hi"));
    let out = recv_one(&mut c, 106);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
}

#[test]
fn test_established_without_pacing_the_window_leaves_at_once() {
    let mut c = established_100ms(false);
    c.send(&[7u8; 10 * 1460]).unwrap();
    assert_eq!(drain(&mut c, 100).len(), 10);
}
