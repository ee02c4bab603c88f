//! TIME-WAIT reuse (RFC 6191, RFC 9293 §3.10.7.4, Linux's `tcp_timewait_state_process`):
//! the server closes first and holds the 4-tuple in TIME-WAIT (`tcp_timewait = 60`); the
//! client reconnects from the same source port within the wait.
mod common;
use std::net::SocketAddrV4;

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, SockId};
use mtcp_proto::Duration;

const CLIENT_ADDR: &str = "198.18.0.2:40000";

/// Connects from `CLIENT_ADDR`; returns (client, server sockets) and how long the handshake
/// took in simulated time.
fn connect_from_fixed_port(p: &SimPair, lsock: SockId) -> (SockId, SockId, Duration) {
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    let local: SocketAddrV4 = CLIENT_ADDR.parse().unwrap();
    p.client.bind(c, local).unwrap();
    let start = p.net.now();
    let s = sim_handshake(p, c, lsock, Duration::from_secs(30));
    assert_eq!(p.client.getsockname(c).unwrap(), local);
    (c, s, p.net.now() - start)
}

/// Moves `len` bytes client → server, then the server closes first, then the client: the
/// server is left in TIME-WAIT, the client with nothing.
fn transfer_then_server_closes_first(p: &SimPair, c: SockId, s: SockId, len: usize) {
    let data = pattern(len, len as u64);
    let got = transfer_one_way(p, c, s, &data, Duration::from_secs(60));
    assert!(got == data, "transfer incomplete");
    p.server.close(s).unwrap();
    let mut buf = [0u8; 16];
    let ok = p.net.run_until(Duration::from_secs(10), &mut || {
        matches!(p.client.read(c, &mut buf), Ok(0))
    });
    assert!(ok, "client saw no EOF");
    p.client.close(c).unwrap();
    let ok = p
        .net
        .run_until(Duration::from_secs(10), &mut || p.client.stats().flows == 0);
    assert!(ok, "client connection did not close");
    assert_eq!(p.server.stats().flows, 1, "server holds TIME-WAIT");
}

/// Echo of a few bytes over the new connection: it really works.
fn exchange(p: &SimPair, c: SockId, s: SockId) {
    p.client.write(c, b"again").unwrap();
    let mut buf = [0u8; 16];
    let mut n = 0;
    let ok = p.net.run_until(Duration::from_secs(10), &mut || {
        if let Ok(k) = p.server.read(s, &mut buf) {
            n = k;
        }
        n > 0
    });
    assert!(ok && &buf[..n] == b"again");
}

fn pair(timestamps: bool) -> (SimPair, SockId) {
    let config = Config {
        tcp_timewait: 60,
        tcp_timestamps: timestamps,
        ..Config::default()
    };
    let p = sim_pair(5, Impairments::default(), config);
    let l = listener(&p.server, p.server_addr);
    (p, l)
}

#[test]
fn syn_with_newer_timestamp_reuses_time_wait_at_once() {
    let (p, l) = pair(true);
    let (c, s, _) = connect_from_fixed_port(&p, l);
    // Far more bytes than the client's ISN clock advances meanwhile: the new SYN's sequence
    // number is below the old RCV.NXT, so only the timestamp makes it acceptable.
    transfer_then_server_closes_first(&p, c, s, 1 << 20);
    p.net.run_for(Duration::from_millis(100));
    let (c2, s2, took) = connect_from_fixed_port(&p, l);
    assert!(took < Duration::from_millis(100), "reconnect took {took:?}");
    // The TIME-WAIT connection is gone: one flow, the new one.
    assert_eq!(p.server.stats().flows, 1);
    assert_eq!(p.server.stats().connections_opened, 2);
    exchange(&p, c2, s2);
}

#[test]
fn syn_with_newer_sequence_number_reuses_time_wait_without_timestamps() {
    let (p, l) = pair(false);
    let (c, s, _) = connect_from_fixed_port(&p, l);
    transfer_then_server_closes_first(&p, c, s, 1000);
    // 10 s later the client's ISN clock (4 µs ticks) is 2.5 M past the old RCV.NXT.
    p.net.run_for(Duration::from_secs(10));
    let (c2, s2, took) = connect_from_fixed_port(&p, l);
    assert!(took < Duration::from_millis(100), "reconnect took {took:?}");
    assert_eq!(p.server.stats().flows, 1);
    exchange(&p, c2, s2);
}

#[test]
fn syn_below_rcv_nxt_without_timestamps_is_refused_by_time_wait() {
    // Without timestamps and with the new SYN's sequence number below the old RCV.NXT (1 MiB
    // sent, the ISN clock moved far less), TIME-WAIT answers the SYN with an ACK, the client
    // resets that, and only the SYN retransmission 1 s later gets through.
    let (p, l) = pair(false);
    let (c, s, _) = connect_from_fixed_port(&p, l);
    transfer_then_server_closes_first(&p, c, s, 1 << 20);
    p.net.run_for(Duration::from_millis(100));
    let (c2, s2, took) = connect_from_fixed_port(&p, l);
    assert!(took >= Duration::from_secs(1), "reconnect took {took:?}");
    exchange(&p, c2, s2);
}
