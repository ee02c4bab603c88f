//! A connection that takes over a finished connection's allocations ([`Storage`]) behaves
//! as a new one: none of the old connection's bytes is read or sent, whatever the old and
//! new buffer sizes.
use super::*;

/// The storage of a connection that was in use: bytes received and partly read, one segment
/// parked out of order, bytes queued and sent but not acknowledged.
fn used_storage(buffers: usize) -> Storage {
    let mut c = established_with(&TcpConfig {
        rcvbuf: buffers,
        sndbuf: buffers,
        ..plain()
    });
    let old = vec![0xAA; 1460];
    send(&mut c, 10, data(REMOTE_SEQ + 1, &old[..1000]));
    send(&mut c, 10, data(REMOTE_SEQ + 1 + 1500, &old[..200]));
    assert_eq!(c.recv(&mut [0; 300], false), Ok(300));
    assert!(c.send(&vec![0xBB; 3000]).unwrap() > 0);
    drain(&mut c, 10);
    let storage = c.into_storage();
    assert!(storage.bytes() >= 2 * buffers.min(3000));
    storage
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn test_adopted_storage_carries_no_old_bytes() {
    for (old, new) in [(8192, 8192), (2048, 16384), (65536, 4096)] {
        let config = TcpConfig {
            rcvbuf: new,
            sndbuf: new,
            ..plain()
        };
        let mut c = Connection::accept(&config, LOCAL, REMOTE, &remote_syn(), LOCAL_SEQ, at(0));
        c.adopt_storage(used_storage(old));
        assert_eq!(recv_one(&mut c, 0).flags(), TcpFlags::SYN | TcpFlags::ACK);
        send(&mut c, 0, ack(LOCAL_SEQ + 1));
        assert_eq!(c.state(), State::Established);
        // Receive: fill the new window in segments, read it back, then again so the ring
        // wraps; a segment out of order first, so the reassembly ranges are used too.
        let mut seq = REMOTE_SEQ + 1;
        for round in 0..2u8 {
            let incoming = pattern(new, 7 + round);
            let split = 1000.min(new / 2);
            send(&mut c, 20, data(seq + split, &incoming[split..split + 100]));
            for (i, chunk) in incoming.chunks(1000).enumerate() {
                send(&mut c, 20, data(seq + i * 1000, chunk));
            }
            seq += new;
            let mut got = vec![0; new + 10];
            assert_eq!(c.recv(&mut got, false), Ok(new), "buffers {old} -> {new}");
            assert_eq!(&got[..new], &incoming[..], "buffers {old} -> {new}");
            drain(&mut c, 20);
        }
        // Send: the bytes on the wire are exactly the new ones.
        let outgoing = pattern(new, 99);
        assert_eq!(c.send(&outgoing), Ok(new));
        let wire: Vec<u8> = drain(&mut c, 30)
            .into_iter()
            .flat_map(|out| out.payload)
            .collect();
        assert!(!wire.is_empty());
        assert_eq!(&wire[..], &outgoing[..wire.len()], "buffers {old} -> {new}");
    }
}

#[test]
fn test_storage_of_an_unused_connection_is_empty() {
    let c = Connection::connect(&plain(), LOCAL, REMOTE, LOCAL_SEQ, at(0));
    // Allocations are made on first use: a connection that never moved data has none.
    assert_eq!(c.into_storage().bytes(), 0);
}

#[test]
fn test_request_response_keeps_ring_storage_small() {
    // 200 request/response rounds of 64 B through 8 KiB buffers: each ring is emptied between
    // rounds and starts again at index 0, so neither grows past its first reservation (without
    // the rewind both would walk their whole 8 KiB and hold it).
    let mut c = established_with(&TcpConfig {
        rcvbuf: 8192,
        sndbuf: 8192,
        ..plain()
    });
    let mut seq = REMOTE_SEQ + 1;
    let mut acked = LOCAL_SEQ + 1;
    for round in 0..200u8 {
        let request = pattern(64, round);
        send(&mut c, 10, data(seq, &request));
        seq += 64;
        let mut got = [0; 100];
        assert_eq!(c.recv(&mut got, false), Ok(64));
        assert_eq!(&got[..64], &request[..]);
        let response = pattern(64, round.wrapping_add(100));
        assert_eq!(c.send(&response), Ok(64));
        let out = drain(&mut c, 10);
        assert_eq!(out.iter().map(|o| o.payload.len()).sum::<usize>(), 64);
        assert_eq!(out.last().unwrap().payload, response);
        acked += 64;
        send(
            &mut c,
            10,
            TcpRepr {
                seq_number: seq,
                ack_number: acked,
                ..SEND_TEMPL
            },
        );
    }
    let storage = c.into_storage();
    assert!(
        storage.send.capacity() <= 256 && storage.recv.capacity() <= 256,
        "send {} recv {}",
        storage.send.capacity(),
        storage.recv.capacity()
    );
}

#[test]
fn test_emptied_receive_ring_keeps_a_parked_segment_in_place() {
    // The application reads everything in order while a later segment is parked out of order:
    // the ring must not start again at index 0 then, or the parked bytes would be lost.
    let mut c = established();
    let a = pattern(100, 1);
    let b = pattern(100, 2);
    let later = pattern(100, 3);
    send(&mut c, 10, data(REMOTE_SEQ + 1, &a));
    send(&mut c, 10, data(REMOTE_SEQ + 201, &later));
    let mut got = [0; 400];
    assert_eq!(c.recv(&mut got, false), Ok(100));
    assert_eq!(&got[..100], &a[..]);
    send(&mut c, 11, data(REMOTE_SEQ + 101, &b));
    assert_eq!(c.recv(&mut got, false), Ok(200));
    assert_eq!(&got[..100], &b[..]);
    assert_eq!(&got[100..200], &later[..]);
}
