//! ICMP errors through the runtime (issue 5 item 5; RFC 5927, RFC 1191): a router in the
//! simulated network drops a segment and answers with an ICMP error quoting it.
mod common;
mod raw_frames;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, Errno};
use mtcp_io::PacketIo;
use mtcp_proto::Duration;
use raw_frames::*;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
const ROUTER_MAC: [u8; 6] = [0x02, 0x77, 0, 0, 0, 1];

type Captured = Arc<Mutex<Option<Vec<u8>>>>;

/// Drops the next frame from the client for which `pick` holds, keeping a copy (what a
/// router that cannot forward it sees).
fn capture_next(p: &SimPair, pick: impl Fn(&[u8]) -> bool + Send + 'static) -> Captured {
    let captured: Captured = Arc::default();
    let slot = Arc::clone(&captured);
    let client_mac = host_mac(CLIENT);
    p.net.fabric().drop_next(1, move |frame| {
        let hit = frame[6..12] == client_mac && pick(frame);
        if hit {
            *slot.lock().unwrap() = Some(frame.to_vec());
        }
        hit
    });
    captured
}

/// The router's ICMP destination unreachable to the client, quoting `frame`.
fn send_unreachable(router: &mut dyn PacketIo, frame: &[u8], code: u8, mtu: u16, seq_shift: u32) {
    let mut quoted = quote(frame);
    // The TCP sequence number sits at bytes 4..8 of the quoted TCP header.
    let seq = u32::from_be_bytes(quoted[24..28].try_into().unwrap()).wrapping_add(seq_shift);
    quoted[24..28].copy_from_slice(&seq.to_be_bytes());
    let icmp = icmp_unreachable_frame(
        ROUTER_MAC,
        host_mac(CLIENT),
        ROUTER,
        CLIENT,
        code,
        mtu,
        &quoted,
    );
    inject(router, &icmp);
    router.flush();
}

fn is_syn(frame: &[u8]) -> bool {
    tcp_of(frame).is_some_and(|t| t.flags.syn())
}

#[test]
fn unreachable_for_a_syn_fails_connect_with_linux_errno() {
    for (code, want) in [
        (3, Errno::ECONNREFUSED),
        (1, Errno::EHOSTUNREACH),
        (0, Errno::ENETUNREACH),
    ] {
        let p = sim_pair(code.into(), Impairments::default(), Config::default());
        let _l = listener(&p.server, p.server_addr);
        let mut router = p.net.fabric().attach(ROUTER_MAC, 1).pop().unwrap();
        let syn = capture_next(&p, is_syn);
        let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
        assert_eq!(
            errno(p.client.connect(c, p.server_addr)),
            Errno::EINPROGRESS
        );
        assert!(p.net.run_until(Duration::from_secs(1), &mut || syn
            .lock()
            .unwrap()
            .is_some()));
        let frame = syn.lock().unwrap().take().unwrap();
        send_unreachable(&mut router, &frame, code, 0, 0);
        let mut error = 0;
        assert!(p.net.run_until(Duration::from_millis(100), &mut || {
            error = p.client.getsockopt(c, SOL_SOCKET, SO_ERROR).unwrap();
            error != 0
        }));
        assert_eq!(error, want.raw(), "code {code}");
        assert!(p.client.getpeername(c).is_err());
    }
}

#[test]
fn unreachable_quoting_a_sequence_not_in_flight_is_ignored() {
    let p = sim_pair(7, Impairments::default(), Config::default());
    let l = listener(&p.server, p.server_addr);
    let mut router = p.net.fabric().attach(ROUTER_MAC, 1).pop().unwrap();
    let syn = capture_next(&p, is_syn);
    let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    assert_eq!(
        errno(p.client.connect(c, p.server_addr)),
        Errno::EINPROGRESS
    );
    assert!(p.net.run_until(Duration::from_secs(1), &mut || syn
        .lock()
        .unwrap()
        .is_some()));
    let frame = syn.lock().unwrap().take().unwrap();
    // A blind attacker's guess: one off the SYN's sequence number (RFC 5927 §4.1).
    send_unreachable(&mut router, &frame, 3, 0, 1);
    p.net.run_for(Duration::from_millis(10));
    assert_eq!(p.client.getsockopt(c, SOL_SOCKET, SO_ERROR).unwrap(), 0);
    // The retransmitted SYN gets through: the connection completes.
    let mut accepted = false;
    assert!(p.net.run_until(Duration::from_secs(5), &mut || {
        accepted |= p.server.accept(l).is_ok();
        accepted && p.client.getpeername(c).is_ok()
    }));
}

#[test]
fn frag_needed_lowers_the_mss_and_the_transfer_completes() {
    let imp = Impairments {
        delay_us: 1000,
        ..Impairments::default()
    };
    let config = Config {
        rcvbuf: 256 * 1024,
        sndbuf: 256 * 1024,
        ..Config::default()
    };
    let p = sim_pair(11, imp.clone(), config);
    let l = listener(&p.server, p.server_addr);
    let mut router = p.net.fabric().attach(ROUTER_MAC, 1).pop().unwrap();
    let (c, s) = sim_connect(&p, l);
    // The path from the client to the server now takes IP packets of at most 1000 bytes.
    p.net.fabric().configure_direction(
        host_mac(CLIENT),
        host_mac(SERVER),
        Some(Impairments { mtu: 1000, ..imp }),
    );
    let big = capture_next(&p, |frame| frame.len() > 14 + 1000);
    let data = pattern(300_000, 11);
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65536];
    // Oversize frames dropped once the ICMP had time to arrive (one 1 ms hop; 5 ms allowed).
    let mut icmp_sent_at = None;
    let mut oversize_after_icmp = None;
    let ok = p.net.run_until(Duration::from_secs(60), &mut || {
        if let Some(frame) = big.lock().unwrap().take() {
            send_unreachable(&mut router, &frame, 4, 1000, 0);
            icmp_sent_at = Some(p.net.now());
        }
        if let Some(at) = icmp_sent_at {
            if oversize_after_icmp.is_none() && p.net.now() - at >= Duration::from_millis(5) {
                oversize_after_icmp = Some(p.net.stats().oversize);
            }
        }
        while sent < data.len() {
            match p.client.write(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = p.server.read(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(ok, "{} of {} bytes", got.len(), data.len());
    assert!(got == data, "bytes differ");
    println!(
        "frag-needed: 300 kB delivered at {:?}; {} frames over the 1000-byte MTU dropped",
        p.net.now(),
        p.net.stats().oversize
    );
    // The big segments sent before the ICMP arrived were lost to the MTU; nothing sent after
    // was too big. Without PMTU handling no big segment ever gets through and the transfer
    // stalls.
    assert_eq!(Some(p.net.stats().oversize), oversize_after_icmp);
    assert_eq!(
        p.client.getsockopt(c, IPPROTO_TCP, TCP_MAXSEG).unwrap(),
        1000 - 40 - 12,
        "MSS: 1000 − IP − TCP − timestamps"
    );
}
