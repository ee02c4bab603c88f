//! Pingpong mode (Linux's `tcp_event_data_sent`): data sent within the delayed-ACK time of the
//! last arrival makes the connection interactive, so ACKs of what arrives next wait for our
//! answer instead of going out alone in quickack mode; a delayed ACK that fires alone ends it.
use super::*;

/// The peer's data `payload` at `seq`, acknowledging our first `acked` bytes.
fn request(seq: SeqNumber, payload: &[u8], acked: usize) -> TcpRepr<'_> {
    TcpRepr {
        ack_number: LOCAL_SEQ + 1 + acked,
        ..data(seq, payload)
    }
}

#[test]
fn test_answer_within_the_delay_makes_the_next_ack_wait_for_data() {
    let mut c = established();
    // The first request: quickack mode acknowledges it at once.
    send(&mut c, 1, data(REMOTE_SEQ + 1, b"req1"));
    assert!(recv_one(&mut c, 1).is_pure_ack());
    // Answered within the delayed-ACK time: interactive.
    c.send(b"resp1").unwrap();
    assert_eq!(recv_one(&mut c, 2).payload, b"resp1");
    // The next request is not acknowledged alone any more (quickack ACKs are left) ...
    send(&mut c, 3, request(REMOTE_SEQ + 5, b"req2", 5));
    recv_nothing(&mut c, 3);
    assert_eq!(c.poll_timeout(), Some(at(43)));
    // ... its ACK goes out with the answer.
    c.send(b"resp2").unwrap();
    let out = recv_one(&mut c, 4);
    assert_eq!(out.payload, b"resp2");
    assert_eq!(out.ack(), REMOTE_SEQ + 9);
}

#[test]
fn test_a_late_answer_does_not_make_the_connection_interactive() {
    let mut c = established();
    send(&mut c, 1, data(REMOTE_SEQ + 1, b"req1"));
    assert!(recv_one(&mut c, 1).is_pure_ack());
    // Data sent long after the last arrival (a one-way transfer's timing): quickack stays.
    c.send(b"later").unwrap();
    assert_eq!(recv_one(&mut c, 500).payload, b"later");
    send(&mut c, 501, data(REMOTE_SEQ + 5, b"req2"));
    assert!(recv_one(&mut c, 501).is_pure_ack());
}

#[test]
fn test_a_delayed_ack_sent_alone_ends_pingpong() {
    let mut c = established();
    send(&mut c, 1, data(REMOTE_SEQ + 1, b"req1"));
    assert!(recv_one(&mut c, 1).is_pure_ack());
    c.send(b"resp1").unwrap();
    recv_one(&mut c, 2);
    send(&mut c, 3, request(REMOTE_SEQ + 5, b"req2", 5));
    recv_nothing(&mut c, 3);
    // No answer: the delayed ACK goes out alone at 43 ms ...
    tick(&mut c, 43);
    assert_eq!(recv_one(&mut c, 43).ack(), REMOTE_SEQ + 9);
    // ... and the next arrival is acknowledged at once again (quickack ACKs are left).
    send(&mut c, 50, request(REMOTE_SEQ + 9, b"req3", 5));
    let out = recv_one(&mut c, 50);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 13);
}

#[test]
fn test_active_open_sending_at_once_is_interactive() {
    // The client's usual pattern: connect, send the request as soon as the handshake is
    // done, then the response is acknowledged with the next request or the FIN.
    let mut c = syn_sent();
    send(
        &mut c,
        10,
        TcpRepr {
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ack_number: LOCAL_SEQ + 1,
            ..remote_syn()
        },
    );
    assert_eq!(c.state(), State::Established);
    assert!(recv_one(&mut c, 10).is_pure_ack());
    c.send(b"req").unwrap();
    recv_one(&mut c, 10);
    send(&mut c, 11, request(REMOTE_SEQ + 1, b"resp", 3));
    recv_nothing(&mut c, 11);
    let mut buf = [0; 8];
    assert_eq!(c.recv(&mut buf, false), Ok(4));
    recv_nothing(&mut c, 12);
    c.close(at(12));
    let fin = recv_one(&mut c, 12);
    assert!(fin.flags().fin());
    assert_eq!(fin.ack(), REMOTE_SEQ + 5);
}
