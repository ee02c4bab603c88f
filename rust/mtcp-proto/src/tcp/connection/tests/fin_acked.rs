//! An ACK of our FIN (and so of everything we sent) ends the sending side at once: the
//! retransmission and probe timers stop, the send buffer empties and the state moves on,
//! without the loss-recovery work an ACK otherwise feeds.
use super::*;

/// Established with SACK and timestamps, data and then our FIN in flight (FIN-WAIT-1).
fn data_and_fin_in_flight() -> Connection {
    let config = TcpConfig {
        sack: true,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    assert_eq!(c.send(b"last words"), Ok(10));
    c.close(at(1));
    let out = drain(&mut c, 1);
    assert!(out.last().is_some_and(|o| o.flags().fin()));
    assert_eq!(c.state(), State::FinWait1);
    assert!(c.poll_timeout().is_some(), "the retransmission timer runs");
    c
}

#[test]
fn test_ack_of_data_and_fin_ends_the_sending_side() {
    let mut c = data_and_fin_in_flight();
    send(&mut c, 5, ack(LOCAL_SEQ + 1 + 10 + 1));
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.send_queue(), 0);
    assert_eq!(
        c.poll_timeout(),
        None,
        "no retransmission or probe timer is left"
    );
    recv_nothing(&mut c, 5);
    // Nothing is resent however long we wait; the peer's FIN then ends it.
    tick(&mut c, 60_000);
    recv_nothing(&mut c, 60_000);
    send(
        &mut c,
        60_001,
        TcpRepr {
            flags: TcpFlags::FIN | TcpFlags::ACK,
            ..ack(LOCAL_SEQ + 12)
        },
    );
    assert_eq!(recv_one(&mut c, 60_001).ack(), REMOTE_SEQ + 2);
    assert!(c.is_closed(), "TIME-WAIT of 0 in `plain`");
}

#[test]
fn test_ack_of_the_data_only_keeps_the_fin_in_flight() {
    let mut c = data_and_fin_in_flight();
    send(&mut c, 5, ack(LOCAL_SEQ + 1 + 10));
    assert_eq!(c.state(), State::FinWait1);
    assert_eq!(c.send_queue(), 0);
    // The FIN is still outstanding: it is sent again when its timer fires.
    let deadline = c.poll_timeout().expect("a timer for the FIN");
    let ms = deadline.total_millis();
    tick(&mut c, ms);
    let again = drain(&mut c, ms);
    assert!(again
        .iter()
        .any(|o| o.flags().fin() && o.seq() == LOCAL_SEQ + 11));
}

#[test]
fn test_last_ack_ack_of_fin_closes_with_nothing_left() {
    let mut c = last_ack_acked_at(3);
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.send_queue(), 0);
    recv_nothing(&mut c, 3);
}
