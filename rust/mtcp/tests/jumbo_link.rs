//! Jumbo frames on the in-memory link: two stacks with a 9,000-byte MTU move a stream intact
//! in full-size (8,960-byte MSS) segments; an MTU the link can't carry is refused.
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::{Config, Errno, Ipv4Cidr, RunMode, Stack};

fn stack(hub: &str, addr: &str, mtu: usize) -> Stack {
    Stack::new(Config {
        port: vec![hub.to_string()],
        addr: Some(Ipv4Cidr {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
        }),
        mtu,
        rcvbuf: 1 << 20,
        sndbuf: 1 << 20,
        mode: RunMode::Inline,
        ..Config::default()
    })
    .unwrap()
}

/// Streams `len` bytes from a client to a server over a hub whose stations have `mtu`; returns
/// what arrived and the server's and client's context counters.
fn stream(hub: &str, mtu: usize, len: usize) -> (Vec<u8>, Vec<u8>, mtcp::ContextStats) {
    let server = stack(hub, "198.18.9.1", mtu).create_context(0).unwrap();
    let client = stack(hub, "198.18.9.2", mtu).create_context(0).unwrap();
    let l = server.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    server.bind(l, "0.0.0.0:9".parse().unwrap()).unwrap();
    server.listen(l, 4).unwrap();
    let c = client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(client.connect(c, "198.18.9.1:9".parse().unwrap())),
        Errno::EINPROGRESS
    );
    let (sep, cep) = (
        server.epoll_create(4).unwrap(),
        client.epoll_create(4).unwrap(),
    );
    let data = pattern(len, 9);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (mut s, mut sent, mut got) = (None, 0, Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut ev = Vec::new();
    while got.len() < data.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled at {} bytes",
            got.len()
        );
        ev.clear();
        client.epoll_wait(cep, &mut ev, 4, 0).unwrap();
        while sent < data.len() {
            match client.write(c, &data[sent..(sent + (1 << 16)).min(data.len())]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        ev.clear();
        server.epoll_wait(sep, &mut ev, 4, 0).unwrap();
        if s.is_none() {
            s = server.accept(l).ok().map(|(a, _)| a);
        }
        if let Some(a) = s {
            while let Ok(n) = server.read(a, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
    }
    let stats = client.stats();
    client.close(c).unwrap();
    (data, got, stats)
}

#[test]
fn a_9000_byte_mtu_link_carries_full_size_segments_intact() {
    let len = 8 << 20;
    let (data, got, client) = stream("test-jumbo-stream", 9000, len);
    assert!(got == data, "the stream arrived changed");
    // Full-size segments: 8,960-byte MSS less 12 bytes of timestamps, 9,014-byte frames. The
    // client sends the data and a handful of handshake frames, nothing else.
    let per_frame = client.tx_bytes / client.tx_frames;
    assert!(per_frame > 8_000, "{per_frame} bytes per frame sent");
    assert!(client.tx_frames >= (len / 8_948) as u64);
    assert!(
        client.tx_frames < (len / 8_000) as u64,
        "{} frames",
        client.tx_frames
    );
    assert_eq!(client.drops, 0);
}

#[test]
fn the_default_mtu_still_sends_1514_byte_frames() {
    let len = 1 << 20;
    let (data, got, client) = stream("test-jumbo-default", 1500, len);
    assert!(got == data);
    let per_frame = client.tx_bytes / client.tx_frames;
    assert!((1_300..=1_514).contains(&per_frame), "{per_frame}");
}

#[test]
fn an_mtu_over_9000_is_refused_naming_the_key() {
    for mtu in [9001, 65536] {
        let e = Stack::new(Config {
            port: vec!["test-jumbo-refused".into()],
            mtu,
            ..Config::default()
        })
        .unwrap_err();
        assert_eq!(mtcp::errno_of(&e), None);
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let text = e.to_string();
        assert!(text.contains("mtu") && text.contains("9000"), "{text}");
    }
    // 9,000 itself is fine.
    drop(stack("test-jumbo-refused", "198.18.9.3", 9000));
}
