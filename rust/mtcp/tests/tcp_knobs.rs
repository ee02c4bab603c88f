//! The TCP `mtcp.conf` keys named after Linux's sysctls reach the connections
//! (`engine::tcp_config_from`): option offers in the SYN (RFC 7323, RFC 2018) and the SYN
//! retransmission schedule (RFC 6298 §2.1, Linux's `tcp_syn_retries`).
mod common;
mod raw_frames;

use std::sync::{Arc, Mutex};

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno};
use mtcp_proto::Duration;
use raw_frames::*;

/// Options seen in the client's SYN: (timestamps, window scale, SACK-permitted, MSS option).
type SynOptions = (bool, bool, bool, Option<u16>);

/// Opens one connection under `config` and returns the client SYN's options and the
/// established connection's `TCP_MAXSEG`.
fn handshake(config: Config) -> (SynOptions, i32) {
    let p = sim_pair(11, Impairments::default(), config);
    let seen: Arc<Mutex<Option<SynOptions>>> = Arc::default();
    let slot = Arc::clone(&seen);
    // Observe (never drop) every frame; keep the first SYN without ACK.
    p.net.fabric().drop_next(usize::MAX, move |frame| {
        if let Some(t) = tcp_of(frame).filter(|t| t.flags.syn() && !t.flags.ack()) {
            slot.lock().unwrap().get_or_insert((
                t.timestamp.is_some(),
                t.window_scale.is_some(),
                t.sack_permitted,
                t.max_seg_size,
            ));
        }
        false
    });
    let l = listener(&p.server, p.server_addr);
    let (c, _s) = sim_connect(&p, l);
    let mss = p.client.getsockopt(c, IPPROTO_TCP, TCP_MAXSEG).unwrap();
    let syn = seen.lock().unwrap().expect("a SYN was seen");
    (syn, mss)
}

#[test]
fn option_keys_decide_what_the_syn_offers() {
    let (syn, mss) = handshake(Config::default());
    assert_eq!(
        syn,
        (true, true, true, Some(1460)),
        "defaults offer all, as Linux"
    );
    assert_eq!(mss, 1460 - 12, "timestamps take 12 bytes of every segment");

    let mut off = Config::default();
    off.update([
        ("tcp_timestamps", "0"),
        ("tcp_window_scaling", "0"),
        ("tcp_sack", "0"),
    ])
    .unwrap();
    let (syn, mss) = handshake(off);
    assert_eq!(syn, (false, false, false, Some(1460)));
    assert_eq!(mss, 1460, "no timestamps: the whole MSS carries data");

    let mut ts_only_off = Config::default();
    ts_only_off.set("tcp_timestamps", "0").unwrap();
    let (syn, _) = handshake(ts_only_off);
    assert_eq!(syn, (false, true, true, Some(1460)), "each key acts alone");
}

/// Connects to a server whose SYNs all vanish; returns the error and how long after the first
/// SYN it came.
fn connect_with(config: Config) -> (i32, Duration) {
    let p = sim_pair(12, Impairments::default(), config);
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    unanswered_connect(&p, c)
}

#[test]
fn syn_retries_and_rto_keys_bound_connect() {
    let mut quick = Config::default();
    quick
        .update([
            ("tcp_syn_retries", "2"),
            ("tcp_rto_initial_ms", "100"),
            // The floor also bounds the initial RTO (RFC 6298 §2.4), so lower it too.
            ("tcp_rto_min_ms", "50"),
        ])
        .unwrap();
    let (error, took) = connect_with(quick);
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    // SYN at 0, retransmissions at 100 ms and 300 ms, give up at 700 ms.
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(800),
        "gave up after {took:?}"
    );

    let (error, took) = connect_with(Config::default());
    assert_eq!(error, Errno::ETIMEDOUT.raw());
    assert!(
        took > Duration::from_secs(100),
        "defaults: 6 retries from 1 s, {took:?}"
    );
}
