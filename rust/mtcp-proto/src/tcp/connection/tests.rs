//! State-machine tests in smoltcp's style: one fixture per RFC 9293 state built by feeding
//! segments, `send` to feed a segment, `recv` to parse what `poll_transmit` writes back.
//! Names are `test_<state>_<event>`.
use std::net::{Ipv4Addr, SocketAddrV4};

use super::*;
use crate::tcp::CongestionAlgorithm;
use crate::wire::{ChecksumCaps, TcpTimestamp};

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 1), 80);
const REMOTE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 49500);
/// Our ISS.
const LOCAL_SEQ: SeqNumber = SeqNumber(10_000);
/// The peer's ISS.
const REMOTE_SEQ: SeqNumber = SeqNumber(20_000);
const PEER_WINDOW: u16 = 60_000;

/// A segment from the peer: ACK set, everything else zero; override with struct update.
const SEND_TEMPL: TcpRepr<'static> = TcpRepr {
    src_port: 49500,
    dst_port: 80,
    seq_number: SeqNumber(0),
    ack_number: SeqNumber(0),
    flags: TcpFlags::ACK,
    window_len: PEER_WINDOW,
    urgent_pointer: 0,
    max_seg_size: None,
    window_scale: None,
    sack_permitted: false,
    sack_ranges: [None; 3],
    timestamp: None,
    payload: &[],
};

/// A segment we emitted, parsed back, with its payload copied out.
#[derive(Debug, Clone)]
struct Out {
    repr: TcpRepr<'static>,
    payload: Vec<u8>,
}

impl Out {
    fn seq(&self) -> SeqNumber {
        self.repr.seq_number
    }
    fn ack(&self) -> SeqNumber {
        assert!(self.repr.flags.ack(), "segment has no ACK: {:?}", self.repr);
        self.repr.ack_number
    }
    fn flags(&self) -> TcpFlags {
        self.repr.flags
    }
    fn is_pure_ack(&self) -> bool {
        self.repr.flags.ack()
            && !self
                .repr
                .flags
                .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
            && self.payload.is_empty()
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// No options: simple arithmetic in most tests.
fn plain() -> TcpConfig {
    TcpConfig {
        window_scaling: false,
        timestamps: false,
        sack: false,
        // The RFC 5681/6582 arithmetic below is NewReno's.
        congestion: CongestionAlgorithm::NewReno,
        ..TcpConfig::default()
    }
}

fn send(conn: &mut Connection, ms: u64, seg: TcpRepr<'_>) {
    conn.handle_segment(at(ms), &seg);
}

#[track_caller]
fn recv(conn: &mut Connection, ms: u64) -> Option<Out> {
    let mut buf = [0u8; 1600];
    let len = conn.poll_transmit(at(ms), &mut buf)?;
    let parsed = TcpRepr::parse(
        &buf[..len],
        *LOCAL.ip(),
        *REMOTE.ip(),
        ChecksumCaps::default(),
    )
    .expect("emitted segment parses with a valid checksum");
    assert_eq!(
        (parsed.src_port, parsed.dst_port),
        (LOCAL.port(), REMOTE.port())
    );
    let payload = parsed.payload.to_vec();
    Some(Out {
        repr: TcpRepr {
            payload: &[],
            ..parsed
        },
        payload,
    })
}

#[track_caller]
fn recv_one(conn: &mut Connection, ms: u64) -> Out {
    recv(conn, ms).expect("a segment to be sent")
}

#[track_caller]
fn recv_nothing(conn: &mut Connection, ms: u64) {
    if let Some(out) = recv(conn, ms) {
        panic!(
            "expected nothing, got {:?} payload {}",
            out.repr,
            out.payload.len()
        );
    }
}

/// Fires due timers at `ms`.
fn tick(conn: &mut Connection, ms: u64) {
    conn.handle_timeout(at(ms));
}

/// Every segment `conn` wants to send now.
fn drain(conn: &mut Connection, ms: u64) -> Vec<Out> {
    std::iter::from_fn(|| recv(conn, ms)).collect()
}

fn data(seq: SeqNumber, payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        seq_number: seq,
        ack_number: LOCAL_SEQ + 1,
        flags: TcpFlags::ACK,
        payload,
        ..SEND_TEMPL
    }
}

fn ack(ack: SeqNumber) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: REMOTE_SEQ + 1,
        ack_number: ack,
        ..SEND_TEMPL
    }
}

fn remote_syn() -> TcpRepr<'static> {
    TcpRepr {
        seq_number: REMOTE_SEQ,
        flags: TcpFlags::SYN,
        max_seg_size: Some(1460),
        ..SEND_TEMPL
    }
}

// ----- fixtures, one per state -----

fn syn_sent_with(config: &TcpConfig) -> Connection {
    let mut c = Connection::connect(config, LOCAL, REMOTE, LOCAL_SEQ, at(0));
    let syn = recv_one(&mut c, 0);
    assert_eq!(syn.flags(), TcpFlags::SYN);
    assert_eq!(c.state(), State::SynSent);
    c
}

fn syn_sent() -> Connection {
    syn_sent_with(&plain())
}

fn syn_received_with(config: &TcpConfig, syn: &TcpRepr<'_>) -> Connection {
    let mut c = Connection::accept(config, LOCAL, REMOTE, syn, LOCAL_SEQ, at(0));
    assert_eq!(c.state(), State::SynReceived);
    let syn_ack = recv_one(&mut c, 0);
    assert_eq!(syn_ack.flags(), TcpFlags::SYN | TcpFlags::ACK);
    c
}

fn syn_received() -> Connection {
    syn_received_with(&plain(), &remote_syn())
}

fn established_with(config: &TcpConfig) -> Connection {
    let mut c = syn_received_with(config, &remote_syn());
    send(&mut c, 0, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
    recv_nothing(&mut c, 0);
    c
}

fn established() -> Connection {
    established_with(&plain())
}

/// Established with SACK negotiated (the peer's SYN offers it; `config` must enable it), the
/// handshake's final ACK arriving at `ms`.
fn established_sack_at(config: &TcpConfig, ms: u64) -> Connection {
    let mut c = syn_received_with(
        config,
        &TcpRepr {
            sack_permitted: true,
            ..remote_syn()
        },
    );
    send(&mut c, ms, ack(LOCAL_SEQ + 1));
    c
}

fn fin_wait_1() -> Connection {
    let mut c = established();
    c.close(at(0));
    assert_eq!(c.state(), State::FinWait1);
    let fin = recv_one(&mut c, 0);
    assert_eq!(fin.flags(), TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!(fin.seq(), LOCAL_SEQ + 1);
    c
}

fn fin_wait_2() -> Connection {
    let mut c = fin_wait_1();
    send(&mut c, 0, ack(LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::FinWait2);
    c
}

fn close_wait() -> Connection {
    let mut c = established();
    send(
        &mut c,
        0,
        TcpRepr {
            flags: TcpFlags::FIN | TcpFlags::ACK,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::CloseWait);
    // The ACK of the FIN waits (delayed ACK) to go out with the application's own FIN.
    recv_nothing(&mut c, 0);
    c
}

fn last_ack() -> Connection {
    let mut c = close_wait();
    c.close(at(0));
    assert_eq!(c.state(), State::LastAck);
    let fin = recv_one(&mut c, 0);
    assert!(fin.flags().fin());
    c
}

/// LAST-ACK, then the peer's ACK of our FIN at `ms`: the connection is closed.
#[track_caller]
fn last_ack_acked_at(ms: u64) -> Connection {
    let mut c = last_ack();
    send(
        &mut c,
        ms,
        TcpRepr {
            seq_number: REMOTE_SEQ + 2,
            ..ack(LOCAL_SEQ + 2)
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
    c
}

fn remote_fin(seq: SeqNumber, ack_number: SeqNumber) -> TcpRepr<'static> {
    TcpRepr {
        seq_number: seq,
        ack_number,
        flags: TcpFlags::FIN | TcpFlags::ACK,
        ..SEND_TEMPL
    }
}

fn closing() -> Connection {
    let mut c = fin_wait_1();
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    send(&mut c, 0, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Closing);
    assert_eq!(recv_one(&mut c, 0).ack(), REMOTE_SEQ + 2);
    c
}

fn time_wait_config() -> TcpConfig {
    TcpConfig {
        timewait: Duration::from_secs(1),
        ..plain()
    }
}

fn time_wait() -> Connection {
    let mut c = established_with(&time_wait_config());
    c.close(at(0));
    recv_one(&mut c, 0);
    send(&mut c, 0, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(recv_one(&mut c, 0).ack(), REMOTE_SEQ + 2);
    c
}

// ----- CLOSED / reset_for -----

#[test]
fn test_reset_for_ack_segment() {
    let seg = TcpRepr {
        seq_number: SeqNumber(5),
        ack_number: SeqNumber(77),
        ..SEND_TEMPL
    };
    let rst = reset_for(&seg).unwrap();
    assert_eq!(rst.flags, TcpFlags::RST);
    assert_eq!(rst.seq_number, SeqNumber(77));
    assert_eq!((rst.src_port, rst.dst_port), (80, 49500));
}

#[test]
fn test_reset_for_syn() {
    let rst = reset_for(&TcpRepr {
        payload: b"abc",
        ..remote_syn()
    })
    .unwrap();
    assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(rst.seq_number, SeqNumber(0));
    assert_eq!(rst.ack_number, REMOTE_SEQ + 4);
    assert_eq!(
        reset_for(&TcpRepr {
            flags: TcpFlags::RST,
            ..SEND_TEMPL
        }),
        None
    );
}

#[test]
fn test_closed_segment_answered_with_rst() {
    let mut c = established();
    c.abort(at(0));
    assert_eq!(recv_one(&mut c, 0).flags(), TcpFlags::RST | TcpFlags::ACK);
    assert!(c.is_closed());
    send(&mut c, 10, data(REMOTE_SEQ + 1, b"late"));
    let rst = recv_one(&mut c, 10);
    assert_eq!(rst.flags(), TcpFlags::RST);
    assert_eq!(rst.seq(), LOCAL_SEQ + 1);
    // A RST is never answered.
    send(
        &mut c,
        20,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    recv_nothing(&mut c, 20);
}

// ----- SYN-SENT -----

#[test]
fn test_syn_sent_syn_carries_options() {
    let mut c = Connection::connect(&TcpConfig::default(), LOCAL, REMOTE, LOCAL_SEQ, at(0));
    assert!(c.wants_transmit());
    let syn = recv_one(&mut c, 0);
    assert_eq!(syn.seq(), LOCAL_SEQ);
    assert_eq!(syn.flags(), TcpFlags::SYN);
    assert_eq!(syn.repr.max_seg_size, Some(1460));
    assert_eq!(syn.repr.window_scale, Some(0)); // 8 KiB fits without scaling
    assert!(syn.repr.sack_permitted);
    assert!(syn.repr.timestamp.is_some());
    assert_eq!(syn.repr.window_len, 8192);
    recv_nothing(&mut c, 0);
    assert!(!c.wants_transmit());
}

#[test]
fn test_syn_sent_syn_ack_establishes() {
    let mut c = syn_sent();
    let syn_ack = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 1,
        ..remote_syn()
    };
    send(&mut c, 50, syn_ack);
    assert_eq!(c.state(), State::Established);
    let out = recv_one(&mut c, 50);
    assert!(out.is_pure_ack());
    assert_eq!(out.seq(), LOCAL_SEQ + 1);
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
    assert_eq!(c.mss(), 1460);
    assert_eq!(c.srtt(), Some(Duration::from_millis(50)));
    assert!(c.readiness().writable);
}

#[test]
fn test_syn_sent_bare_syn_simultaneous_open() {
    let mut c = syn_sent();
    send(&mut c, 10, remote_syn());
    assert_eq!(c.state(), State::SynReceived);
    let syn_ack = recv_one(&mut c, 10);
    assert_eq!(syn_ack.flags(), TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(syn_ack.seq(), LOCAL_SEQ);
    assert_eq!(syn_ack.ack(), REMOTE_SEQ + 1);
    // The peer's SYN,ACK (crossing ours) completes the handshake.
    let peer_syn_ack = TcpRepr {
        seq_number: REMOTE_SEQ,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 1,
        ..SEND_TEMPL
    };
    send(&mut c, 20, peer_syn_ack);
    assert_eq!(c.state(), State::Established);
    recv_nothing(&mut c, 20);
    assert_eq!(c.send(b"go"), Ok(2));
    let out = recv_one(&mut c, 20);
    assert_eq!((out.seq(), out.ack()), (LOCAL_SEQ + 1, REMOTE_SEQ + 1));
}

#[test]
fn test_syn_sent_rst_ack_refused() {
    let mut c = syn_sent();
    send(
        &mut c,
        10,
        TcpRepr {
            flags: TcpFlags::RST | TcpFlags::ACK,
            ack_number: LOCAL_SEQ + 1,
            ..SEND_TEMPL
        },
    );
    assert_eq!(c.state(), State::Closed);
    let r = c.readiness();
    assert!(r.error && r.hangup && r.readable);
    assert_eq!(c.peek_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(c.send(b"x"), Err(Errno::ECONNREFUSED));
    assert_eq!(c.send(b"x"), Err(Errno::EPIPE));
    recv_nothing(&mut c, 10);
    assert!(c.is_closed());
}

#[test]
fn test_syn_sent_rst_without_ack_ignored() {
    let mut c = syn_sent();
    send(
        &mut c,
        10,
        TcpRepr {
            flags: TcpFlags::RST,
            seq_number: REMOTE_SEQ,
            ..SEND_TEMPL
        },
    );
    assert_eq!(c.state(), State::SynSent);
    recv_nothing(&mut c, 10);
}

#[test]
fn test_syn_sent_rst_bad_ack_ignored() {
    let mut c = syn_sent();
    send(
        &mut c,
        10,
        TcpRepr {
            flags: TcpFlags::RST | TcpFlags::ACK,
            ack_number: LOCAL_SEQ + 5,
            ..SEND_TEMPL
        },
    );
    assert_eq!(c.state(), State::SynSent);
    recv_nothing(&mut c, 10);
}

#[test]
fn test_syn_sent_bad_ack_answered_with_rst() {
    let mut c = syn_sent();
    let bad = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 100,
        ..remote_syn()
    };
    send(&mut c, 10, bad);
    let rst = recv_one(&mut c, 10);
    assert_eq!(rst.flags(), TcpFlags::RST);
    assert_eq!(rst.seq(), LOCAL_SEQ + 100);
    assert_eq!(c.state(), State::SynSent);
}

#[test]
fn test_syn_sent_plain_ack_dropped() {
    let mut c = syn_sent();
    send(
        &mut c,
        10,
        TcpRepr {
            payload: b"x",
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::SynSent);
    recv_nothing(&mut c, 10);
}

#[test]
fn test_syn_sent_syn_retries_then_etimedout() {
    let config = TcpConfig {
        max_syn_retries: 3,
        ..plain()
    };
    let mut c = syn_sent_with(&config);
    // Retransmissions at 1 s, then 2 s and 4 s later (RFC 6298 §5.5 doubling).
    let mut t = 0;
    for rto in [1000, 2000, 4000] {
        assert_eq!(c.poll_timeout(), Some(at(t + rto)));
        tick(&mut c, t + rto - 1);
        recv_nothing(&mut c, t + rto - 1);
        t += rto;
        tick(&mut c, t);
        let syn = recv_one(&mut c, t);
        assert_eq!((syn.flags(), syn.seq()), (TcpFlags::SYN, LOCAL_SEQ));
    }
    assert_eq!(c.poll_timeout(), Some(at(t + 8000)));
    tick(&mut c, t + 8000);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.take_error(), Some(Errno::ETIMEDOUT));
    recv_nothing(&mut c, t + 8000);
    assert!(c.readiness().hangup);
}

#[test]
fn test_syn_sent_close_goes_closed_silently() {
    let mut c = syn_sent();
    c.close(at(5));
    assert_eq!(c.state(), State::Closed);
    recv_nothing(&mut c, 5);
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn test_syn_sent_abort_sends_nothing() {
    let mut c = syn_sent();
    c.abort(at(5));
    assert_eq!(c.state(), State::Closed);
    recv_nothing(&mut c, 5);
}

#[test]
fn test_syn_sent_app_calls_would_block() {
    let mut c = syn_sent();
    assert_eq!(c.send(b"x"), Err(Errno::EAGAIN));
    assert_eq!(c.recv(&mut [0; 4], false), Err(Errno::EAGAIN));
    assert_eq!(c.readiness(), Readiness::default());
}

#[test]
fn test_syn_sent_shutdown_write_sends_fin_after_handshake() {
    let mut c = syn_sent();
    c.shutdown_write(at(0));
    let syn_ack = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 1,
        ..remote_syn()
    };
    send(&mut c, 10, syn_ack);
    assert_eq!(c.state(), State::FinWait1);
    let fin = recv_one(&mut c, 10);
    assert_eq!(fin.flags(), TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!(fin.ack(), REMOTE_SEQ + 1);
}

// ----- SYN-RECEIVED -----

#[test]
fn test_syn_received_syn_ack_only_offers_what_peer_offered() {
    let mut c = Connection::accept(
        &TcpConfig::default(),
        LOCAL,
        REMOTE,
        &remote_syn(),
        LOCAL_SEQ,
        at(0),
    );
    let syn_ack = recv_one(&mut c, 0);
    assert_eq!(syn_ack.seq(), LOCAL_SEQ);
    assert_eq!(syn_ack.ack(), REMOTE_SEQ + 1);
    assert_eq!(syn_ack.repr.max_seg_size, Some(1460));
    assert_eq!(syn_ack.repr.window_scale, None);
    assert!(!syn_ack.repr.sack_permitted);
    assert_eq!(syn_ack.repr.timestamp, None);

    let offering = TcpRepr {
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some(TcpTimestamp {
            tsval: 500,
            tsecr: 0,
        }),
        ..remote_syn()
    };
    let mut c = Connection::accept(
        &TcpConfig::default(),
        LOCAL,
        REMOTE,
        &offering,
        LOCAL_SEQ,
        at(0),
    );
    let syn_ack = recv_one(&mut c, 0);
    assert_eq!(syn_ack.repr.window_scale, Some(0));
    assert!(syn_ack.repr.sack_permitted);
    assert_eq!(syn_ack.repr.timestamp.map(|t| t.tsecr), Some(500));
}

#[test]
fn test_syn_received_ack_establishes() {
    let mut c = syn_received();
    assert!(!c.readiness().writable);
    send(&mut c, 30, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.srtt(), Some(Duration::from_millis(30)));
    assert_eq!(c.send_window(), usize::from(PEER_WINDOW));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn test_syn_received_bad_ack_answered_with_rst() {
    let mut c = syn_received();
    send(&mut c, 5, ack(LOCAL_SEQ + 9));
    let rst = recv_one(&mut c, 5);
    assert_eq!((rst.flags(), rst.seq()), (TcpFlags::RST, LOCAL_SEQ + 9));
    assert_eq!(c.state(), State::SynReceived);
}

#[test]
fn test_syn_received_rst_closes_without_error() {
    let mut c = syn_received();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), None);
    assert!(c.is_closed());
}

#[test]
fn test_syn_received_rst_after_simultaneous_open_is_refused() {
    let mut c = syn_sent();
    send(&mut c, 10, remote_syn());
    recv_one(&mut c, 10);
    send(
        &mut c,
        15,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ECONNREFUSED));
}

#[test]
fn test_syn_received_duplicate_syn_resends_syn_ack() {
    let mut c = syn_received();
    send(&mut c, 100, remote_syn());
    let again = recv_one(&mut c, 100);
    assert_eq!(again.flags(), TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(again.seq(), LOCAL_SEQ);
    // Karn: the retransmitted SYN,ACK gives no RTT sample.
    send(&mut c, 150, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Established);
}

#[test]
fn test_syn_received_syn_ack_retransmitted_then_gives_up() {
    let config = TcpConfig {
        max_syn_retries: 2,
        ..plain()
    };
    let mut c = syn_received_with(&config, &remote_syn());
    tick(&mut c, 1000);
    assert_eq!(
        recv_one(&mut c, 1000).flags(),
        TcpFlags::SYN | TcpFlags::ACK
    );
    tick(&mut c, 3000);
    assert_eq!(
        recv_one(&mut c, 3000).flags(),
        TcpFlags::SYN | TcpFlags::ACK
    );
    tick(&mut c, 7000);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ETIMEDOUT));
}

#[test]
fn test_syn_received_ack_with_data_and_fin() {
    let mut c = syn_received();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::FIN,
            ..data(REMOTE_SEQ + 1, b"hello")
        },
    );
    assert_eq!(c.state(), State::CloseWait);
    let out = recv_one(&mut c, 5);
    assert_eq!(out.ack(), REMOTE_SEQ + 7);
    let mut buf = [0; 16];
    assert_eq!(c.recv(&mut buf, false), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(c.recv(&mut buf, false), Ok(0));
}

#[test]
fn test_syn_received_syn_in_window_challenge_ack() {
    let mut c = syn_received();
    send(
        &mut c,
        5,
        TcpRepr {
            seq_number: REMOTE_SEQ + 10,
            ..remote_syn()
        },
    );
    let out = recv_one(&mut c, 5);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
    assert_eq!(c.state(), State::SynReceived);
}

// ----- ESTABLISHED: receiving -----

#[test]
fn test_established_data_delayed_ack() {
    // Quickack mode off: the delayed-ACK rule alone (quick_ack.rs tests quickack).
    let mut c = established_with(&TcpConfig {
        quick_acks: 0,
        ..plain()
    });
    send(&mut c, 100, data(REMOTE_SEQ + 1, b"abcdef"));
    recv_nothing(&mut c, 100);
    assert_eq!(c.poll_timeout(), Some(at(140)));
    tick(&mut c, 139);
    recv_nothing(&mut c, 139);
    tick(&mut c, 140);
    let out = recv_one(&mut c, 140);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 7);
    assert_eq!(out.repr.window_len, 8192 - 6);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn test_established_second_full_segment_acked_at_once() {
    // Quickack mode off: the delayed-ACK rule alone (quick_ack.rs tests quickack).
    let mut c = established_with(&TcpConfig {
        quick_acks: 0,
        ..plain()
    });
    let chunk = [7u8; 1460];
    send(&mut c, 0, data(REMOTE_SEQ + 1, &chunk));
    recv_nothing(&mut c, 0);
    send(&mut c, 1, data(REMOTE_SEQ + 1461, &chunk));
    let out = recv_one(&mut c, 1);
    assert_eq!(out.ack(), REMOTE_SEQ + 2921);
}

#[test]
fn test_established_ack_piggybacks_on_data() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"ping"));
    assert_eq!(c.send(b"pong"), Ok(4));
    let out = recv_one(&mut c, 0);
    assert_eq!(out.payload, b"pong");
    assert_eq!(out.ack(), REMOTE_SEQ + 5);
    // The delayed ACK went out with the data: nothing more.
    tick(&mut c, 40);
    recv_nothing(&mut c, 40);
}

#[test]
fn test_established_out_of_order_acked_at_once() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 4, b"def"));
    let dup = recv_one(&mut c, 0);
    assert_eq!(dup.ack(), REMOTE_SEQ + 1);
    assert_eq!(c.recv_queue(), 0);
    // Filling the hole is acknowledged at once, too.
    send(&mut c, 1, data(REMOTE_SEQ + 1, b"abc"));
    assert_eq!(recv_one(&mut c, 1).ack(), REMOTE_SEQ + 7);
    let mut buf = [0; 8];
    assert_eq!(c.recv(&mut buf, false), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            all.push(p);
        }
    }
    all
}

#[test]
fn test_established_reassembly_every_permutation() {
    // Four segments, one overlapping its neighbours, and the FIN on the last one.
    let stream: Vec<u8> = (0..40u8).collect();
    let pieces: [(usize, usize); 4] = [(0, 10), (8, 20), (20, 30), (30, 40)];
    let orders = permutations(&[0, 1, 2, 3]);
    assert_eq!(orders.len(), 24);
    for order in orders {
        let mut c = established();
        for (step, &i) in order.iter().enumerate() {
            let (start, end) = pieces[i];
            let mut seg = data(REMOTE_SEQ + 1 + start, &stream[start..end]);
            if i == 3 {
                seg.flags |= TcpFlags::FIN;
            }
            send(&mut c, step as u64, seg);
            drain(&mut c, step as u64);
        }
        let mut buf = [0; 64];
        assert_eq!(c.recv(&mut buf, false), Ok(40), "order {order:?}");
        assert_eq!(&buf[..40], &stream[..], "order {order:?}");
        assert_eq!(c.recv(&mut buf, false), Ok(0), "order {order:?}");
        assert_eq!(c.state(), State::CloseWait, "order {order:?}");
    }
}

#[test]
fn test_established_duplicate_data_acked() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"abc"));
    tick(&mut c, 40);
    drain(&mut c, 40);
    send(&mut c, 50, data(REMOTE_SEQ + 1, b"abc"));
    assert_eq!(recv_one(&mut c, 50).ack(), REMOTE_SEQ + 4);
    assert_eq!(c.recv_queue(), 3);
}

#[test]
fn test_established_old_segment_outside_window_acked() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ - 100, b"old"));
    let out = recv_one(&mut c, 0);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
    // Beyond the window, too.
    send(&mut c, 0, data(REMOTE_SEQ + 1 + 9000, b"far"));
    assert_eq!(recv_one(&mut c, 0).ack(), REMOTE_SEQ + 1);
    assert_eq!(c.recv_queue(), 0);
}

#[test]
fn test_established_peek_then_read() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"hello"));
    let mut buf = [0; 3];
    assert_eq!(c.recv(&mut buf, true), Ok(3));
    assert_eq!(&buf, b"hel");
    assert_eq!(c.recv_queue(), 5);
    assert_eq!(c.recv(&mut buf, false), Ok(3));
    assert_eq!(&buf, b"hel");
    assert_eq!(c.recv(&mut buf, false), Ok(2));
    assert_eq!(&buf[..2], b"lo");
    assert_eq!(c.recv(&mut buf, false), Err(Errno::EAGAIN));
}

#[test]
fn test_established_eof_after_data() {
    let mut c = established();
    send(
        &mut c,
        0,
        TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::FIN,
            ..data(REMOTE_SEQ + 1, b"end")
        },
    );
    let r = c.readiness();
    assert!(r.readable && r.read_hangup && !r.hangup);
    let mut buf = [0; 8];
    assert_eq!(c.recv(&mut buf, false), Ok(3));
    assert_eq!(c.recv(&mut buf, false), Ok(0));
    assert_eq!(c.recv(&mut buf, false), Ok(0));
}

/// Fills the 8,192-byte receive buffer of an established connection (five full segments and
/// the rest) at time 0; returns the next sequence number the peer would send.
fn fill_receive_buffer(c: &mut Connection) -> SeqNumber {
    let chunk = [1u8; 1460];
    let mut seq = REMOTE_SEQ + 1;
    for _ in 0..5 {
        send(c, 0, data(seq, &chunk));
        seq += chunk.len();
    }
    send(c, 0, data(seq, &chunk[..892]));
    seq + 892
}

#[test]
fn test_established_window_shrinks_and_reopens_with_update() {
    let mut c = established();
    let seq = fill_receive_buffer(&mut c);
    let last = drain(&mut c, 0).pop().unwrap();
    assert_eq!(last.ack(), seq);
    assert_eq!(last.repr.window_len, 0);
    // A zero window: the next byte is not taken, but ACKed.
    send(&mut c, 1, data(seq, b"x"));
    let out = recv_one(&mut c, 1);
    assert_eq!((out.ack(), out.repr.window_len), (seq, 0));
    // Reading a little does not announce a window (SWS avoidance) ...
    let mut buf = [0; 8192];
    assert_eq!(c.recv(&mut buf[..100], false), Ok(100));
    recv_nothing(&mut c, 2);
    // ... reading enough sends a window update at once.
    assert_eq!(c.recv(&mut buf, false), Ok(8092));
    let update = recv_one(&mut c, 3);
    assert!(update.is_pure_ack());
    assert_eq!(update.repr.window_len, 8192);
}

/// `wants_transmit` remembers a false answer (`output_quiet`); a read that changes nothing
/// keeps it, and a read that opens the window enough must still report the update.
#[test]
fn test_established_wants_transmit_after_quiet_read_reports_window_update() {
    let mut c = established();
    fill_receive_buffer(&mut c);
    drain(&mut c, 0);
    assert!(!c.wants_transmit(), "drained: nothing to send");
    let mut buf = [0; 8192];
    assert_eq!(c.recv(&mut buf[..100], false), Ok(100));
    assert!(!c.wants_transmit(), "a small read announces no window");
    assert_eq!(c.recv(&mut buf, false), Ok(8092));
    assert!(c.wants_transmit(), "the window update must not be hidden");
    assert!(recv_one(&mut c, 1).is_pure_ack());
    assert!(!c.wants_transmit());
    c.send(b"reply").unwrap();
    assert!(c.wants_transmit(), "send after a quiet answer");
}

#[test]
fn test_established_shutdown_read_discards_and_acks() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"abc"));
    c.shutdown_read();
    assert_eq!(c.recv(&mut [0; 4], false), Ok(0));
    send(&mut c, 1, data(REMOTE_SEQ + 4, b"def"));
    tick(&mut c, 50);
    let out = recv_one(&mut c, 50);
    assert_eq!(out.ack(), REMOTE_SEQ + 7);
    // The buffer is empty, but the right edge only moves by at least an MSS (SWS avoidance).
    assert_eq!(out.repr.window_len, 8192 - 6);
    assert_eq!(c.recv_queue(), 0);
}

// ----- ESTABLISHED: RST and SYN (RFC 5961) -----

#[test]
fn test_established_rst_exact_resets() {
    let mut c = established();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    let r = c.readiness();
    assert!(r.error && r.hangup && r.readable && r.writable);
    assert_eq!(c.recv(&mut [0; 4], false), Err(Errno::ECONNRESET));
    assert_eq!(c.recv(&mut [0; 4], false), Ok(0));
    assert_eq!(c.send(b"x"), Err(Errno::EPIPE));
    recv_nothing(&mut c, 5);
}

#[test]
fn test_established_rst_in_window_challenge_ack() {
    let mut c = established();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 100, b"")
        },
    );
    assert_eq!(c.state(), State::Established);
    let out = recv_one(&mut c, 5);
    assert!(out.is_pure_ack());
    assert_eq!(out.seq(), LOCAL_SEQ + 1);
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
}

#[test]
fn test_established_challenge_acks_rate_limited() {
    // RFC 5961 §7: a blind attacker's in-window RSTs draw at most `challenge_ack_limit`
    // challenge ACKs per second from one connection; 0 turns the limit off.
    let bogus_rst = TcpRepr {
        flags: TcpFlags::RST,
        ..data(REMOTE_SEQ + 100, b"")
    };
    for (limit, expected) in [(10, 10), (0, 50)] {
        let config = TcpConfig {
            challenge_ack_limit: limit,
            ..TcpConfig::default()
        };
        let mut c = established_with(&config);
        let mut acks = 0;
        for i in 0..50 {
            send(&mut c, 5 + i, bogus_rst);
            acks += drain(&mut c, 5 + i).len();
        }
        assert_eq!(acks, expected, "limit {limit}");
        assert_eq!(c.stats().challenge_acks, expected as u64);
        assert_eq!(c.stats().challenge_acks_suppressed, 50 - expected as u64);
        // A new second brings a new budget.
        send(&mut c, 1100, bogus_rst);
        assert!(recv_one(&mut c, 1100).is_pure_ack());
        assert_eq!(c.state(), State::Established);
    }
}

#[test]
fn test_established_rst_outside_window_ignored() {
    let mut c = established();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 100_000, b"")
        },
    );
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ - 1, b"")
        },
    );
    assert_eq!(c.state(), State::Established);
    recv_nothing(&mut c, 5);
}

#[test]
fn test_established_syn_challenge_ack() {
    let mut c = established();
    for seq in [REMOTE_SEQ + 1, REMOTE_SEQ + 500, REMOTE_SEQ - 5] {
        send(
            &mut c,
            5,
            TcpRepr {
                seq_number: seq,
                ..remote_syn()
            },
        );
        assert_eq!(c.state(), State::Established);
        let out = recv_one(&mut c, 5);
        assert!(out.is_pure_ack(), "{:?}", out.repr);
        assert_eq!(out.ack(), REMOTE_SEQ + 1);
    }
}

#[test]
fn test_established_ack_of_unsent_data_dropped_with_ack() {
    let mut c = established();
    send(
        &mut c,
        5,
        TcpRepr {
            ack_number: LOCAL_SEQ + 1000,
            ..data(REMOTE_SEQ + 1, b"zzz")
        },
    );
    let out = recv_one(&mut c, 5);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 1, "the data was dropped");
    assert_eq!(c.recv_queue(), 0);
}

#[test]
fn test_established_segment_without_ack_dropped() {
    let mut c = established();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::empty(),
            ..data(REMOTE_SEQ + 1, b"zzz")
        },
    );
    assert_eq!(c.recv_queue(), 0);
    recv_nothing(&mut c, 5);
}

// ----- ESTABLISHED: sending -----

#[test]
fn test_established_send_segments_to_mss() {
    let mut c = established();
    let payload: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
    assert_eq!(c.send(&payload), Ok(4000));
    let segs = drain(&mut c, 0);
    let sizes: Vec<usize> = segs.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [1460, 1460, 1080]);
    let mut seq = LOCAL_SEQ + 1;
    let mut joined = Vec::new();
    for s in &segs {
        assert_eq!(s.seq(), seq);
        seq += s.payload.len();
        joined.extend_from_slice(&s.payload);
    }
    assert_eq!(joined, payload);
    assert!(segs[2].flags().psh());
    assert_eq!(c.send_queue(), 4000);
    send(&mut c, 10, ack(seq));
    assert_eq!(c.send_queue(), 0);
}

#[test]
fn test_established_short_writes_and_eagain() {
    let mut c = established();
    let big = [9u8; 10_000];
    assert_eq!(c.send(&big), Ok(8192));
    assert_eq!(c.send(&big), Err(Errno::EAGAIN));
    assert!(!c.readiness().writable);
    drain(&mut c, 0);
    send(&mut c, 10, ack(LOCAL_SEQ + 1 + 1460 * 3));
    assert_eq!(c.send(&big), Ok(1460 * 3));
    assert!(!c.readiness().writable);
    send(&mut c, 20, ack(LOCAL_SEQ + 1 + 1460 * 5));
    assert!(c.readiness().writable);
    assert_eq!(c.send(&[]), Ok(0));
}

#[test]
fn test_established_flow_control_by_peer_window() {
    let mut c = established();
    send(
        &mut c,
        0,
        TcpRepr {
            window_len: 2000,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    c.send(&[3u8; 5000]).unwrap();
    // A full segment, then the 540 bytes left of the window wait: a small fraction of the
    // largest window seen, with data in flight (sender SWS avoidance, RFC 9293 §3.8.6.2.1).
    let sizes: Vec<usize> = drain(&mut c, 0).iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [1460]);
    // Everything acknowledged, window 2000: nothing in flight, so fill the window.
    send(
        &mut c,
        10,
        TcpRepr {
            window_len: 2000,
            ..ack(LOCAL_SEQ + 1461)
        },
    );
    let segs = drain(&mut c, 10);
    let sizes: Vec<usize> = segs.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [1460]);
    send(
        &mut c,
        20,
        TcpRepr {
            window_len: 500,
            ..ack(LOCAL_SEQ + 2921)
        },
    );
    let sizes: Vec<usize> = drain(&mut c, 20).iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [500], "never past the right edge");
}

#[test]
fn test_established_initial_window_ten_segments() {
    let config = TcpConfig {
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(&[0u8; 30_000]).unwrap();
    let segs = drain(&mut c, 0);
    assert_eq!(segs.len(), 10, "RFC 6928 initial window");
    assert_eq!(c.cwnd(), 14_600);
    // Slow start: each ACK of a full segment grows cwnd.
    send(&mut c, 20, ack(LOCAL_SEQ + 1 + 1460));
    assert_eq!(c.cwnd(), 14_600 + 1460);
    assert_eq!(drain(&mut c, 20).len(), 2);
}

#[test]
fn test_established_nagle_holds_small_segments() {
    let mut c = established();
    c.send(b"a").unwrap();
    assert_eq!(recv_one(&mut c, 0).payload, b"a");
    c.send(b"b").unwrap();
    c.send(b"c").unwrap();
    recv_nothing(&mut c, 1);
    send(&mut c, 10, ack(LOCAL_SEQ + 2));
    assert_eq!(recv_one(&mut c, 10).payload, b"bc");
    // With TCP_NODELAY small segments go at once.
    c.set_nodelay(true);
    c.send(b"d").unwrap();
    assert_eq!(recv_one(&mut c, 11).payload, b"d");
}

#[test]
fn test_established_retransmit_timing_and_backoff() {
    let mut c = established(); // SYN,ACK acknowledged at once: RTT 0, RTO = min_rto
    assert_eq!(c.rto(), Duration::from_millis(200));
    c.send(b"data").unwrap();
    assert_eq!(recv_one(&mut c, 1000).payload, b"data");
    let mut t = 1000;
    for rto in [200, 400, 800, 1600] {
        assert_eq!(c.poll_timeout(), Some(at(t + rto)));
        tick(&mut c, t + rto - 1);
        recv_nothing(&mut c, t + rto - 1);
        t += rto;
        tick(&mut c, t);
        let again = recv_one(&mut c, t);
        assert_eq!(
            (again.seq(), again.payload.as_slice()),
            (LOCAL_SEQ + 1, &b"data"[..])
        );
        assert_eq!(c.cwnd(), 1460, "loss window after a timeout");
    }
    assert_eq!(c.rto(), Duration::from_millis(3200));
}

#[test]
fn test_established_rtt_sample_sets_rto() {
    let mut c = established();
    c.send(b"x").unwrap();
    recv_one(&mut c, 1000);
    send(&mut c, 1100, ack(LOCAL_SEQ + 2));
    // Samples 0 ms (handshake) then 100 ms: SRTT = 12.5 ms, RTTVAR = 3/4·0 + 1/4·100 = 25 ms.
    assert_eq!(c.srtt(), Some(Duration::from_micros(12_500)));
    assert_eq!(c.rto(), Duration::from_millis(200), "clamped to min_rto");
    assert_eq!(c.poll_timeout(), None, "all acknowledged: timer stopped");
}

#[test]
fn test_established_karn_no_sample_from_retransmission() {
    let mut c = established();
    c.send(b"x").unwrap();
    recv_one(&mut c, 0);
    tick(&mut c, 200);
    recv_one(&mut c, 200);
    let srtt_before = c.srtt();
    assert_eq!(c.rto(), Duration::from_millis(400));
    // The ACK may be for either transmission: no sample, backoff kept (RFC 6298 §5.7, Karn).
    send(&mut c, 5000, ack(LOCAL_SEQ + 2));
    assert_eq!(c.srtt(), srtt_before);
    assert_eq!(c.rto(), Duration::from_millis(400));
    // The next new segment is timed again and ends the backoff.
    c.send(b"y").unwrap();
    recv_one(&mut c, 6000);
    send(&mut c, 6010, ack(LOCAL_SEQ + 3));
    assert_ne!(c.srtt(), srtt_before);
    assert_eq!(c.rto(), Duration::from_millis(200));
}

#[test]
fn test_established_gives_up_after_max_retries() {
    let config = TcpConfig {
        max_retries: 3,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(b"lost").unwrap();
    recv_one(&mut c, 0);
    let mut retransmissions = 0;
    while c.state() != State::Closed {
        let t = c
            .poll_timeout()
            .expect("retransmission timer armed")
            .total_millis();
        tick(&mut c, t);
        if recv(&mut c, t).is_some() {
            retransmissions += 1;
        }
    }
    assert_eq!(retransmissions, 3);
    assert_eq!(c.peek_error(), Some(Errno::ETIMEDOUT));
    let r = c.readiness();
    assert!(r.error && r.hangup);
    assert_eq!(c.send(b"x"), Err(Errno::ETIMEDOUT));
}

#[test]
fn test_established_fast_retransmit_on_three_dup_acks() {
    let config = TcpConfig {
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(&[5u8; 1460 * 6]).unwrap();
    assert_eq!(drain(&mut c, 0).len(), 6);
    // The first segment is lost; each later one produces a duplicate ACK.
    for t in 1..=2 {
        send(&mut c, t, ack(LOCAL_SEQ + 1));
        recv_nothing(&mut c, t);
    }
    send(&mut c, 3, ack(LOCAL_SEQ + 1));
    let resent = recv_one(&mut c, 3);
    assert_eq!(resent.seq(), LOCAL_SEQ + 1);
    assert_eq!(resent.payload.len(), 1460);
    // ssthresh = flight/2 = 4380; cwnd = ssthresh + 3 MSS.
    assert_eq!(c.cwnd(), 4380 + 3 * 1460);
    // A full ACK ends recovery: cwnd = min(ssthresh, max(flight, MSS) + MSS) (RFC 6582 §3.2).
    send(&mut c, 10, ack(LOCAL_SEQ + 1 + 1460 * 6));
    assert_eq!(c.cwnd(), 2920);
}

#[test]
fn test_established_partial_ack_retransmits_next_hole() {
    let config = TcpConfig {
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(&[5u8; 1460 * 6]).unwrap();
    drain(&mut c, 0);
    for t in 1..=3 {
        send(&mut c, t, ack(LOCAL_SEQ + 1));
    }
    assert_eq!(recv_one(&mut c, 3).seq(), LOCAL_SEQ + 1);
    // Segments 1 and 3 were lost: the ACK after the resend stops at segment 3.
    send(&mut c, 10, ack(LOCAL_SEQ + 1 + 1460 * 2));
    let resent = recv_one(&mut c, 10);
    assert_eq!(resent.seq(), LOCAL_SEQ + 1 + 1460 * 2);
}

#[test]
fn test_established_zero_window_probe() {
    let mut c = established();
    send(
        &mut c,
        0,
        TcpRepr {
            window_len: 0,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    c.send(b"waiting").unwrap();
    recv_nothing(&mut c, 0);
    // Probes on the RTO schedule, backing off.
    let first = c.poll_timeout().unwrap();
    assert_eq!(first, at(200));
    tick(&mut c, 200);
    let probe = recv_one(&mut c, 200);
    assert!(probe.is_pure_ack());
    assert_eq!(probe.seq(), LOCAL_SEQ, "just left of the window");
    // The peer answers with its window still closed.
    send(
        &mut c,
        210,
        TcpRepr {
            window_len: 0,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    recv_nothing(&mut c, 210);
    assert_eq!(c.poll_timeout(), Some(at(600)));
    tick(&mut c, 600);
    assert_eq!(recv_one(&mut c, 600).seq(), LOCAL_SEQ);
    // The window opens: the data goes.
    send(&mut c, 610, ack(LOCAL_SEQ + 1));
    assert_eq!(recv_one(&mut c, 610).payload, b"waiting");
}

#[test]
fn test_established_idle_timeout() {
    let config = TcpConfig {
        idle_timeout: Some(Duration::from_secs(5)),
        ..plain()
    };
    let mut c = established_with(&config);
    send(&mut c, 3000, data(REMOTE_SEQ + 1, b"hi"));
    drain(&mut c, 3000);
    tick(&mut c, 3040);
    drain(&mut c, 3040);
    tick(&mut c, 7999);
    assert_eq!(c.state(), State::Established);
    tick(&mut c, 8000);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ETIMEDOUT));
    let rst = recv_one(&mut c, 8000);
    assert!(rst.flags().rst());
    assert!(c.is_closed());
}

#[test]
fn test_established_close_with_unread_data_resets() {
    let mut c = established();
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"unread"));
    c.close(at(1));
    assert_eq!(c.state(), State::Closed);
    let rst = recv_one(&mut c, 1);
    assert_eq!(rst.flags(), TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(rst.seq(), LOCAL_SEQ + 1);
    assert_eq!(rst.ack(), REMOTE_SEQ + 7);
    assert_eq!(c.peek_error(), None);
    assert!(c.is_closed());
}

#[test]
fn test_established_close_with_linger_zero_resets() {
    let mut c = established();
    c.set_linger(Some(Duration::ZERO));
    c.close(at(1));
    assert_eq!(c.state(), State::Closed);
    assert!(recv_one(&mut c, 1).flags().rst());
}

#[test]
fn test_established_abort_resets() {
    let mut c = established();
    c.send(b"pending").unwrap();
    c.abort(at(1));
    assert_eq!(c.state(), State::Closed);
    let rst = recv_one(&mut c, 1);
    assert!(rst.flags().rst());
    recv_nothing(&mut c, 1);
}

#[test]
fn test_established_close_sends_fin_after_data() {
    let mut c = established();
    c.send(&[1u8; 2000]).unwrap();
    c.close(at(0));
    assert_eq!(c.state(), State::FinWait1);
    assert_eq!(c.send(b"x"), Err(Errno::EPIPE));
    let segs = drain(&mut c, 0);
    assert_eq!(segs.len(), 2);
    assert!(!segs[0].flags().fin());
    assert!(segs[1].flags().fin());
    assert_eq!(segs[1].seq() + segs[1].payload.len(), LOCAL_SEQ + 2001);
    send(&mut c, 10, ack(LOCAL_SEQ + 2002));
    assert_eq!(c.state(), State::FinWait2);
}

#[test]
fn test_established_timestamps_echo_and_paws() {
    let offering = TcpRepr {
        timestamp: Some(TcpTimestamp {
            tsval: 1000,
            tsecr: 0,
        }),
        ..remote_syn()
    };
    let config = TcpConfig {
        timestamps: true,
        ..plain()
    };
    let mut c = Connection::accept(&config, LOCAL, REMOTE, &offering, LOCAL_SEQ, at(0));
    let syn_ack = recv_one(&mut c, 0);
    let our_ts = syn_ack.repr.timestamp.unwrap();
    assert_eq!(our_ts.tsecr, 1000);
    assert_eq!(c.mss(), 1460 - 12, "MSS less the timestamps option");
    let ts = |tsval, tsecr| Some(TcpTimestamp { tsval, tsecr });
    send(
        &mut c,
        80,
        TcpRepr {
            timestamp: ts(1010, our_ts.tsval),
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(
        c.srtt(),
        Some(Duration::from_millis(80)),
        "RTT from the echoed TSval"
    );
    send(
        &mut c,
        100,
        TcpRepr {
            timestamp: ts(1020, our_ts.tsval),
            ..data(REMOTE_SEQ + 1, b"new")
        },
    );
    tick(&mut c, 140);
    let out = recv_one(&mut c, 140);
    assert_eq!(out.repr.timestamp.unwrap().tsecr, 1020);
    assert_eq!(out.repr.timestamp.unwrap().tsval, our_ts.tsval + 140);
    // PAWS: an older TSval is a stale duplicate, dropped with an ACK.
    send(
        &mut c,
        150,
        TcpRepr {
            timestamp: ts(1015, 0),
            ..data(REMOTE_SEQ + 4, b"old")
        },
    );
    assert_eq!(recv_one(&mut c, 150).ack(), REMOTE_SEQ + 4);
    assert_eq!(c.recv_queue(), 3);
}

#[test]
fn test_established_sack_blocks_for_out_of_order_data() {
    let config = TcpConfig {
        sack: true,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    assert!(c.sack_enabled());
    send(&mut c, 1, data(REMOTE_SEQ + 11, b"0123456789"));
    let out = recv_one(&mut c, 1);
    assert_eq!(out.ack(), REMOTE_SEQ + 1);
    assert_eq!(
        out.repr.sack_ranges[0],
        Some((REMOTE_SEQ + 11, REMOTE_SEQ + 21))
    );
    send(&mut c, 2, data(REMOTE_SEQ + 31, b"0123456789"));
    let out = recv_one(&mut c, 2);
    // RFC 2018 §4: the block with the segment that triggered the ACK comes first.
    assert_eq!(
        out.repr.sack_ranges[0],
        Some((REMOTE_SEQ + 31, REMOTE_SEQ + 41))
    );
    assert_eq!(
        out.repr.sack_ranges[1],
        Some((REMOTE_SEQ + 11, REMOTE_SEQ + 21))
    );
}

// ----- options -----

#[test]
fn test_window_scale_both_sides() {
    let config = TcpConfig {
        rcvbuf: 1 << 20,
        window_scaling: true,
        ..plain()
    };
    let mut c = syn_sent_with(&config);
    let syn_ack = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 1,
        window_scale: Some(3),
        window_len: 1000, // unscaled in the SYN
        ..remote_syn()
    };
    send(&mut c, 10, syn_ack);
    assert_eq!(c.window_scale(), Some((3, 5)));
    assert_eq!(c.send_window(), 1000);
    let out = recv_one(&mut c, 10);
    assert_eq!(out.repr.window_len, ((1 << 20) >> 5) as u16);
    send(
        &mut c,
        20,
        TcpRepr {
            window_len: 1000,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.send_window(), 8000);
}

#[test]
fn test_window_scale_one_side_only() {
    // We offer, the peer does not: no scaling either way.
    let config = TcpConfig {
        rcvbuf: 1 << 20,
        window_scaling: true,
        ..plain()
    };
    let mut c = syn_sent_with(&config);
    let syn_ack = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::ACK,
        ack_number: LOCAL_SEQ + 1,
        ..remote_syn()
    };
    send(&mut c, 10, syn_ack);
    assert_eq!(c.window_scale(), None);
    assert_eq!(recv_one(&mut c, 10).repr.window_len, u16::MAX);
    send(
        &mut c,
        20,
        TcpRepr {
            window_len: 1000,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.send_window(), 1000);
    // The peer offers, we do not.
    let config = TcpConfig {
        rcvbuf: 1 << 20,
        ..plain()
    };
    let mut c = Connection::accept(
        &config,
        LOCAL,
        REMOTE,
        &TcpRepr {
            window_scale: Some(4),
            ..remote_syn()
        },
        LOCAL_SEQ,
        at(0),
    );
    assert_eq!(recv_one(&mut c, 0).repr.window_scale, None);
    send(
        &mut c,
        5,
        TcpRepr {
            window_len: 1000,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    assert_eq!(c.window_scale(), None);
    assert_eq!(c.send_window(), 1000);
}

#[test]
fn test_mss_negotiation() {
    let mut c = syn_received_with(
        &plain(),
        &TcpRepr {
            max_seg_size: Some(1000),
            ..remote_syn()
        },
    );
    assert_eq!(c.mss(), 1000);
    send(&mut c, 0, ack(LOCAL_SEQ + 1));
    c.send(&[0u8; 2500]).unwrap();
    let sizes: Vec<usize> = drain(&mut c, 0).iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    // No MSS option: 536 (RFC 9293 §3.7.1).
    let c = syn_received_with(
        &plain(),
        &TcpRepr {
            max_seg_size: None,
            ..remote_syn()
        },
    );
    assert_eq!(c.mss(), 536);
    // Ours is smaller than the peer's.
    let small = TcpConfig {
        mss: 1200,
        ..plain()
    };
    let c = syn_received_with(
        &small,
        &TcpRepr {
            max_seg_size: Some(9000),
            ..remote_syn()
        },
    );
    assert_eq!(c.mss(), 1200);
}

// ----- FIN-WAIT-1 -----

#[test]
fn test_fin_wait_1_ack_to_fin_wait_2() {
    let mut c = fin_wait_1();
    send(&mut c, 5, ack(LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn test_fin_wait_1_fin_to_closing() {
    let c = closing();
    assert_eq!(c.state(), State::Closing);
}

#[test]
fn test_fin_wait_1_fin_ack_to_time_wait() {
    let mut c = established_with(&time_wait_config());
    c.close(at(0));
    recv_one(&mut c, 0);
    send(&mut c, 5, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(recv_one(&mut c, 5).ack(), REMOTE_SEQ + 2);
}

#[test]
fn test_fin_wait_1_fin_retransmitted() {
    let mut c = fin_wait_1();
    tick(&mut c, 200);
    let again = recv_one(&mut c, 200);
    assert!(again.flags().fin());
    assert_eq!(again.seq(), LOCAL_SEQ + 1);
}

#[test]
fn test_fin_wait_1_rst() {
    let mut c = fin_wait_1();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ECONNRESET));
}

#[test]
fn test_fin_wait_1_data_after_close_resets() {
    let mut c = fin_wait_1();
    send(&mut c, 5, data(REMOTE_SEQ + 1, b"too late"));
    assert_eq!(c.state(), State::Closed);
    assert!(recv_one(&mut c, 5).flags().rst());
}

#[test]
fn test_fin_wait_1_after_shutdown_still_receives() {
    let mut c = established();
    c.shutdown_write(at(0));
    assert_eq!(c.state(), State::FinWait1);
    recv_one(&mut c, 0);
    send(
        &mut c,
        5,
        TcpRepr {
            ack_number: LOCAL_SEQ + 2,
            ..data(REMOTE_SEQ + 1, b"more")
        },
    );
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.recv(&mut [0; 8], false), Ok(4));
}

// ----- FIN-WAIT-2 -----

#[test]
fn test_fin_wait_2_fin_to_time_wait() {
    let config = time_wait_config();
    let mut c = established_with(&config);
    c.shutdown_write(at(0));
    recv_one(&mut c, 0);
    send(&mut c, 0, ack(LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::FinWait2);
    send(&mut c, 5, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(recv_one(&mut c, 5).ack(), REMOTE_SEQ + 2);
}

#[test]
fn test_fin_wait_2_fin_with_timewait_zero_closes_at_once() {
    let mut c = fin_wait_2();
    send(&mut c, 5, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2));
    assert_eq!(c.state(), State::Closed);
    assert!(!c.is_closed(), "the last ACK is still owed");
    assert!(c.wants_transmit());
    let last = recv_one(&mut c, 5);
    assert!(last.is_pure_ack());
    assert_eq!(last.ack(), REMOTE_SEQ + 2);
    assert!(c.is_closed());
}

#[test]
fn test_fin_wait_2_rst() {
    let mut c = fin_wait_2();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 1, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ECONNRESET));
}

// ----- CLOSE-WAIT -----

#[test]
fn test_close_wait_send_then_close_to_last_ack() {
    let mut c = close_wait();
    assert!(c.readiness().writable);
    assert_eq!(c.send(b"bye"), Ok(3));
    assert_eq!(recv_one(&mut c, 1).payload, b"bye");
    c.close(at(2));
    assert_eq!(c.state(), State::LastAck);
    let fin = recv_one(&mut c, 2);
    assert!(fin.flags().fin());
    assert_eq!(fin.seq(), LOCAL_SEQ + 4);
}

#[test]
fn test_close_wait_rst() {
    let mut c = close_wait();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 2, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), Some(Errno::ECONNRESET));
}

#[test]
fn test_close_wait_fin_acked_after_the_delayed_ack_time() {
    let mut c = close_wait();
    let delay = plain().delayed_ack.total_millis();
    assert_eq!(c.poll_timeout(), Some(at(delay)));
    tick(&mut c, delay - 1);
    recv_nothing(&mut c, delay - 1);
    tick(&mut c, delay);
    assert_eq!(recv_one(&mut c, delay).ack(), REMOTE_SEQ + 2);
    recv_nothing(&mut c, delay);
}

#[test]
fn test_close_wait_close_sends_fin_with_the_ack_of_the_peer_fin() {
    let mut c = close_wait();
    c.close(at(1));
    let fin = recv_one(&mut c, 1);
    assert!(fin.flags().fin() && fin.flags().ack());
    assert_eq!(fin.ack(), REMOTE_SEQ + 2);
    recv_nothing(&mut c, 1);
    // Nothing is owed any more: no delayed ACK follows.
    tick(&mut c, plain().delayed_ack.total_millis());
    recv_nothing(&mut c, plain().delayed_ack.total_millis());
}

#[test]
fn test_close_wait_fin_retransmission_acked() {
    let mut c = close_wait();
    send(&mut c, 5, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 1));
    assert_eq!(recv_one(&mut c, 5).ack(), REMOTE_SEQ + 2);
    assert_eq!(c.state(), State::CloseWait);
}

// ----- CLOSING -----

#[test]
fn test_closing_ack_to_time_wait() {
    let mut c = closing();
    send(
        &mut c,
        5,
        TcpRepr {
            seq_number: REMOTE_SEQ + 2,
            ..ack(LOCAL_SEQ + 2)
        },
    );
    // timewait 0 in `plain`: TIME-WAIT ends at once.
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
}

#[test]
fn test_closing_rst() {
    let mut c = closing();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 2, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), None);
}

// ----- LAST-ACK -----

#[test]
fn test_last_ack_ack_closes() {
    let c = last_ack_acked_at(5);
    assert_eq!(c.peek_error(), None);
    let r = c.readiness();
    assert!(r.hangup && r.readable);
}

#[test]
fn test_last_ack_fin_retransmitted() {
    let mut c = last_ack();
    tick(&mut c, 200);
    let fin = recv_one(&mut c, 200);
    assert!(fin.flags().fin());
    assert_eq!(fin.seq(), LOCAL_SEQ + 1);
}

#[test]
fn test_last_ack_rst() {
    let mut c = last_ack();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 2, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), None);
}

// ----- TIME-WAIT -----

#[test]
fn test_time_wait_expires() {
    let mut c = time_wait();
    assert_eq!(c.poll_timeout(), Some(at(1000)));
    tick(&mut c, 999);
    assert_eq!(c.state(), State::TimeWait);
    tick(&mut c, 1000);
    assert_eq!(c.state(), State::Closed);
    assert!(c.is_closed());
}

#[test]
fn test_time_wait_fin_retransmission_reacked_and_timer_restarted() {
    let mut c = time_wait();
    send(&mut c, 600, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 2));
    let out = recv_one(&mut c, 600);
    assert!(out.is_pure_ack());
    assert_eq!(out.ack(), REMOTE_SEQ + 2);
    assert_eq!(c.poll_timeout(), Some(at(1600)));
    tick(&mut c, 1000);
    assert_eq!(c.state(), State::TimeWait);
    tick(&mut c, 1600);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn test_time_wait_rst() {
    let mut c = time_wait();
    send(
        &mut c,
        5,
        TcpRepr {
            flags: TcpFlags::RST,
            ..data(REMOTE_SEQ + 2, b"")
        },
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.peek_error(), None);
}

#[test]
fn test_time_wait_close_and_abort_send_nothing() {
    let mut c = time_wait();
    c.close(at(5));
    assert_eq!(c.state(), State::TimeWait);
    c.abort(at(6));
    assert_eq!(c.state(), State::Closed);
    recv_nothing(&mut c, 6);
}

// ----- transitions and behaviours not covered above -----

#[test]
fn test_syn_received_close_sends_fin_once_established() {
    let mut c = syn_received();
    c.close(at(1));
    assert_eq!(c.state(), State::SynReceived);
    recv_nothing(&mut c, 1);
    send(&mut c, 5, ack(LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::FinWait1);
    let fin = recv_one(&mut c, 5);
    assert_eq!(fin.flags(), TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!(fin.seq(), LOCAL_SEQ + 1);
}

#[test]
fn test_closing_ack_to_time_wait_with_timer() {
    let mut c = established_with(&time_wait_config());
    c.close(at(0));
    recv_one(&mut c, 0);
    send(&mut c, 1, remote_fin(REMOTE_SEQ + 1, LOCAL_SEQ + 1));
    assert_eq!(c.state(), State::Closing);
    recv_one(&mut c, 1);
    send(
        &mut c,
        2,
        TcpRepr {
            seq_number: REMOTE_SEQ + 2,
            ..ack(LOCAL_SEQ + 2)
        },
    );
    assert_eq!(c.state(), State::TimeWait);
    assert_eq!(c.poll_timeout(), Some(at(1002)));
    tick(&mut c, 1002);
    assert!(c.is_closed());
}

#[test]
fn test_closing_fin_retransmitted() {
    let mut c = closing();
    tick(&mut c, 200);
    let fin = recv_one(&mut c, 200);
    assert!(fin.flags().fin());
    assert_eq!(fin.ack(), REMOTE_SEQ + 2);
}

#[test]
fn test_established_sack_triggers_fast_retransmit_for_a_burst() {
    let config = TcpConfig {
        sack: true,
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_sack_at(&config, 0);
    c.send(&[1u8; 1460 * 6]).unwrap();
    drain(&mut c, 0);
    // One ACK SACKing segments 2..5 at once (a receive batch): the first is lost.
    let sack = TcpRepr {
        sack_ranges: [
            Some((LOCAL_SEQ + 1461, LOCAL_SEQ + 1 + 1460 * 5)),
            None,
            None,
        ],
        ..ack(LOCAL_SEQ + 1)
    };
    send(&mut c, 10, sack);
    let resent = recv_one(&mut c, 10);
    assert_eq!(resent.seq(), LOCAL_SEQ + 1);
    assert_eq!(resent.payload.len(), 1460);
}

#[test]
fn test_established_limited_transmit_on_first_dup_acks() {
    let config = TcpConfig {
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(&[1u8; 1460 * 14]).unwrap();
    assert_eq!(drain(&mut c, 0).len(), 10, "initial window");
    // Each of the first two duplicate ACKs lets one new segment out (RFC 3042).
    send(&mut c, 10, ack(LOCAL_SEQ + 1));
    assert_eq!(recv_one(&mut c, 10).seq(), LOCAL_SEQ + 1 + 1460 * 10);
    recv_nothing(&mut c, 10);
    send(&mut c, 11, ack(LOCAL_SEQ + 1));
    assert_eq!(recv_one(&mut c, 11).seq(), LOCAL_SEQ + 1 + 1460 * 11);
    recv_nothing(&mut c, 11);
    // The third starts fast retransmit.
    send(&mut c, 12, ack(LOCAL_SEQ + 1));
    assert_eq!(recv_one(&mut c, 12).seq(), LOCAL_SEQ + 1);
}

#[test]
fn test_established_window_update_is_not_a_dup_ack() {
    let config = TcpConfig {
        sndbuf: 64 * 1024,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(&[1u8; 1460 * 4]).unwrap();
    drain(&mut c, 0);
    for (t, window) in [(1, 50_000), (2, 40_000), (3, 30_000)] {
        send(
            &mut c,
            t,
            TcpRepr {
                window_len: window,
                ..ack(LOCAL_SEQ + 1)
            },
        );
        recv_nothing(&mut c, t);
    }
}

#[test]
fn test_established_readiness_tracks_buffers() {
    let mut c = established();
    let r = c.readiness();
    assert!(r.writable && !r.readable && !r.read_hangup && !r.hangup && !r.error);
    send(&mut c, 0, data(REMOTE_SEQ + 1, b"x"));
    assert!(c.readiness().readable);
    c.recv(&mut [0; 4], false).unwrap();
    assert!(!c.readiness().readable);
    // Writable while free space >= half of what is queued (Linux's sk_stream_is_writeable).
    c.send(&[0u8; 5461]).unwrap();
    assert!(c.readiness().writable);
    c.send(&[0u8; 1]).unwrap();
    assert!(!c.readiness().writable);
    // After shutdown(SHUT_WR), send fails at once: writable, and EPIPE.
    c.shutdown_write(at(0));
    assert!(c.readiness().writable);
    assert_eq!(c.send(b"x"), Err(Errno::EPIPE));
    assert!(!c.readiness().hangup);
    send(&mut c, 1, remote_fin(REMOTE_SEQ + 2, LOCAL_SEQ + 1));
    let r = c.readiness();
    assert!(r.read_hangup && r.hangup && r.readable);
}

#[test]
fn test_established_out_of_order_fin_waits_for_the_gap() {
    let mut c = established();
    send(
        &mut c,
        0,
        TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::FIN,
            ..data(REMOTE_SEQ + 4, b"def")
        },
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(recv_one(&mut c, 0).ack(), REMOTE_SEQ + 1);
    send(&mut c, 1, data(REMOTE_SEQ + 1, b"abc"));
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(recv_one(&mut c, 1).ack(), REMOTE_SEQ + 8);
    let mut buf = [0; 8];
    assert_eq!(c.recv(&mut buf, false), Ok(6));
    assert_eq!(c.recv(&mut buf, false), Ok(0));
}

#[test]
fn test_established_persist_gives_up_when_probes_go_unanswered() {
    let config = TcpConfig {
        max_retries: 2,
        ..plain()
    };
    let mut c = established_with(&config);
    send(
        &mut c,
        0,
        TcpRepr {
            window_len: 0,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    c.send(b"stuck").unwrap();
    assert!(
        c.wants_transmit(),
        "the runtime must poll to arm the persist timer"
    );
    recv_nothing(&mut c, 0);
    assert!(!c.wants_transmit());
    let mut probes = 0;
    while c.state() == State::Established {
        let t = c.poll_timeout().unwrap().total_millis();
        tick(&mut c, t);
        while let Some(out) = recv(&mut c, t) {
            if out.is_pure_ack() {
                probes += 1;
            }
        }
    }
    assert_eq!(probes, 2);
    assert_eq!(c.peek_error(), Some(Errno::ETIMEDOUT));
}

#[test]
fn test_established_wants_transmit_matches_poll() {
    let mut c = established();
    assert!(!c.wants_transmit());
    c.send(b"abc").unwrap();
    assert!(c.wants_transmit());
    recv_one(&mut c, 0);
    assert!(!c.wants_transmit());
    send(&mut c, 5, data(REMOTE_SEQ + 5, b"gap"));
    assert!(c.wants_transmit());
    recv_one(&mut c, 5);
    assert!(!c.wants_transmit());
}

#[test]
fn test_established_window_shrunk_to_zero_under_flight_never_times_out() {
    let config = TcpConfig {
        max_retries: 2,
        ..plain()
    };
    let mut c = established_with(&config);
    c.send(b"in flight").unwrap();
    recv_one(&mut c, 0);
    // The peer acknowledges nothing and closes its window.
    send(
        &mut c,
        10,
        TcpRepr {
            window_len: 0,
            ..ack(LOCAL_SEQ + 1)
        },
    );
    let mut t = 10;
    for _ in 0..6 {
        t = c.poll_timeout().unwrap().total_millis();
        tick(&mut c, t);
        // The retransmission goes despite the zero window, as a probe.
        let probe = recv_one(&mut c, t);
        assert_eq!(probe.seq(), LOCAL_SEQ + 1);
        assert!(!probe.payload.is_empty());
        send(
            &mut c,
            t + 10,
            TcpRepr {
                window_len: 0,
                ..ack(LOCAL_SEQ + 1)
            },
        );
    }
    assert_eq!(c.state(), State::Established);
    // The window opens and the data is acknowledged.
    send(&mut c, t + 20, ack(LOCAL_SEQ + 1));
    let t = c.poll_timeout().unwrap().total_millis();
    tick(&mut c, t);
    assert_eq!(recv_one(&mut c, t).payload, b"in flight");
    send(&mut c, t + 10, ack(LOCAL_SEQ + 10));
    assert_eq!(c.send_queue(), 0);
}

mod address_sum;
mod cwnd_validation;
mod fin_acked;
mod frto;
mod handshake_rtt;
mod header_prediction;
mod icmp;
mod lean_transmit;
mod pacing;
mod paws;
mod pingpong;
mod prr;
mod quick_ack;
mod reopen;
mod reuse;
mod sack_blocks;
mod storage;
mod syn_cookie;
mod transmit_hint;
mod user_timeout;
