//! The errno contract of API.md §2, checked from the Rust API over the simulated network.
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno};
use mtcp_proto::Duration;

fn small() -> Config {
    Config {
        max_concurrency: 4,
        ..Config::default()
    }
}

#[test]
fn socket_errnos_and_pool_exhaustion() {
    let p = sim_pair(1, Impairments::default(), small());
    let ctx = &p.client;
    assert_eq!(
        errno(ctx.socket(AF_INET6, SOCK_STREAM, 0)),
        Errno::EAFNOSUPPORT
    );
    assert_eq!(errno(ctx.socket(AF_INET, SOCK_DGRAM, 0)), Errno::EINVAL);
    assert_eq!(errno(ctx.socket(AF_INET, SOCK_STREAM, 6)), Errno::EINVAL);
    let ids: Vec<_> = (0..4)
        .map(|_| ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap())
        .collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    assert_eq!(errno(ctx.socket(AF_INET, SOCK_STREAM, 0)), Errno::ENFILE);
    ctx.close(ids[2]).unwrap();
    assert_eq!(ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap(), 2);
    // Pools are per context: the other context still has all its descriptors.
    assert_eq!(p.server.socket(AF_INET, SOCK_STREAM, 0).unwrap(), 0);
}

#[test]
fn bad_descriptors() {
    let p = sim_pair(1, Impairments::default(), small());
    let ctx = &p.client;
    assert_eq!(errno(ctx.close(0)), Errno::EBADF);
    assert_eq!(errno(ctx.close(-1)), Errno::EBADF);
    assert_eq!(errno(ctx.close(1 << 30)), Errno::EBADF);
    let s = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    ctx.close(s).unwrap();
    assert_eq!(errno(ctx.close(s)), Errno::EBADF);
    let mut buf = [0u8; 4];
    assert_eq!(errno(ctx.read(s, &mut buf)), Errno::EBADF);
    let ep = ctx.epoll_create(8).unwrap();
    assert_eq!(
        errno(ctx.bind(ep, "198.18.0.2:1".parse().unwrap())),
        Errno::ENOTSOCK
    );
    assert_eq!(errno(ctx.epoll_create(0)), Errno::EINVAL);
}

#[test]
fn bind_listen_connect_rules() {
    let p = sim_pair(1, Impairments::default(), Config::default());
    let ctx = &p.server;
    let a = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    ctx.bind(a, "198.18.0.1:80".parse().unwrap()).unwrap();
    assert_eq!(
        errno(ctx.bind(a, "198.18.0.1:81".parse().unwrap())),
        Errno::EINVAL
    );
    let b = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(ctx.bind(b, "198.18.0.1:80".parse().unwrap())),
        Errno::EADDRINUSE
    );
    assert_eq!(
        errno(ctx.bind(b, "198.18.9.9:80".parse().unwrap())),
        Errno::EADDRNOTAVAIL
    );
    assert_eq!(errno(ctx.listen(a, 0)), Errno::EINVAL);
    ctx.listen(a, 16).unwrap();
    assert_eq!(errno(ctx.accept(a)), Errno::EAGAIN);
    assert_eq!(errno(ctx.accept(b)), Errno::EINVAL);
    assert_eq!(
        errno(ctx.connect(a, "198.18.0.2:80".parse().unwrap())),
        Errno::EISCONN
    );
    let mut buf = [0u8; 4];
    assert_eq!(errno(ctx.read(b, &mut buf)), Errno::ENOTCONN);
    assert_eq!(errno(ctx.write(b, b"x")), Errno::EPIPE);
    assert_eq!(errno(ctx.getpeername(b)), Errno::ENOTCONN);
    assert_eq!(errno(ctx.shutdown(b, SHUT_WR)), Errno::ENOTCONN);
    assert_eq!(
        errno(ctx.getsockopt(b, SOL_SOCKET, 9999)),
        Errno::ENOPROTOOPT
    );
    assert_eq!(errno(ctx.getsockopt(b, 999, 1)), Errno::EOPNOTSUPP);
}

#[test]
fn connect_progress_refused_and_reset() {
    let p = sim_pair(3, Impairments::default(), Config::default());
    let l = listener(&p.server, p.server_addr);
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(p.client.connect(c, p.server_addr)),
        Errno::EINPROGRESS
    );
    assert_eq!(errno(p.client.connect(c, p.server_addr)), Errno::EALREADY);
    p.net.run_for(Duration::from_millis(50));
    assert_eq!(errno(p.client.connect(c, p.server_addr)), Errno::EISCONN);
    let (s, peer) = p.server.accept(l).unwrap();
    assert_eq!(peer, p.client.getsockname(c).unwrap());

    // Refused: no listener on the port.
    let r = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(p.client.connect(r, "198.18.0.1:81".parse().unwrap())),
        Errno::EINPROGRESS
    );
    p.net.run_for(Duration::from_millis(50));
    assert_eq!(
        p.client.getsockopt(r, SOL_SOCKET, SO_ERROR).unwrap(),
        Errno::ECONNREFUSED.raw()
    );

    // Reset: the server aborts; the client's next read says ECONNRESET, then EOF.
    p.server.abort(s).unwrap();
    p.net.run_for(Duration::from_millis(50));
    let mut buf = [0u8; 8];
    assert_eq!(errno(p.client.read(c, &mut buf)), Errno::ECONNRESET);
    assert_eq!(errno(p.client.write(c, b"x")), Errno::EPIPE);
}

#[test]
fn epoll_level_and_edge() {
    let p = sim_pair(4, Impairments::default(), Config::default());
    let l = listener(&p.server, p.server_addr);
    let ep = p.server.epoll_create(16).unwrap();
    p.server
        .epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, l, MTCP_EPOLLIN)
        .unwrap();
    assert_eq!(
        errno(p.server.epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, l, MTCP_EPOLLIN)),
        Errno::EEXIST
    );
    let mut ev = Vec::new();
    assert_eq!(p.server.epoll_wait(ep, &mut ev, 8, 0).unwrap(), 0);
    let (c, s) = sim_connect(&p, l);
    p.server
        .epoll_ctl(ep, MTCP_EPOLL_CTL_ADD, s, MTCP_EPOLLIN | MTCP_EPOLLET)
        .unwrap();
    p.client.write(c, b"hello").unwrap();
    p.net.run_for(Duration::from_millis(100));
    ev.clear();
    p.server.epoll_wait(ep, &mut ev, 8, 0).unwrap();
    assert_eq!(ev, vec![(s, MTCP_EPOLLIN)]);
    // Edge-triggered: no second report without new data.
    ev.clear();
    assert_eq!(p.server.epoll_wait(ep, &mut ev, 8, 0).unwrap(), 0);
    // Level-triggered: reported until read.
    p.server
        .epoll_ctl(ep, MTCP_EPOLL_CTL_MOD, s, MTCP_EPOLLIN)
        .unwrap();
    for _ in 0..2 {
        ev.clear();
        p.server.epoll_wait(ep, &mut ev, 8, 0).unwrap();
        assert_eq!(ev, vec![(s, MTCP_EPOLLIN)]);
    }
    let mut buf = [0u8; 16];
    assert_eq!(p.server.read(s, &mut buf).unwrap(), 5);
    ev.clear();
    assert_eq!(p.server.epoll_wait(ep, &mut ev, 8, 0).unwrap(), 0);
    p.server.epoll_ctl(ep, MTCP_EPOLL_CTL_DEL, s, 0).unwrap();
    assert_eq!(
        errno(p.server.epoll_ctl(ep, MTCP_EPOLL_CTL_DEL, s, 0)),
        Errno::ENOENT
    );
}

#[test]
fn ten_thousand_sequential_connections_leak_nothing() {
    let p = sim_pair(
        5,
        Impairments::default(),
        Config {
            max_concurrency: 64,
            ..Config::default()
        },
    );
    let l = listener(&p.server, p.server_addr);
    let base = (
        p.client.stats().sockets_in_use,
        p.server.stats().sockets_in_use,
    );
    let mut timings = Vec::new();
    for i in 0..10_000 {
        let t = std::time::Instant::now();
        let (c, s) = sim_connect(&p, l);
        p.client.write(c, b"ping").unwrap();
        p.client.close(c).unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        assert!(p.net.run_until(Duration::from_secs(10), &mut || {
            match p.server.read(s, &mut buf) {
                Ok(0) => true,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    false
                }
                Err(_) => false,
            }
        }));
        assert_eq!(got, b"ping", "connection {i}");
        p.server.close(s).unwrap();
        p.net.run_for(Duration::from_millis(5));
        timings.push(t.elapsed());
    }
    p.net.run_for(Duration::from_secs(2));
    assert_eq!(
        (
            p.client.stats().sockets_in_use,
            p.server.stats().sockets_in_use
        ),
        base
    );
    assert_eq!(p.client.stats().flows, 0);
    assert_eq!(p.server.stats().flows, 0);
    let first: std::time::Duration = timings[..1000].iter().sum();
    let last: std::time::Duration = timings[9000..].iter().sum();
    assert!(
        last < first * 3,
        "slowed down: first 1000 took {first:?}, last 1000 {last:?}"
    );
}
