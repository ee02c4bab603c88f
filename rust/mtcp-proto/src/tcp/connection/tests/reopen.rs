//! A finished connection rewritten in place for the next one (`reopen_passive`,
//! `reopen_connect`, what a runtime does in a freed flow slot) is exactly the connection the
//! constructor builds, its buffers' allocations aside, and behaves like it on the wire.
use super::*;

/// A connection that went through a lot: data both ways, a segment out of order, a
/// retransmission timeout, window and RTT state, counters; then reset by the peer.
fn worn_out() -> Connection {
    let mut c = established_with(&TcpConfig {
        rcvbuf: 16384,
        sndbuf: 16384,
        ..plain()
    });
    send(&mut c, 10, data(REMOTE_SEQ + 1, &[1; 1000]));
    send(&mut c, 10, data(REMOTE_SEQ + 1 + 1500, &[2; 200]));
    assert_eq!(c.recv(&mut [0; 300], false), Ok(300));
    assert!(c.send(&[3; 5000]).unwrap() > 0);
    drain(&mut c, 10);
    tick(&mut c, 2_000);
    drain(&mut c, 2_000);
    assert!(c.stats().timeouts > 0);
    send(
        &mut c,
        2_100,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1 + 1000, &[])
        },
    );
    assert!(c.is_closed());
    assert!(c.storage_bytes() > 0);
    c
}

fn other_config() -> TcpConfig {
    TcpConfig {
        rcvbuf: 4096,
        sndbuf: 8192,
        mss: 1200,
        ..TcpConfig::default()
    }
}

const OTHER_REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 49501);

#[test]
fn test_reopened_passive_reads_as_new_and_keeps_its_buffers() {
    let mut c = worn_out();
    let kept = c.storage_bytes();
    let config = other_config();
    c.reopen_passive(&config, LOCAL, OTHER_REMOTE, SeqNumber(777));
    let fresh = Connection::passive(&config, LOCAL, OTHER_REMOTE, SeqNumber(777));
    assert_eq!(format!("{c:?}"), format!("{fresh:?}"));
    assert_eq!(
        c.storage_bytes(),
        kept,
        "the allocations stay for the new connection"
    );
}

#[test]
fn test_reopened_connect_reads_as_new() {
    let mut c = worn_out();
    let config = other_config();
    c.reopen_connect(&config, LOCAL, OTHER_REMOTE, SeqNumber(5), at(3_000));
    let fresh = Connection::connect(&config, LOCAL, OTHER_REMOTE, SeqNumber(5), at(3_000));
    assert_eq!(format!("{c:?}"), format!("{fresh:?}"));
}

/// Same segments in, same segments out: a reopened connection and a new one, through a
/// handshake, data both ways and the close.
#[test]
fn test_reopened_connection_sends_what_a_new_one_sends() {
    let config = TcpConfig {
        rcvbuf: 8192,
        sndbuf: 8192,
        ..plain()
    };
    let mut reused = worn_out();
    reused.reopen_passive(&config, LOCAL, REMOTE, LOCAL_SEQ);
    let mut fresh = Connection::passive(&config, LOCAL, REMOTE, LOCAL_SEQ);
    let mut outputs = Vec::new();
    for c in [&mut reused, &mut fresh] {
        let mut out = Vec::new();
        c.take_syn(&remote_syn(), at(0));
        out.extend(drain(c, 0).into_iter().map(|o| (o.repr.flags, o.payload)));
        send(c, 1, ack(LOCAL_SEQ + 1));
        send(c, 1, data(REMOTE_SEQ + 1, &[9; 64]));
        let mut got = [0; 100];
        assert_eq!(c.recv(&mut got, false), Ok(64));
        assert_eq!(
            got[..64],
            [9; 64],
            "the bytes received, from the ring's start"
        );
        assert_eq!(c.send(&[8; 64]), Ok(64));
        out.extend(drain(c, 1).into_iter().map(|o| (o.repr.flags, o.payload)));
        c.close(at(2));
        out.extend(drain(c, 2).into_iter().map(|o| (o.repr.flags, o.payload)));
        outputs.push((out, c.state()));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[0].0.iter().any(|(_, p)| p == &[8; 64]));
}
