//! `TCP_USER_TIMEOUT` (RFC 5482, Linux semantics) beyond established data, through the
//! runtime and the simulated network: it bounds the handshake (SYN-SENT retries end with
//! ETIMEDOUT at the user timeout) and, with keepalive, decides when an unanswered connection
//! is dropped instead of `TCP_KEEPCNT`.
mod common;
mod raw_frames;

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno};
use mtcp_proto::{Duration, Instant};
use raw_frames::*;

/// Connects with `user_timeout_ms` (0 = off) to a server whose SYNs all vanish; returns the
/// error and how long after the first SYN it came.
fn connect_with_user_timeout(user_timeout_ms: i32) -> (i32, Duration) {
    let p = sim_pair(21, Impairments::default(), Config::default());
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    p.client
        .setsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout_ms)
        .unwrap();
    unanswered_connect(&p, c)
}

#[test]
fn user_timeout_bounds_connect() {
    let (error, took) = connect_with_user_timeout(2500);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    // SYN at 0 and 1 s; the retransmission due at 3 s is clamped to the user timeout.
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_millis(2600),
        "gave up after {took:?}"
    );
    let (error, took) = connect_with_user_timeout(0);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    assert!(took > Duration::from_secs(100), "tcp_syn_retries: {took:?}");
}

/// An idle connection with keepalive (idle 10 s, interval 5 s, `keepcnt`) and `user_timeout_ms`
/// whose peer vanishes right after the handshake: the client's error and how long after the
/// peer was last heard it came.
fn keepalive_death(keepcnt: i32, user_timeout_ms: i32) -> (i32, Duration) {
    let mut config = Config::default();
    config.set("tcp_timeout", "0").unwrap(); // mTCP's idle timeout off, as Linux
    let p = sim_pair(22, Impairments::default(), config);
    let l = listener(&p.server, p.server_addr);
    let (c, _s) = sim_connect(&p, l);
    for (level, opt, value) in [
        (SOL_SOCKET, SO_KEEPALIVE, 1),
        (IPPROTO_TCP, TCP_KEEPIDLE, 10),
        (IPPROTO_TCP, TCP_KEEPINTVL, 5),
        (IPPROTO_TCP, TCP_KEEPCNT, keepcnt),
        (IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout_ms),
    ] {
        p.client.setsockopt(c, level, opt, value).unwrap();
    }
    let heard: Instant = p.net.now();
    p.net.fabric().drop_next(usize::MAX, |_| true); // the peer is gone
    let mut error = 0;
    assert!(p.net.run_until(Duration::from_secs(300), &mut || {
        error = p.client.getsockopt(c, SOL_SOCKET, SO_ERROR).unwrap();
        error != 0
    }));
    (error, p.net.now() - heard)
}

#[test]
fn user_timeout_decides_when_keepalive_gives_up() {
    let secs = |d: Duration| d.total_millis() as f64 / 1000.0;
    // keepcnt 9 alone: 10 + 9 · 5 = 55 s. A 12 s user timeout ends it at the 15 s probe tick.
    let (error, took) = keepalive_death(9, 0);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    assert!((55.0..55.5).contains(&secs(took)), "{took:?}");
    let (error, took) = keepalive_death(9, 12_000);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    assert!((15.0..15.5).contains(&secs(took)), "{took:?}");
    // keepcnt 2 alone: 20 s; a 30 s user timeout keeps probing until 30 s.
    let (_, took) = keepalive_death(2, 0);
    assert!((20.0..20.5).contains(&secs(took)), "{took:?}");
    let (error, took) = keepalive_death(2, 30_000);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    assert!((30.0..30.5).contains(&secs(took)), "{took:?}");
}
