//! Frame builders for the backend tests (mtcp-io does not depend on mtcp-proto, so these are
//! written out byte by byte; checksums are left zero: backends don't look at them).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use mtcp_io::{Notify, PacketIo};

pub const BROADCAST: [u8; 6] = [0xff; 6];

pub fn mac(last: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, last]
}

/// An Ethernet frame with `ethertype` and `payload`.
pub fn eth_frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet (20-byte header, no options) carrying `proto` and `body`.
pub fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
    let total = (20 + body.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]); // id, DF, ttl, proto, checksum
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(body);
    p
}

/// An Ethernet/IPv4/TCP frame with the given 4-tuple and payload.
pub fn tcp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    payload: &[u8],
) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    eth_frame(dst_mac, src_mac, 0x0800, &ipv4(6, src, dst, &tcp))
}

/// A broadcast ARP request from `src_mac`.
pub fn arp_frame(src_mac: [u8; 6]) -> Vec<u8> {
    eth_frame(BROADCAST, src_mac, 0x0806, &[0u8; 28])
}

/// A frame to `dst` whose payload starts with `seq` (big-endian), padded to `len` bytes.
pub fn seq_frame(dst: [u8; 6], src: [u8; 6], seq: u64, len: usize) -> Vec<u8> {
    let mut payload = vec![0u8; len.saturating_sub(14).max(8)];
    payload[..8].copy_from_slice(&seq.to_be_bytes());
    eth_frame(dst, src, 0x88b5, &payload)
}

/// The sequence number of a [`seq_frame`].
pub fn seq_of(frame: &[u8]) -> u64 {
    u64::from_be_bytes(frame[14..22].try_into().unwrap())
}

/// Copies `frame` into a transmit buffer of `port`.
pub fn send(port: &mut dyn PacketIo, frame: &[u8]) -> bool {
    port.tx(frame.len(), &mut |buf: &mut [u8]| {
        buf[..frame.len()].copy_from_slice(frame);
        frame.len()
    })
}

/// Every frame waiting on `port`.
pub fn recv_all(port: &mut dyn PacketIo) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while port.rx_burst(64, &mut |f: &[u8]| out.push(f.to_vec())) > 0 {}
    out
}

/// Counts its calls.
#[derive(Default)]
pub struct CountingNotify(pub AtomicUsize);

impl CountingNotify {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Notify for CountingNotify {
    fn notify(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
