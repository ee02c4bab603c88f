//! A freed flow slot keeps its finished connection, and with it the connection's buffers
//! while the context keeps fewer than `STORAGE_KEPT_MAX` connections' worth: the next
//! connection opened in the slot is rewritten in place over it and takes the buffers over.
use super::*;
use mtcp_proto::wire::{SeqNumber, TcpFlags};

fn core() -> Core {
    core_for(4)
}

fn core_for(max_concurrency: usize) -> Core {
    let net = NetConfig {
        ip: Ipv4Addr::new(198, 18, 0, 1),
        prefix_len: 24,
        mac: [2, 0, 0, 0, 0, 1],
        routes: Vec::new(),
        gateway: None,
    };
    Core::new(
        0,
        net,
        TcpConfig::default(),
        max_concurrency,
        1,
        Instant::ZERO,
    )
}

fn key(port: u16) -> FlowKey {
    FlowKey::new(SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), port), 80)
}

fn connection(core: &Core, port: u16) -> Connection {
    let local = SocketAddrV4::new(core.net.ip, 80);
    let remote = key(port).remote();
    Connection::connect(&core.tcp, local, remote, SeqNumber(1), Instant::ZERO)
}

/// Opens a flow for `port`; `reused` says whether the slot's kept connection must be
/// rewritten (true) or a new one built (false).
fn open(core: &mut Core, port: u16, reused: bool) -> FlowId {
    let fresh = connection(core, port);
    let (local, remote) = (fresh.local(), fresh.remote());
    let config = core.tcp.clone();
    let fid = core
        .open_flow(
            || {
                assert!(!reused, "built anew where a kept connection was expected");
                fresh
            },
            |conn| {
                assert!(reused, "a kept connection where a new one was expected");
                conn.reopen_connect(&config, local, remote, SeqNumber(1), Instant::ZERO);
            },
            key(port),
            Owner::Orphan,
        )
        .expect("room in the slab");
    let conn = &core.flows.get(fid).unwrap().conn;
    assert_eq!((conn.remote(), conn.state()), (remote, State::SynSent));
    fid
}

/// Completes the handshake of `fid`'s connection (SYN out, SYN-ACK in) and queues bytes, so
/// its send ring is allocated; then aborts it. Returns the bytes its buffers hold.
fn use_and_abort(core: &mut Core, fid: FlowId) -> usize {
    let conn = &mut core.flows.get_mut(fid).unwrap().conn;
    let mut buf = [0u8; 1600];
    assert!(
        conn.poll_transmit(Instant::ZERO, &mut buf).is_some(),
        "the SYN"
    );
    let remote = conn.remote();
    let syn_ack = TcpRepr {
        seq_number: SeqNumber(500),
        ack_number: SeqNumber(2),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window_len: 8192,
        max_seg_size: Some(1460),
        ..TcpRepr::new(remote.port(), 80)
    };
    conn.handle_segment(Instant::ZERO, &syn_ack);
    assert_eq!(conn.state(), State::Established);
    assert_eq!(conn.send(&[1; 100]), Ok(100));
    let held = conn.storage_bytes();
    assert!(held > 0);
    conn.abort(Instant::ZERO);
    held
}

#[test]
fn freed_slots_keep_their_connections_buffers_for_the_next() {
    let mut core = core();
    let a = open(&mut core, 1000, false);
    let held = use_and_abort(&mut core, a);
    core.free_flow(a);
    assert!(core.flows.get(a).is_none());
    assert_eq!((core.kept_storage, core.kept_storage_bytes), (1, held));
    // The next connection lands in the same slot, over the kept one, with its buffers.
    let b = open(&mut core, 1001, true);
    assert_eq!(b.index, a.index);
    assert_eq!(core.flows.get(b).unwrap().conn.storage_bytes(), held);
    assert_eq!((core.kept_storage, core.kept_storage_bytes), (0, 0));
    assert_eq!(core.flow_map.get(&key(1001)), Some(&b));
}

#[test]
fn kept_buffers_are_bounded() {
    let mut core = core_for(STORAGE_KEPT_MAX);
    let n = STORAGE_KEPT_MAX as u16 + 2;
    let ids: Vec<FlowId> = (0..n).map(|i| open(&mut core, 2000 + i, false)).collect();
    let held: Vec<usize> = ids
        .iter()
        .map(|&fid| use_and_abort(&mut core, fid))
        .collect();
    for &fid in &ids {
        core.free_flow(fid);
    }
    // The first STORAGE_KEPT_MAX freed keep their buffers, the last two free theirs.
    let kept: usize = held[..STORAGE_KEPT_MAX].iter().sum();
    assert_eq!(
        (core.kept_storage, core.kept_storage_bytes),
        (STORAGE_KEPT_MAX, kept)
    );
    // Reopened (last freed first), each slot brings what it kept, and the count goes to 0.
    let reopened: Vec<FlowId> = (0..n).map(|i| open(&mut core, 3000 + i, true)).collect();
    let with_buffers = reopened
        .iter()
        .filter(|&&fid| core.flows.get(fid).unwrap().conn.storage_bytes() > 0)
        .count();
    assert_eq!(with_buffers, STORAGE_KEPT_MAX);
    assert_eq!((core.kept_storage, core.kept_storage_bytes), (0, 0));
}

#[test]
fn a_reopened_flow_keeps_its_next_hop_only_for_the_same_peer_address() {
    let mut core = core();
    let a = open(&mut core, 4000, false);
    let peer = *key(4000).remote().ip();
    core.flows.get_mut(a).unwrap().hop = Some(peer);
    core.free_flow(a);
    // Same peer address, another port: the hop stays.
    let b = open(&mut core, 4001, true);
    assert_eq!(core.flows.get(b).unwrap().hop, Some(peer));
    core.free_flow(b);
    // Another peer address in the same slot: looked up again.
    let other = FlowKey::new(SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 3), 4002), 80);
    let config = core.tcp.clone();
    let local = SocketAddrV4::new(core.net.ip, 80);
    let c = core
        .open_flow(
            || unreachable!("the slot kept a connection"),
            |conn| conn.reopen_connect(&config, local, other.remote(), SeqNumber(1), Instant::ZERO),
            other,
            Owner::Orphan,
        )
        .unwrap();
    assert_eq!(c.index, a.index);
    assert_eq!(core.flows.get(c).unwrap().hop, None);
}
