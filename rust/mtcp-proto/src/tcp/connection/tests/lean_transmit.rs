//! The lean path of `transmit` (`output.rs`): which segments take it. That it leaves exactly
//! the connection and writes exactly the bytes the general path would is checked on every
//! lean segment of every test of this crate (`transmit` under `cfg(test)` runs the general
//! path on a clone and compares); these tests make sure the common segments do take it.
use super::output::LEAN_SEGMENTS;
use super::*;

/// Segments written through the lean path on this thread so far.
fn lean_segments() -> u64 {
    LEAN_SEGMENTS.with(|n| n.get())
}

/// Moves every segment `from` wants to send now into `to`, as the runtime does (until
/// `wants_transmit` says no, which must then be right); returns how many there were.
fn deliver(from: &mut Connection, to: &mut Connection, ms: u64) -> usize {
    let mut sent = 0;
    let mut buf = [0u8; 1600];
    while let Some(len) = from.poll_transmit(at(ms), &mut buf) {
        let (src, dst) = (*from.local().ip(), *from.remote().ip());
        let seg = TcpRepr::parse(&buf[..len], src, dst, ChecksumCaps::default())
            .expect("emitted segment parses with a valid checksum");
        to.handle_segment(at(ms), &seg);
        sent += 1;
        if !from.wants_transmit() {
            assert_eq!(
                from.poll_transmit(at(ms), &mut buf),
                None,
                "wants_transmit hid output"
            );
            break;
        }
    }
    sent
}

/// A client and a server with the default configuration (timestamps, SACK, window scaling,
/// as Linux), established at 0 ms.
fn pair() -> (Connection, Connection) {
    pair_with(&TcpConfig::default())
}

/// `pair` with `config` on both sides.
fn pair_with(config: &TcpConfig) -> (Connection, Connection) {
    let mut client = Connection::connect(config, REMOTE, LOCAL, REMOTE_SEQ, at(0));
    let mut buf = [0u8; 1600];
    let len = client.poll_transmit(at(0), &mut buf).expect("SYN");
    let syn = TcpRepr::parse(
        &buf[..len],
        *REMOTE.ip(),
        *LOCAL.ip(),
        ChecksumCaps::default(),
    )
    .expect("SYN parses");
    let mut server = Connection::accept(config, LOCAL, REMOTE, &syn, LOCAL_SEQ, at(0));
    deliver(&mut server, &mut client, 0);
    deliver(&mut client, &mut server, 0);
    assert_eq!(
        (client.state(), server.state()),
        (State::Established, State::Established)
    );
    assert!(server.timestamps_enabled() && server.sack_enabled());
    (client, server)
}

#[test]
fn test_lean_transmit_takes_requests_and_responses() {
    let (mut client, mut server) = pair();
    let before = lean_segments();
    let mut buf = [0u8; 64];
    for round in 0..20u64 {
        let ms = 1 + round;
        assert_eq!(client.send(b"request"), Ok(7));
        assert_eq!(deliver(&mut client, &mut server, ms), 1, "round {round}");
        assert_eq!(server.recv(&mut buf, false), Ok(7));
        assert_eq!(server.send(b"response"), Ok(8));
        // The response carries the request's ACK: no pure ACK in between (pingpong).
        assert_eq!(deliver(&mut server, &mut client, ms), 1, "round {round}");
        assert_eq!(client.recv(&mut buf, false), Ok(8));
        assert_eq!(&buf[..8], b"response");
    }
    // Every request and every response.
    assert_eq!(lean_segments() - before, 2 * 20);
}

#[test]
fn test_lean_transmit_takes_the_delayed_ack() {
    let (mut client, mut server) = pair();
    // Interactive first: a response within the delayed-ACK time.
    let mut buf = [0u8; 64];
    client.send(b"one").unwrap();
    deliver(&mut client, &mut server, 1);
    server.recv(&mut buf, false).unwrap();
    server.send(b"two").unwrap();
    deliver(&mut server, &mut client, 1);
    // Now a request that is not answered: its ACK waits, then goes alone.
    client.send(b"three").unwrap();
    deliver(&mut client, &mut server, 2);
    assert_eq!(
        deliver(&mut server, &mut client, 2),
        0,
        "the ACK is delayed"
    );
    let before = lean_segments();
    let due = server.poll_timeout().expect("the delayed-ACK timer");
    server.handle_timeout(due);
    let mut out = [0u8; 1600];
    let len = server
        .poll_transmit(due, &mut out)
        .expect("the delayed ACK");
    assert_eq!(lean_segments() - before, 1);
    let ack = TcpRepr::parse(
        &out[..len],
        *LOCAL.ip(),
        *REMOTE.ip(),
        ChecksumCaps::default(),
    )
    .unwrap();
    assert!(ack.payload.is_empty() && ack.flags == TcpFlags::ACK);
    assert!(ack.timestamp.is_some());
}

#[test]
fn test_lean_transmit_takes_a_bulk_transfer_with_data_in_flight() {
    let (mut client, mut server) = pair();
    let data = vec![0x5a; 60_000];
    let mut queued = client.send(&data).unwrap();
    let before = lean_segments();
    let mut segments = 0;
    let mut received = 0;
    let mut buf = vec![0u8; 65_536];
    for ms in 1..200 {
        segments += deliver(&mut client, &mut server, ms);
        received += server.recv(&mut buf, false).unwrap_or(0);
        segments += deliver(&mut server, &mut client, ms);
        if queued < data.len() {
            queued += client.send(&data[queued..]).unwrap_or(0);
        }
        if received == data.len() {
            break;
        }
    }
    assert_eq!(received, data.len());
    // Data segments with data in flight (the general `next_data` rules, the lean writer)
    // and the receiver's ACKs: none was declined.
    assert!(segments >= data.len() / usize::from(client.mss()));
    assert_eq!(lean_segments() - before, segments as u64);
}

#[test]
fn test_lean_transmit_leaves_sack_blocks_to_the_general_path() {
    let config = TcpConfig {
        sack: true,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    // Out-of-order data held: our next segment must report it in a SACK block.
    send(&mut c, 1, data(REMOTE_SEQ + 11, b"later"));
    drain(&mut c, 1);
    c.send(b"answer").unwrap();
    let before = lean_segments();
    let out = recv_one(&mut c, 2);
    assert_eq!(out.payload, b"answer");
    assert!(out.repr.sack_ranges[0].is_some());
    assert_eq!(lean_segments(), before, "SACK blocks need the general path");
    // Once the hole is filled (and the answer acknowledged, so that Nagle lets the next
    // small segment go), the next segment is lean again.
    send(
        &mut c,
        3,
        TcpRepr {
            ack_number: LOCAL_SEQ + 1 + 6,
            ..data(REMOTE_SEQ + 1, b"0123456789")
        },
    );
    drain(&mut c, 3);
    c.send(b"more").unwrap();
    let before = lean_segments();
    assert_eq!(recv_one(&mut c, 4).payload, b"more");
    assert_eq!(lean_segments() - before, 1);
}

#[test]
fn test_lean_transmit_takes_a_short_connections_fins_and_their_acks() {
    // With TIME-WAIT (by default it ends at once, and the last ACK goes as FINAL_ACK through
    // the general path).
    let (mut client, mut server) = pair_with(&TcpConfig {
        timewait: Duration::from_secs(60),
        ..TcpConfig::default()
    });
    let before = lean_segments();
    let mut segments = 0;
    let mut buf = [0u8; 64];
    client.send(b"request").unwrap();
    segments += deliver(&mut client, &mut server, 1);
    assert_eq!(server.recv(&mut buf, false), Ok(7));
    // The response and the server's FIN leave in one segment.
    server.send(b"response").unwrap();
    server.close(at(1));
    assert_eq!(deliver(&mut server, &mut client, 1), 1);
    segments += 1;
    assert_eq!(client.recv(&mut buf, false), Ok(8));
    assert_eq!(client.recv(&mut buf, false), Ok(0), "end of stream");
    // The client's FIN (from CLOSE-WAIT), then the server's ACK of it (from TIME-WAIT).
    client.close(at(2));
    segments += deliver(&mut client, &mut server, 2);
    segments += deliver(&mut server, &mut client, 2);
    assert_eq!(server.state(), State::TimeWait);
    assert!(client.is_closed());
    assert!(segments >= 4, "{segments} segments");
    assert_eq!(lean_segments() - before, segments as u64);
}

#[test]
fn test_lean_transmit_takes_a_bare_fin() {
    let (mut client, mut server) = pair();
    client.send(b"request").unwrap();
    deliver(&mut client, &mut server, 1);
    let mut buf = [0u8; 64];
    assert_eq!(server.recv(&mut buf, false), Ok(7));
    deliver(&mut server, &mut client, 1);
    // Nothing queued: the FIN goes alone, at SND.NXT, and takes one sequence number.
    let snd_nxt = server.snd_nxt;
    server.close(at(2));
    let before = lean_segments();
    let mut out = [0u8; 1600];
    let len = server.poll_transmit(at(2), &mut out).expect("the FIN");
    assert_eq!(lean_segments() - before, 1);
    let fin = TcpRepr::parse(
        &out[..len],
        *LOCAL.ip(),
        *REMOTE.ip(),
        ChecksumCaps::default(),
    )
    .unwrap();
    assert_eq!(fin.flags, TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!((fin.seq_number, fin.payload.len()), (snd_nxt, 0));
    assert_eq!(server.snd_nxt, snd_nxt + 1);
}

#[test]
fn test_lean_transmit_leaves_the_pto_off_while_a_probe_is_out() {
    // No Nagle: the new data goes while the request is unacknowledged.
    let (mut client, _server) = pair_with(&TcpConfig {
        nodelay: true,
        ..TcpConfig::default()
    });
    let mut buf = [0u8; 1600];
    // A request that is lost, then the tail loss probe (RFC 8985 §7.3) that resends it.
    client.send(b"lost").unwrap();
    client.poll_transmit(at(1), &mut buf).expect("the request");
    let pto = client.poll_timeout().expect("the PTO");
    client.handle_timeout(pto);
    client.poll_transmit(pto, &mut buf).expect("the probe");
    assert!(client.tlp.is_some(), "a probe is outstanding");
    // New data while the probe is out goes the lean way and arms no second PTO
    // (RFC 8985 §7.2: one probe per episode); the general path on a twin agrees.
    client.send(b"more").unwrap();
    let before = lean_segments();
    client.poll_transmit(pto, &mut buf).expect("the new data");
    assert_eq!(lean_segments() - before, 1);
    assert!(!client.timers.is_armed(Timer::TailLossProbe));
}

#[test]
fn test_wants_transmit_after_a_general_segment_sees_what_is_left() {
    // No Nagle: segments shortened by the SACK option would hold back the tail.
    let config = TcpConfig {
        sack: true,
        nodelay: true,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    // Out-of-order data held: segments carry SACK blocks, through the general path.
    send(&mut c, 1, data(REMOTE_SEQ + 11, b"later"));
    drain(&mut c, 1);
    c.send(&[7u8; 3000]).unwrap();
    let before = lean_segments();
    let first = recv_one(&mut c, 2);
    assert!(first.repr.sack_ranges[0].is_some());
    assert_eq!(lean_segments(), before);
    // More than one segment was queued: the flag `transmit` leaves must not hide the rest.
    assert!(c.wants_transmit(), "more data waits");
    let rest = drain(&mut c, 2);
    assert_eq!(
        first.payload.len() + rest.iter().map(|s| s.payload.len()).sum::<usize>(),
        3000
    );
    assert!(!c.wants_transmit());
}
