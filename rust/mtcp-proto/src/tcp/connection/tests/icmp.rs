//! ICMP errors (`Connection::handle_icmp_error`, RFC 5927, RFC 1191, Linux's `tcp_v4_err`).
use super::*;
use crate::tcp::IcmpError;

fn unreachable(code: u8) -> IcmpError {
    IcmpError::DstUnreachable {
        code,
        next_hop_mtu: 0,
    }
}

fn frag_needed(mtu: u16) -> IcmpError {
    IcmpError::DstUnreachable {
        code: 4,
        next_hop_mtu: mtu,
    }
}

#[test]
fn test_syn_sent_unreachable_fails_connect_with_linux_errno() {
    for (error, errno) in [
        (unreachable(3), Errno::ECONNREFUSED),
        (unreachable(1), Errno::EHOSTUNREACH),
        (unreachable(0), Errno::ENETUNREACH),
        (unreachable(13), Errno::EHOSTUNREACH),
        (IcmpError::TimeExceeded, Errno::EHOSTUNREACH),
    ] {
        let mut c = syn_sent();
        assert!(c.handle_icmp_error(at(5), LOCAL_SEQ, error));
        assert_eq!(c.state(), State::Closed, "{error:?}");
        assert!(c.is_closed());
        assert_eq!(c.take_error(), Some(errno), "{error:?}");
        recv_nothing(&mut c, 5);
    }
}

#[test]
fn test_syn_sent_icmp_quoting_other_sequence_ignored() {
    // RFC 5927 §4.1: the quoted sequence number must be in flight.
    let mut c = syn_sent();
    for seq in [LOCAL_SEQ + 1, LOCAL_SEQ - 1, LOCAL_SEQ + 100_000] {
        assert!(!c.handle_icmp_error(at(5), seq, unreachable(3)));
    }
    assert_eq!(c.state(), State::SynSent);
    assert_eq!(c.peek_error(), None);
}

#[test]
fn test_established_unreachable_is_soft_until_timeout() {
    let config = TcpConfig {
        max_retries: 2,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(b"data").unwrap();
    recv_one(&mut c, 0);
    assert!(c.handle_icmp_error(at(10), LOCAL_SEQ + 1, unreachable(3)));
    assert_eq!(c.state(), State::Established);
    assert_eq!(
        c.peek_error(),
        None,
        "soft: not reported while the connection lives"
    );
    // The retransmissions time out: the soft error explains why, instead of ETIMEDOUT.
    for _ in 0..4 {
        if let Some(t) = c.poll_timeout() {
            tick(&mut c, t.total_millis());
            drain(&mut c, t.total_millis());
        }
    }
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.take_error(), Some(Errno::ECONNREFUSED));
}

#[test]
fn test_established_soft_error_cleared_by_progress() {
    let config = TcpConfig {
        max_retries: 2,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(b"data").unwrap();
    recv_one(&mut c, 0);
    assert!(c.handle_icmp_error(at(10), LOCAL_SEQ + 1, unreachable(1)));
    send(&mut c, 20, ack(LOCAL_SEQ + 5));
    c.send(b"more").unwrap();
    recv_one(&mut c, 20);
    for _ in 0..4 {
        if let Some(t) = c.poll_timeout() {
            tick(&mut c, t.total_millis());
            drain(&mut c, t.total_millis());
        }
    }
    assert_eq!(c.take_error(), Some(Errno::ETIMEDOUT));
}

#[test]
fn test_established_frag_needed_resends_at_the_new_mss() {
    for sack in [false, true] {
        let config = TcpConfig {
            sack,
            sndbuf: 16384,
            ..plain()
        };
        let syn = TcpRepr {
            sack_permitted: sack,
            ..remote_syn()
        };
        let mut c = syn_received_with(&config, &syn);
        send(&mut c, 0, ack(LOCAL_SEQ + 1));
        let data: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
        assert_eq!(c.send(&data), Ok(4000));
        let first = drain(&mut c, 0);
        assert_eq!(first[0].payload.len(), 1460);
        // A router could not forward the first segment: its next hop takes 1000 bytes.
        assert!(c.handle_icmp_error(at(5), LOCAL_SEQ + 1, frag_needed(1000)));
        assert_eq!(c.mss(), 960);
        let resent = drain(&mut c, 5);
        assert!(!resent.is_empty(), "sack {sack}: resent at once");
        assert_eq!(resent[0].seq(), LOCAL_SEQ + 1);
        assert!(resent.iter().all(|o| o.payload.len() <= 960), "sack {sack}");
        assert_eq!(c.stats().timeouts, 0);
        // Everything arrives at the new size; the peer acknowledges it all.
        let mut acked = LOCAL_SEQ + 1;
        let mut t = 5;
        while acked < LOCAL_SEQ + 4001 && t < 20_000 {
            send(&mut c, t, ack(acked.max(resent.last().unwrap().seq())));
            for out in drain(&mut c, t) {
                assert!(out.payload.len() <= 960);
                if out.seq() == acked {
                    acked = out.seq() + out.payload.len();
                }
            }
            t += 1000;
            tick(&mut c, t);
            for out in drain(&mut c, t) {
                assert!(out.payload.len() <= 960);
                if out.seq() == acked {
                    acked = out.seq() + out.payload.len();
                }
            }
        }
        send(&mut c, t, ack(LOCAL_SEQ + 4001));
        assert_eq!(c.send_queue(), 0, "sack {sack}");
    }
}

#[test]
fn test_frag_needed_only_lowers_and_has_a_floor() {
    let mut c = established();
    c.send(b"x").unwrap();
    recv_one(&mut c, 0);
    assert!(!c.handle_icmp_error(at(1), LOCAL_SEQ + 1, frag_needed(9000)));
    assert!(!c.handle_icmp_error(at(1), LOCAL_SEQ + 1, frag_needed(1500)));
    assert_eq!(c.mss(), 1460);
    // A forged tiny MTU: Linux's 552-byte floor.
    assert!(c.handle_icmp_error(at(1), LOCAL_SEQ + 1, frag_needed(100)));
    assert_eq!(c.mss(), 512);
    // Outside the window: ignored.
    let mut c = established();
    c.send(b"x").unwrap();
    recv_one(&mut c, 0);
    assert!(!c.handle_icmp_error(at(1), LOCAL_SEQ + 2, frag_needed(1000)));
    assert_eq!(c.mss(), 1460);
    // No next-hop MTU (pre-RFC 1191 router): the next plateau below 1500.
    assert!(c.handle_icmp_error(at(1), LOCAL_SEQ + 1, frag_needed(0)));
    assert_eq!(c.mss(), 1492 - 40);
}

#[test]
fn test_syn_received_passive_dropped_on_host_unreachable_only() {
    let mut c = syn_received();
    assert!(!c.handle_icmp_error(at(1), LOCAL_SEQ, unreachable(3)));
    assert_eq!(c.state(), State::SynReceived);
    assert!(c.handle_icmp_error(at(1), LOCAL_SEQ, unreachable(1)));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.take_error(), None);
    assert!(c.is_closed());
}
