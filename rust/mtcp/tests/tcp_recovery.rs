//! Loss recovery, congestion control and keepalive through the runtime and the simulated
//! network (the sans-IO details are tested in mtcp-proto's `loss_recovery.rs`).
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno};
use mtcp_proto::Duration;

/// Moves `len` bytes client → server; returns the virtual time from connect to the last byte
/// read, checking the bytes.
fn one_way(seed: u64, imp: Impairments, config: Config, len: usize) -> Duration {
    let p = sim_pair(seed, imp, config);
    let l = listener(&p.server, p.server_addr);
    let start = p.net.now();
    let (c, s) = sim_connect(&p, l);
    let data = pattern(len, seed);
    let got = transfer_one_way(&p, c, s, &data, Duration::from_secs(3600));
    assert!(
        got.len() == len,
        "seed {seed}: {} of {len} bytes",
        got.len()
    );
    assert!(got == data, "seed {seed}: bytes differ");
    p.net.now() - start
}

#[test]
fn one_mib_at_five_percent_loss_is_not_rto_bound() {
    // 20 ms RTT, 5% loss each way: the RTO-bound stack of before took 9–14 s per MiB; SACK
    // recovery with RACK-TLP needs well under half of that, with either controller.
    let imp = Impairments {
        loss: 0.05,
        delay_us: 10_000,
        ..Impairments::default()
    };
    for cc in ["cubic", "newreno"] {
        for seed in 0..3 {
            let config = Config {
                rcvbuf: 256 * 1024,
                sndbuf: 256 * 1024,
                cc: cc.into(),
                ..Config::default()
            };
            let took = one_way(seed, imp.clone(), config, 1 << 20);
            assert!(took < Duration::from_secs(7), "{cc} seed {seed}: {took:?}");
        }
    }
}

#[test]
fn ten_mib_at_ten_percent_loss_with_big_buffers_completes() {
    // 100 ms RTT, 10% loss, 4 MiB buffers: many holes at once. This used to hang until the
    // idle timeout: with all 8 out-of-order slots of the receiver taken, the retransmission
    // at RCV.NXT was dropped for want of a slot, again and again.
    let imp = Impairments {
        loss: 0.10,
        delay_us: 50_000,
        queue_bytes: 64 << 20,
        ..Impairments::default()
    };
    for seed in 1..=3 {
        let config = Config {
            rcvbuf: 4 << 20,
            sndbuf: 4 << 20,
            cc: "cubic".into(),
            ..Config::default()
        };
        one_way(seed, imp.clone(), config, 10 << 20);
    }
}

/// Connects, turns keepalive on (before connect or after), lets the connection idle with
/// the peer answering, then makes the network drop everything; returns how long after
/// that the client saw ETIMEDOUT.
/// mTCP's idle timeout (`tcp_timeout`) off, so only keepalive watches an idle connection.
fn no_idle_timeout() -> Config {
    Config {
        tcp_timeout: 0,
        ..Config::default()
    }
}

fn keepalive_run(before_connect: bool) -> Option<Duration> {
    let p = sim_pair(5, Impairments::default(), no_idle_timeout());
    let l = listener(&p.server, p.server_addr);
    let set = |sock| {
        p.client
            .setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, 1)
            .unwrap();
        p.client
            .setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, 10)
            .unwrap();
        p.client
            .setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, 2)
            .unwrap();
        p.client
            .setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, 3)
            .unwrap();
    };
    let c = if before_connect {
        let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
        set(c);
        assert_eq!(
            errno(p.client.connect(c, p.server_addr)),
            Errno::EINPROGRESS
        );
        let ok = p.net.run_until(Duration::from_secs(5), &mut || {
            p.client.getpeername(c).is_ok()
        });
        assert!(ok);
        c
    } else {
        let (c, _) = sim_connect(&p, l);
        set(c);
        c
    };
    // A minute of idling: probes are answered, the connection stays.
    p.net.run_for(Duration::from_secs(60));
    let mut buf = [0u8; 16];
    assert_eq!(errno(p.client.read(c, &mut buf)), Errno::EAGAIN);
    p.net.configure(Impairments {
        loss: 1.0,
        ..Impairments::default()
    });
    let dead_at = p.net.now();
    let mut error = None;
    p.net.run_until(Duration::from_secs(100), &mut || {
        error = match p.client.read(c, &mut buf) {
            Err(e) if mtcp::errno_of(&e) != Some(Errno::EAGAIN) => mtcp::errno_of(&e),
            _ => None,
        };
        error.is_some()
    });
    error.map(|e| {
        assert_eq!(e, Errno::ETIMEDOUT);
        p.net.now() - dead_at
    })
}

#[test]
fn keepalive_reports_etimedout_for_a_dead_peer() {
    for before_connect in [true, false] {
        let took = keepalive_run(before_connect).expect("keepalive detects the dead peer");
        // Last answer at most `idle` before the peer died, then idle + intvl · cnt.
        assert!(
            took >= Duration::from_secs(6) && took <= Duration::from_secs(16),
            "{took:?}"
        );
    }
}

#[test]
fn without_keepalive_a_dead_idle_peer_goes_unnoticed() {
    let p = sim_pair(6, Impairments::default(), no_idle_timeout());
    let l = listener(&p.server, p.server_addr);
    let (c, _) = sim_connect(&p, l);
    p.net.configure(Impairments {
        loss: 1.0,
        ..Impairments::default()
    });
    p.net.run_for(Duration::from_secs(100));
    let mut buf = [0u8; 16];
    assert_eq!(errno(p.client.read(c, &mut buf)), Errno::EAGAIN);
}

/// Connects, sets `TCP_USER_TIMEOUT` (ms, 0 = off), cuts the cable, writes, and returns how
/// long after the write the client saw ETIMEDOUT (within 20 minutes of virtual time).
fn user_timeout_run(user_timeout_ms: i32) -> Option<Duration> {
    let p = sim_pair(7, Impairments::default(), no_idle_timeout());
    let l = listener(&p.server, p.server_addr);
    let (c, _) = sim_connect(&p, l);
    p.client
        .setsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, user_timeout_ms)
        .unwrap();
    assert_eq!(
        p.client
            .getsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT)
            .unwrap(),
        user_timeout_ms
    );
    p.net.configure(Impairments {
        loss: 1.0,
        ..Impairments::default()
    });
    p.client.write(c, b"into the void").unwrap();
    let cut_at = p.net.now();
    let mut buf = [0u8; 16];
    let mut error = None;
    p.net.run_until(Duration::from_secs(1200), &mut || {
        error = match p.client.read(c, &mut buf) {
            Err(e) if mtcp::errno_of(&e) != Some(Errno::EAGAIN) => mtcp::errno_of(&e),
            _ => None,
        };
        error.is_some()
    });
    error.map(|e| {
        assert_eq!(e, Errno::ETIMEDOUT);
        p.net.now() - cut_at
    })
}

#[test]
fn user_timeout_fails_a_cut_connection_after_the_timeout() {
    let took = user_timeout_run(3000).expect("ETIMEDOUT with TCP_USER_TIMEOUT");
    assert!(
        took >= Duration::from_secs(3) && took <= Duration::from_millis(3100),
        "{took:?}"
    );
    // Without it, tcp_retries2 = 15 RTOs backed off from 200 ms up to the 60 s cap: 522 s.
    let took = user_timeout_run(0).expect("ETIMEDOUT after the retries");
    assert!(took > Duration::from_secs(300), "{took:?}");
}

#[test]
fn tcp_congestion_is_per_socket() {
    let p = sim_pair(8, Impairments::default(), Config::default());
    let l = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, l);
    let get = |sock| {
        p.client
            .getsockopt(sock, IPPROTO_TCP, TCP_CONGESTION)
            .unwrap()
    };
    let default = get(c);
    assert_eq!(
        default,
        if Config::default().cc == "cubic" {
            TCP_CA_CUBIC
        } else {
            TCP_CA_NEWRENO
        }
    );
    for value in [TCP_CA_NEWRENO, TCP_CA_CUBIC, TCP_CA_NEWRENO] {
        p.client
            .setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, value)
            .unwrap();
        assert_eq!(get(c), value);
    }
    assert_eq!(
        errno(p.client.setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, 7)),
        Errno::ENOENT
    );
    // The other end keeps the configured default.
    assert_eq!(
        p.server.getsockopt(s, IPPROTO_TCP, TCP_CONGESTION).unwrap(),
        default
    );
}

#[test]
fn quick_ack_lets_a_small_request_finish_without_the_delayed_ack_wait() {
    // Two small writes, the second while the first is unacknowledged: Nagle holds it until
    // the first is ACKed. In quickack mode the fresh connection's first segment is ACKed at
    // once, so the request completes in ~2 RTT (2 ms here), not after the 40 ms delayed ACK.
    let p = sim_pair(
        9,
        Impairments {
            delay_us: 500,
            ..Impairments::default()
        },
        Config::default(),
    );
    let l = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, l);
    let start = p.net.now();
    assert_eq!(p.client.write(c, &[1u8; 100]).unwrap(), 100);
    p.net.run_for(Duration::from_micros(100)); // the first segment is on the wire
    assert_eq!(p.client.write(c, &[2u8; 100]).unwrap(), 100);
    let mut got = 0;
    let mut buf = [0u8; 512];
    let ok = p.net.run_until(Duration::from_secs(1), &mut || {
        if let Ok(n) = p.server.read(s, &mut buf) {
            got += n;
        }
        got == 200
    });
    assert!(ok);
    let took = p.net.now() - start;
    assert!(took < Duration::from_millis(10), "{took:?}");
}
