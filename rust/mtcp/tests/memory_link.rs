//! Two stacks on the in-memory hub, each context on its own loop thread, in real time.
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::{Config, Errno, Ipv4Cidr, RunMode, Stack};

fn stack(hub: &str, addr: &str, mode: RunMode) -> Stack {
    Stack::new(Config {
        port: vec![hub.to_string()],
        addr: Some(Ipv4Cidr {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
        }),
        rcvbuf: 65536,
        sndbuf: 65536,
        mode,
        ..Config::default()
    })
    .unwrap()
}

fn echo(mode: RunMode, hub: &str) {
    let server = stack(hub, "198.18.5.1", mode).create_context(0).unwrap();
    let client = stack(hub, "198.18.5.2", mode).create_context(0).unwrap();
    let l = server.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    server.bind(l, "0.0.0.0:7".parse().unwrap()).unwrap();
    server.listen(l, 16).unwrap();
    let c = client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    // An echo exchanges partial segments both ways: without TCP_NODELAY, Nagle and the 40 ms
    // delayed ACK would pace it (as on Linux).
    client.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, 1).unwrap();
    server.setsockopt(l, IPPROTO_TCP, TCP_NODELAY, 1).unwrap();
    assert_eq!(
        errno(client.connect(c, "198.18.5.1:7".parse().unwrap())),
        Errno::EINPROGRESS
    );

    let data = pattern(2 << 20, 11);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (sep, cep) = (
        server.epoll_create(8).unwrap(),
        client.epoll_create(8).unwrap(),
    );
    server
        .epoll_ctl(sep, MTCP_EPOLL_CTL_ADD, l, MTCP_EPOLLIN)
        .unwrap();
    client
        .epoll_ctl(cep, MTCP_EPOLL_CTL_ADD, c, MTCP_EPOLLIN | MTCP_EPOLLOUT)
        .unwrap();
    let mut s = None;
    let (mut sent, mut echoed, mut got) = (0, 0, Vec::new());
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut ev = Vec::new();
    while got.len() < data.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "echo timed out at {} bytes",
            got.len()
        );
        ev.clear();
        server.epoll_wait(sep, &mut ev, 16, 1).unwrap();
        if s.is_none() {
            if let Ok((a, _)) = server.accept(l) {
                server
                    .epoll_ctl(sep, MTCP_EPOLL_CTL_ADD, a, MTCP_EPOLLIN)
                    .unwrap();
                s = Some(a);
            }
        }
        if let Some(a) = s {
            // Echo back whatever arrived.
            loop {
                if !pending.is_empty() {
                    match server.write(a, &pending) {
                        Ok(n) => {
                            pending.drain(..n);
                            echoed += n;
                        }
                        Err(_) => break,
                    }
                    if !pending.is_empty() {
                        break;
                    }
                }
                match server.read(a, &mut buf) {
                    Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
        }
        ev.clear();
        client.epoll_wait(cep, &mut ev, 16, 1).unwrap();
        while sent < data.len() {
            match client.write(c, &data[sent..(sent + 32768).min(data.len())]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = client.read(c, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(echoed, data.len());
    assert!(got == data, "echoed bytes differ");
    client.close(c).unwrap();
}

#[test]
fn threaded_echo_over_memory_hub() {
    echo(RunMode::Threaded, "test-threaded-echo");
}

#[test]
fn inline_echo_over_memory_hub() {
    echo(RunMode::Inline, "test-inline-echo");
}

#[test]
fn same_mac_twice_on_a_hub_is_eaddrinuse() {
    let _a = stack("test-dup-mac", "198.18.6.1", RunMode::Inline);
    let e = Stack::new(Config {
        port: vec!["test-dup-mac".into()],
        addr: Some(Ipv4Cidr {
            addr: "198.18.6.1".parse().unwrap(),
            prefix_len: 24,
        }),
        ..Config::default()
    })
    .unwrap_err();
    assert_eq!(mtcp::errno_of(&e), Some(Errno::EADDRINUSE));
}
