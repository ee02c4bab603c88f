//! Hand-built frames for tests that play a station the stack does not control: a SYN flooder
//! with spoofed sources, a router sending ICMP errors.
#![allow(dead_code)]
use std::net::Ipv4Addr;

use mtcp_io::PacketIo;
use mtcp_proto::wire::{
    ChecksumCaps, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv4Packet,
    Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpRepr,
};
use mtcp_proto::Duration;

/// The MAC `Network::add_host` gives a host at `ip` (no `mac` in its config).
pub fn host_mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// An Ethernet + IPv4 frame around `payload_len` bytes written by `fill`.
fn ip_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    protocol: IpProtocol,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Vec<u8> {
    let mut frame = vec![0u8; (14 + 20 + payload_len).max(60)];
    EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    Ipv4Repr {
        src_addr: src_ip,
        dst_addr: dst_ip,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
    }
    .emit(
        &mut Ipv4Packet::new_unchecked(&mut frame[14..]),
        ChecksumCaps::default(),
    );
    fill(&mut frame[34..34 + payload_len]);
    frame
}

/// A frame carrying `segment` (header, options, payload) with a valid checksum.
pub fn tcp_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    segment: &TcpRepr<'_>,
) -> Vec<u8> {
    let len = segment.header_len() + segment.payload.len();
    ip_frame(
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        IpProtocol::Tcp,
        len,
        |buf| {
            let header = segment.emit_header(buf);
            buf[header..].copy_from_slice(segment.payload);
            TcpRepr::fill_checksum(buf, src_ip, dst_ip);
        },
    )
}

/// An ICMP destination unreachable (type 3) with `code` from a router at `router_ip` to
/// `dst_ip`, quoting `quoted` (the offending datagram's IPv4 header and at least 8 bytes);
/// `next_hop_mtu` goes in for code 4 (RFC 1191 §4).
pub fn icmp_unreachable_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    router_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    code: u8,
    next_hop_mtu: u16,
    quoted: &[u8],
) -> Vec<u8> {
    let repr = Icmpv4Repr::DstUnreachable {
        code,
        header: quoted,
    };
    let len = repr.buffer_len();
    ip_frame(
        src_mac,
        dst_mac,
        router_ip,
        dst_ip,
        IpProtocol::Icmp,
        len,
        |buf| {
            let mut packet = Icmpv4Packet::new_unchecked(buf);
            repr.emit(&mut packet, ChecksumCaps::default());
            packet.set_next_hop_mtu(next_hop_mtu);
            packet.fill_checksum();
        },
    )
}

/// What a router quotes of a frame it could not forward: the IPv4 header and 8 bytes.
pub fn quote(frame: &[u8]) -> Vec<u8> {
    frame[14..14 + 28].to_vec()
}

/// The TCP segment inside an Ethernet frame we built or captured (no IP options), if any.
pub fn tcp_of(frame: &[u8]) -> Option<TcpRepr<'_>> {
    let ip = Ipv4Packet::new_checked(frame.get(14..)?).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let end = 14 + usize::from(ip.total_len());
    TcpRepr::parse(frame.get(34..end)?, src, dst, ChecksumCaps::default()).ok()
}

/// Queues `frame` on `port` (sent at the next flush).
pub fn inject(port: &mut dyn PacketIo, frame: &[u8]) {
    let n = frame.len();
    assert!(
        port.tx(n, &mut |buf| {
            buf[..n].copy_from_slice(frame);
            n
        }),
        "no transmit buffer"
    );
}

/// Takes and discards everything `port` received; returns how many frames.
pub fn drain(port: &mut dyn PacketIo) -> usize {
    let mut total = 0;
    loop {
        let n = port.rx_burst(256, &mut |_| {});
        total += n;
        if n == 0 {
            return total;
        }
    }
}

/// Connects `c` (a client socket of `p`, its options already set) to the server while the
/// network drops every SYN; returns the error the connect ends with and how long after the
/// first SYN it came.
pub fn unanswered_connect(p: &crate::common::SimPair, c: mtcp::SockId) -> (i32, Duration) {
    use mtcp::consts::{SOL_SOCKET, SO_ERROR};
    p.net.fabric().drop_next(usize::MAX, |frame| {
        tcp_of(frame).is_some_and(|t| t.flags.syn())
    });
    let start = p.net.now();
    let connecting = p.client.connect(c, p.server_addr).unwrap_err();
    assert_eq!(
        connecting.raw_os_error(),
        Some(mtcp::Errno::EINPROGRESS.raw())
    );
    let mut error = 0;
    assert!(p.net.run_until(Duration::from_secs(300), &mut || {
        error = p.client.getsockopt(c, SOL_SOCKET, SO_ERROR).unwrap();
        error != 0
    }));
    (error, p.net.now() - start)
}
