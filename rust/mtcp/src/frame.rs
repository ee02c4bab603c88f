//! Frames in and out of a context: classification of received Ethernet frames and the
//! Ethernet + IPv4 framing of what the context sends. All layout knowledge comes from
//! `mtcp_proto::wire`.
use std::net::{Ipv4Addr, SocketAddrV4};

use mtcp_proto::tcp::IcmpError;

use mtcp_proto::wire::{
    AddressSum, ArpOperation, ArpPacket, ArpRepr, ChecksumCaps, Error as WireError, EtherType,
    EthernetAddress, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet,
    Ipv4Repr, SeqNumber, TcpPacket, TcpRepr, TcpTimestamp,
};

/// Ethernet (14) + IPv4 without options (20): where the TCP segment starts in a frame we build.
pub(crate) const ETH_IP_HEADERS: usize = EthernetRepr::HEADER_LEN + Ipv4Repr::HEADER_LEN;

/// What a received frame is, for this host.
pub(crate) enum Parsed<'a> {
    Tcp {
        src_mac: [u8; 6],
        src_ip: Ipv4Addr,
        segment: TcpRepr<'a>,
    },
    ArpRequest {
        sender_mac: [u8; 6],
        sender_ip: Ipv4Addr,
        for_us: bool,
    },
    ArpReply {
        sender_mac: [u8; 6],
        sender_ip: Ipv4Addr,
    },
    EchoRequest {
        src_mac: [u8; 6],
        src_ip: Ipv4Addr,
        icmp: Icmpv4Repr<'a>,
    },
    /// An ICMP error (RFC 5927) quoting a TCP segment this host sent: which connection (the
    /// quoted destination and ports) and the quoted sequence number.
    IcmpError {
        error: IcmpError,
        remote: SocketAddrV4,
        local_port: u16,
        seq: SeqNumber,
    },
    /// Not for us, or a protocol we ignore on purpose (IPv6, other hosts' unicast).
    Ignored,
    /// Not acceptable, for the reason given: counted as a drop.
    Dropped(DropReason),
}

/// Why a received frame was dropped (each has its own counter in the context's stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// Cut short, inconsistent lengths, a bad version or header length, an unknown ARP
    /// operation (RFC 1122 §3.2.1.1–3.2.1.2).
    Malformed,
    /// A wrong IPv4, TCP or ICMP checksum (RFC 1071).
    BadChecksum,
    /// An IPv4 fragment: mtcp does not reassemble (RFC 791 §3.2), as mTCP.
    Fragment,
}

impl DropReason {
    fn of(error: WireError) -> DropReason {
        match error {
            WireError::Checksum => DropReason::BadChecksum,
            _ => DropReason::Malformed,
        }
    }
}

/// Ethernet + IPv4 without options + TCP whose only option is the timestamps option in the
/// layout Linux and mtcp send (NOP, NOP, kind 8, length 10; RFC 7323 Appendix A).
const PLAIN_TCP_HEADERS: usize = ETH_IP_HEADERS + 20 + 12;

/// A TCP segment from `src_mac` / `src_ip`, as [`parse_plain_tcp`] reads it.
pub(crate) struct PlainTcp<'a> {
    pub(crate) src_mac: [u8; 6],
    pub(crate) src_ip: Ipv4Addr,
    pub(crate) segment: TcpRepr<'a>,
}

/// The frame of nearly every segment of an established connection, tried before [`parse`]:
/// unicast to us, IPv4 without options and not a fragment, TCP with the timestamps option
/// alone. Its headers sit at fixed offsets, so one length check and a few byte compares
/// replace the layer-by-layer checks, and the repr is read in one pass, without the
/// classification enum. `None` for anything else, including a bad checksum when `caps.rx`
/// (so that every drop keeps its reason in `parse`). Debug builds compare each answer with
/// `parse`'s.
#[inline]
pub(crate) fn parse_plain_tcp(
    frame: &[u8],
    mac: [u8; 6],
    ip: Ipv4Addr,
    caps: ChecksumCaps,
) -> Option<PlainTcp<'_>> {
    let plain = read_plain_tcp(frame, mac, ip, caps)?;
    debug_assert!(
        same_tcp(&plain, &parse(frame, mac, ip, caps)),
        "the plain-TCP parse differs from the layered one"
    );
    Some(plain)
}

#[inline(always)]
fn read_plain_tcp(
    frame: &[u8],
    mac: [u8; 6],
    ip: Ipv4Addr,
    caps: ChecksumCaps,
) -> Option<PlainTcp<'_>> {
    const ETH: usize = EthernetRepr::HEADER_LEN;
    let h: &[u8; PLAIN_TCP_HEADERS] = frame.first_chunk()?;
    let total_len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let plain = h[..6] == mac
        && h[12..14] == [0x08, 0x00] // EtherType IPv4
        && h[14] == 0x45 // version 4, header length 20: no options
        && u16::from_be_bytes([h[20], h[21]]) & 0x3fff == 0 // not a fragment (MF, offset)
        && h[23] == 6 // TCP
        && h[30..34] == ip.octets()
        && h[46] >> 4 == 8 // TCP data offset: 32 bytes, 12 of options
        && h[54..58] == [1, 1, 8, 10] // NOP, NOP, timestamps
        && total_len >= PLAIN_TCP_HEADERS - ETH
        && ETH + total_len <= frame.len();
    if !plain {
        return None;
    }
    let datagram = &frame[ETH..ETH + total_len];
    let segment = &datagram[Ipv4Repr::HEADER_LEN..];
    let src_ip = Ipv4Addr::new(h[26], h[27], h[28], h[29]);
    if caps.rx
        && !(Ipv4Packet::new_unchecked(datagram).verify_checksum()
            && TcpPacket::new_unchecked(segment).verify_checksum(src_ip, ip))
    {
        return None;
    }
    let tcp = TcpPacket::new_unchecked(segment);
    let read_u32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    Some(PlainTcp {
        src_mac: [h[6], h[7], h[8], h[9], h[10], h[11]],
        src_ip,
        segment: TcpRepr {
            src_port: tcp.src_port(),
            dst_port: tcp.dst_port(),
            seq_number: tcp.seq_number(),
            ack_number: tcp.ack_number(),
            flags: tcp.flags(),
            window_len: tcp.window_len(),
            urgent_pointer: tcp.urgent_pointer(),
            timestamp: Some(TcpTimestamp {
                tsval: read_u32(58),
                tsecr: read_u32(62),
            }),
            payload: &segment[PLAIN_TCP_HEADERS - ETH_IP_HEADERS..],
            ..TcpRepr::new(0, 0)
        },
    })
}

/// Debug builds: whether `parse` classified the frame as the same TCP segment.
fn same_tcp(plain: &PlainTcp<'_>, parsed: &Parsed<'_>) -> bool {
    match parsed {
        Parsed::Tcp {
            src_mac,
            src_ip,
            segment,
        } => {
            plain.src_mac == *src_mac
                && plain.src_ip == *src_ip
                && plain.segment == *segment
                && plain.segment.payload.as_ptr() == segment.payload.as_ptr()
        }
        _ => false,
    }
}

/// Classifies a frame received by a host with `mac` and `ip`, layer by layer: Ethernet,
/// then ARP or IPv4, then TCP or ICMP. The caller tries [`parse_plain_tcp`] first.
pub(crate) fn parse(frame: &[u8], mac: [u8; 6], ip: Ipv4Addr, caps: ChecksumCaps) -> Parsed<'_> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Parsed::Dropped(DropReason::Malformed);
    };
    let dst = eth.dst_addr();
    if dst.0 != mac && !dst.is_broadcast() {
        return Parsed::Ignored;
    }
    let src_mac = eth.src_addr().0;
    match eth.ethertype() {
        EtherType::Arp => {
            let Ok(packet) = ArpPacket::new_checked(eth.payload()) else {
                return Parsed::Dropped(DropReason::Malformed);
            };
            let Ok(arp) = ArpRepr::parse(&packet) else {
                return Parsed::Dropped(DropReason::Malformed);
            };
            let sender_mac = arp.source_hardware_addr.0;
            let sender_ip = arp.source_protocol_addr;
            match arp.operation {
                ArpOperation::Request => Parsed::ArpRequest {
                    sender_mac,
                    sender_ip,
                    for_us: arp.target_protocol_addr == ip,
                },
                ArpOperation::Reply => Parsed::ArpReply {
                    sender_mac,
                    sender_ip,
                },
                _ => Parsed::Dropped(DropReason::Malformed),
            }
        }
        EtherType::Ipv4 => {
            let Ok(packet) = Ipv4Packet::new_checked(eth.payload()) else {
                return Parsed::Dropped(DropReason::Malformed);
            };
            let ipv4 = match Ipv4Repr::parse(&packet, caps) {
                Ok(ipv4) => ipv4,
                // Ipv4Repr::parse's only Unsupported case: a fragment.
                Err(WireError::Unsupported) => return Parsed::Dropped(DropReason::Fragment),
                Err(e) => return Parsed::Dropped(DropReason::of(e)),
            };
            if ipv4.dst_addr != ip {
                return Parsed::Ignored;
            }
            let payload = packet.payload();
            match ipv4.next_header {
                IpProtocol::Tcp => {
                    match TcpRepr::parse(payload, ipv4.src_addr, ipv4.dst_addr, caps) {
                        Ok(segment) => Parsed::Tcp {
                            src_mac,
                            src_ip: ipv4.src_addr,
                            segment,
                        },
                        Err(e) => Parsed::Dropped(DropReason::of(e)),
                    }
                }
                IpProtocol::Icmp => {
                    let Ok(packet) = Icmpv4Packet::new_checked(payload) else {
                        return Parsed::Dropped(DropReason::Malformed);
                    };
                    match Icmpv4Repr::parse(&packet, caps) {
                        Ok(icmp @ Icmpv4Repr::EchoRequest { .. }) => Parsed::EchoRequest {
                            src_mac,
                            src_ip: ipv4.src_addr,
                            icmp,
                        },
                        Ok(Icmpv4Repr::DstUnreachable { code, header }) => {
                            let error = IcmpError::DstUnreachable {
                                code,
                                next_hop_mtu: packet.next_hop_mtu(),
                            };
                            quoted_tcp(header, ip, error)
                        }
                        Ok(Icmpv4Repr::TimeExceeded { header, .. }) => {
                            quoted_tcp(header, ip, IcmpError::TimeExceeded)
                        }
                        Ok(_) => Parsed::Ignored,
                        Err(e) => Parsed::Dropped(DropReason::of(e)),
                    }
                }
                _ => Parsed::Ignored,
            }
        }
        _ => Parsed::Ignored,
    }
}

/// The connection an ICMP error is about: `quoted` is the offending datagram's IPv4 header
/// and at least 8 bytes of its payload (RFC 792), which must be a TCP segment from us.
fn quoted_tcp(quoted: &[u8], ip: Ipv4Addr, error: IcmpError) -> Parsed<'_> {
    if quoted.len() < Ipv4Repr::HEADER_LEN {
        return Parsed::Dropped(DropReason::Malformed);
    }
    let packet = Ipv4Packet::new_unchecked(quoted);
    let header_len = packet.header_len();
    if packet.version() != 4 || header_len < Ipv4Repr::HEADER_LEN || quoted.len() < header_len + 8 {
        return Parsed::Dropped(DropReason::Malformed);
    }
    if packet.next_header() != IpProtocol::Tcp || packet.src_addr() != ip {
        return Parsed::Ignored;
    }
    // Only the first 8 bytes are sure to be there: ports and sequence number.
    let tcp = TcpPacket::new_unchecked(&quoted[header_len..]);
    Parsed::IcmpError {
        error,
        remote: SocketAddrV4::new(packet.dst_addr(), tcp.dst_port()),
        local_port: tcp.src_port(),
        seq: tcp.seq_number(),
    }
}

/// Writes Ethernet and IPv4 headers in front of a TCP segment of `tcp_len` bytes that already
/// sits at `buf[ETH_IP_HEADERS..]`. `addresses` is `AddressSum::new(src_ip, dst_ip)`, kept by
/// the caller (a connection sums its addresses once); debug builds check it.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn write_headers(
    buf: &mut [u8],
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    addresses: AddressSum,
    ident: u16,
    tcp_len: usize,
) {
    debug_assert_eq!(
        addresses,
        AddressSum::new(src_ip, dst_ip),
        "address sum for other addresses"
    );
    // Every data segment and ACK goes through here: the 34 header bytes are written directly
    // (the same bytes as `write_ip_frame` with TCP: version 4, IHL 5, DF, TTL 64) and the
    // header checksum (RFC 791, RFC 1071) is the sum of its ten words: five constant, four
    // the addresses (summed beforehand), with length and identification. At most
    // 0xc506 + 6 * 0xffff, below 2^19: two folds suffice.
    let total_len = u16::try_from(Ipv4Repr::HEADER_LEN + tcp_len).unwrap_or(u16::MAX);
    let (src, dst) = (u32::from(src_ip), u32::from(dst_ip));
    let mut sum = 0x4500 + 0x4000 + 0x4006 + u32::from(total_len) + u32::from(ident);
    sum += addresses.get();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let h = &mut buf[..ETH_IP_HEADERS];
    h[0..6].copy_from_slice(&dst_mac);
    h[6..12].copy_from_slice(&src_mac);
    h[12..16].copy_from_slice(&[0x08, 0x00, 0x45, 0]);
    h[16..18].copy_from_slice(&total_len.to_be_bytes());
    h[18..20].copy_from_slice(&ident.to_be_bytes());
    h[20..24].copy_from_slice(&[0x40, 0, 64, 6]);
    h[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h[26..30].copy_from_slice(&src.to_be_bytes());
    h[30..34].copy_from_slice(&dst.to_be_bytes());
}

#[allow(clippy::too_many_arguments)]
fn write_ip_frame(
    buf: &mut [u8],
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    protocol: IpProtocol,
    payload_len: usize,
) {
    let eth = EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EtherType::Ipv4,
    };
    eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    let ip = Ipv4Repr {
        src_addr: src_ip,
        dst_addr: dst_ip,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
    };
    let mut packet = Ipv4Packet::new_unchecked(&mut buf[EthernetRepr::HEADER_LEN..]);
    ip.emit_with_ident(&mut packet, ident, ChecksumCaps::default());
}

/// Builds an ARP request (`op` 1, to broadcast) or reply (`op` 2) into `buf`.
pub(crate) fn build_arp(
    buf: &mut Vec<u8>,
    op: u16,
    src_mac: [u8; 6],
    src_ip: Ipv4Addr,
    target_mac: [u8; 6],
    target_ip: Ipv4Addr,
) {
    buf.clear();
    // 60 bytes: the Ethernet minimum without FCS.
    buf.resize(60, 0);
    let (operation, eth_dst, arp_target) = if op == 1 {
        (ArpOperation::Request, [0xff; 6], [0; 6])
    } else {
        (ArpOperation::Reply, target_mac, target_mac)
    };
    EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(eth_dst),
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    ArpRepr {
        operation,
        source_hardware_addr: EthernetAddress(src_mac),
        source_protocol_addr: src_ip,
        target_hardware_addr: EthernetAddress(arp_target),
        target_protocol_addr: target_ip,
    }
    .emit(&mut ArpPacket::new_unchecked(
        &mut buf[EthernetRepr::HEADER_LEN..],
    ));
}

/// Builds the echo reply to `request` (RFC 792); false when the request is too large.
pub(crate) fn build_echo_reply(
    buf: &mut Vec<u8>,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    request: Icmpv4Repr<'_>,
) -> bool {
    let Icmpv4Repr::EchoRequest {
        ident: id,
        seq_no,
        data,
    } = request
    else {
        return false;
    };
    let reply = Icmpv4Repr::EchoReply {
        ident: id,
        seq_no,
        data,
    };
    let len = reply.buffer_len();
    // No port carries an IP packet over `MAX_MTU` (a jumbo in-memory link); the port's own
    // `tx` refuses a frame longer than its buffers.
    if Ipv4Repr::HEADER_LEN + len > mtcp_io::MAX_MTU {
        return false;
    }
    buf.clear();
    buf.resize((ETH_IP_HEADERS + len).max(60), 0);
    write_ip_frame(
        buf,
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        ident,
        IpProtocol::Icmp,
        len,
    );
    let payload = &mut buf[ETH_IP_HEADERS..ETH_IP_HEADERS + len];
    reply.emit(
        &mut Icmpv4Packet::new_unchecked(payload),
        ChecksumCaps::default(),
    );
    true
}

/// Builds a frame carrying a TCP segment the connection layer doesn't own (a RST, a SYN
/// cookie's SYN-ACK); `partial_checksum` for a port that finishes TCP checksums.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_tcp(
    buf: &mut Vec<u8>,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    segment: &TcpRepr<'_>,
    partial_checksum: bool,
) {
    let tcp_len = segment.header_len() + segment.payload.len();
    buf.clear();
    buf.resize((ETH_IP_HEADERS + tcp_len).max(60), 0);
    let tcp = &mut buf[ETH_IP_HEADERS..ETH_IP_HEADERS + tcp_len];
    let header_len = segment.emit_header(tcp);
    tcp[header_len..].copy_from_slice(segment.payload);
    if partial_checksum {
        TcpRepr::fill_partial_checksum(tcp, src_ip, dst_ip);
    } else {
        TcpRepr::fill_checksum(tcp, src_ip, dst_ip);
    }
    let addresses = AddressSum::new(src_ip, dst_ip);
    write_headers(
        buf, src_mac, dst_mac, src_ip, dst_ip, addresses, ident, tcp_len,
    );
}

#[cfg(test)]
mod test {
    use super::*;

    const US_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// A frame from the peer to us carrying `segment`, checksums filled.
    fn tcp_frame(segment: &TcpRepr<'_>) -> Vec<u8> {
        let mut frame = Vec::new();
        build_tcp(&mut frame, PEER_MAC, US_MAC, PEER, US, 7, segment, false);
        frame
    }

    fn segment(payload: &[u8]) -> TcpRepr<'_> {
        TcpRepr {
            seq_number: SeqNumber(0x0102_0304),
            ack_number: SeqNumber(0xa0b0_c0d0),
            flags: mtcp_proto::wire::TcpFlags::ACK | mtcp_proto::wire::TcpFlags::PSH,
            window_len: 0x1234,
            timestamp: Some(TcpTimestamp {
                tsval: 0x1122_3344,
                tsecr: 0x5566_7788,
            }),
            payload,
            ..TcpRepr::new(49_500, 80)
        }
    }

    /// The plain-TCP parse takes the segment of an established connection (with or without
    /// data, with Ethernet padding) and reads exactly what the layered parse reads.
    #[test]
    fn plain_tcp_parse_reads_what_the_layered_parse_reads() {
        let data = [0x5au8; 64];
        for payload in [&data[..], &data[..1], &[][..]] {
            let frame = tcp_frame(&segment(payload));
            for caps in [
                ChecksumCaps::default(),
                ChecksumCaps {
                    rx: false,
                    tx: true,
                },
            ] {
                let fast = read_plain_tcp(&frame, US_MAC, US, caps).expect("plain");
                let layered = parse(&frame, US_MAC, US, caps);
                assert!(same_tcp(&fast, &layered));
                assert_eq!(fast.segment, segment(payload));
                assert_eq!((fast.src_mac, fast.src_ip), (PEER_MAC, PEER));
            }
        }
    }

    /// Every frame the plain-TCP parse must leave to the layered one: other options, IPv4
    /// options, a fragment, not for us, broadcast, cut short, a bad checksum.
    #[test]
    fn plain_tcp_parse_leaves_every_other_frame() {
        let caps = ChecksumCaps::default();
        let plain = tcp_frame(&segment(b"x"));
        let with_sack = tcp_frame(&TcpRepr {
            sack_ranges: [Some((SeqNumber(1), SeqNumber(2))), None, None],
            ..segment(b"x")
        });
        let without_options = tcp_frame(&TcpRepr {
            timestamp: None,
            ..segment(b"x")
        });
        let mut fragment = plain.clone();
        fragment[20] |= 0x20; // more fragments
        let mut other_mac = plain.clone();
        other_mac[5] = 9;
        let mut broadcast = plain.clone();
        broadcast[..6].copy_from_slice(&[0xff; 6]);
        let mut other_ip = plain.clone();
        other_ip[33] = 9;
        let mut bad_checksum = plain.clone();
        bad_checksum[PLAIN_TCP_HEADERS] ^= 1; // the payload byte
        let mut ip_options = plain.clone();
        ip_options[14] = 0x46;
        let short = plain[..PLAIN_TCP_HEADERS - 1].to_vec();
        let mut long_total = plain.clone();
        long_total[17] = long_total[17].wrapping_add(60);
        for (name, frame) in [
            ("sack", with_sack),
            ("no options", without_options),
            ("fragment", fragment),
            ("other mac", other_mac),
            ("broadcast", broadcast),
            ("other ip", other_ip),
            ("bad checksum", bad_checksum),
            ("ip options", ip_options),
            ("short", short),
            ("total length past the frame", long_total),
        ] {
            assert!(read_plain_tcp(&frame, US_MAC, US, caps).is_none(), "{name}");
        }
        assert!(read_plain_tcp(&plain, US_MAC, US, caps).is_some());
    }

    /// The same headers written by `write_headers` (with `addresses`) and by the generic
    /// Ethernet + IPv4 emitters, over buffers prefilled alike.
    fn headers_both_ways(
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        addresses: AddressSum,
        ident: u16,
        len: usize,
    ) -> ([u8; ETH_IP_HEADERS + 8], [u8; ETH_IP_HEADERS + 8]) {
        let mut direct = [0xeeu8; ETH_IP_HEADERS + 8];
        let mut generic = [0xeeu8; ETH_IP_HEADERS + 8];
        write_headers(
            &mut direct,
            src_mac,
            dst_mac,
            src,
            dst,
            addresses,
            ident,
            len,
        );
        write_ip_frame(
            &mut generic,
            src_mac,
            dst_mac,
            src,
            dst,
            ident,
            IpProtocol::Tcp,
            len,
        );
        (direct, generic)
    }

    /// The direct header writer gives the bytes the generic Ethernet + IPv4 emitters give.
    #[test]
    fn write_headers_matches_generic_emit() {
        let cases = [
            (
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
                [10, 0, 0, 1],
                [10, 0, 0, 2],
                0,
                20,
            ),
            (
                [0xaa; 6],
                [0x55; 6],
                [192, 168, 255, 254],
                [172, 31, 0, 9],
                0xffff,
                1480,
            ),
            (
                [1, 2, 3, 4, 5, 6],
                [6, 5, 4, 3, 2, 1],
                [255; 4],
                [255; 4],
                0x8001,
                84,
            ),
            ([0; 6], [0xff; 6], [0; 4], [0; 4], 7, 0),
        ];
        for (src_mac, dst_mac, src, dst, ident, len) in cases {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let addresses = AddressSum::new(src, dst);
            let (direct, generic) =
                headers_both_ways(src_mac, dst_mac, src, dst, addresses, ident, len);
            assert_eq!(direct, generic);
            let ip = Ipv4Packet::new_unchecked(&direct[EthernetRepr::HEADER_LEN..]);
            assert!(ip.verify_checksum());
        }
    }

    /// The same on random headers: addresses, MACs, identification and length drawn at random,
    /// the address sum worked out beforehand as a connection keeps it.
    #[test]
    fn write_headers_matches_generic_emit_on_random_headers() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let (a, b) = (next(), next());
            let src_mac: [u8; 6] = a.to_be_bytes()[..6].try_into().unwrap();
            let dst_mac: [u8; 6] = b.to_be_bytes()[2..].try_into().unwrap();
            let (src, dst) = (Ipv4Addr::from(a as u32), Ipv4Addr::from((b >> 32) as u32));
            let ident = (a >> 48) as u16;
            let len = (b as usize) % 1481;
            // Summed in the other direction: the sum does not depend on the order.
            let addresses = AddressSum::new(dst, src);
            let (direct, generic) =
                headers_both_ways(src_mac, dst_mac, src, dst, addresses, ident, len);
            assert_eq!(direct, generic, "{src} {dst} {ident} {len}");
        }
    }

    /// An address sum for other addresses is caught by the debug check.
    #[test]
    #[should_panic(expected = "address sum for other addresses")]
    fn write_headers_with_a_stale_address_sum_is_caught() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let stale = AddressSum::new(src, Ipv4Addr::new(10, 0, 0, 3));
        let mut buf = [0u8; ETH_IP_HEADERS];
        write_headers(&mut buf, [2; 6], [4; 6], src, dst, stale, 1, 0);
    }
}
