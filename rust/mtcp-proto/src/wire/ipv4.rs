//! IPv4 header (RFC 791 §3.1), with the receive checks of RFC 1122 §3.2.1.
//!
//! mtcp sends only unfragmented datagrams without options. On receive it accepts options (and
//! skips them) but rejects fragments: reassembly is not implemented, and TCP avoids
//! fragmentation by its MSS (RFC 9293 §3.7.1).
use core::fmt;
use core::net::Ipv4Addr;

use super::checksum;
use super::{ChecksumCaps, Error, Result};

/// The protocol field of an IPv4 header (IANA "Assigned Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// ICMP, 1 (RFC 792).
    Icmp,
    /// TCP, 6 (RFC 9293).
    Tcp,
    /// UDP, 17 (RFC 768).
    Udp,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> IpProtocol {
        match value {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> u8 {
        match value {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(n) => write!(f, "protocol {n}"),
        }
    }
}

/// Byte ranges of the fixed header (RFC 791 §3.1, "Internet Header Format").
mod field {
    use core::ops::Range;

    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const TOTAL_LEN: Range<usize> = 2..4;
    pub(super) const IDENT: Range<usize> = 4..6;
    pub(super) const FLAGS_FRAG: Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Range<usize> = 10..12;
    pub(super) const SRC_ADDR: Range<usize> = 12..16;
    pub(super) const DST_ADDR: Range<usize> = 16..20;
}

/// "Don't Fragment" bit of the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
/// "More Fragments" bit of the flags/fragment-offset word.
const FLAG_MF: u16 = 0x2000;
/// Fragment offset, in units of 8 octets.
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A read/write view of an IPv4 datagram over a byte buffer.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checks; accessors may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header, its options and `total_len` bytes fit in the buffer, so that no
    /// accessor panics. A buffer longer than `total_len` is fine (Ethernet pads short frames).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < Ipv4Repr::HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < Ipv4Repr::HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < header_len {
            return Err(Error::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::Malformed);
        }
        if len < total_len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field; 4 for IPv4.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Internet Header Length in 32-bit words (5 without options).
    pub fn ihl(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] & 0x0f
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// Differentiated Services Code Point (RFC 2474 §3).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit Congestion Notification bits (RFC 3168 §5).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total Length: header plus data, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::TOTAL_LEN])
    }

    /// Identification, used to reassemble fragments (RFC 6864 for atomic datagrams).
    pub fn ident(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::IDENT])
    }

    /// Whether the "Don't Fragment" flag is set.
    pub fn dont_frag(&self) -> bool {
        read_u16(&self.buffer.as_ref()[field::FLAGS_FRAG]) & FLAG_DF != 0
    }

    /// Whether the "More Fragments" flag is set.
    pub fn more_frags(&self) -> bool {
        read_u16(&self.buffer.as_ref()[field::FLAGS_FRAG]) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (read_u16(&self.buffer.as_ref()[field::FLAGS_FRAG]) & FRAG_OFFSET_MASK) << 3
    }

    /// Time To Live, the IPv4 hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        read_addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        read_addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// The options bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[Ipv4Repr::HEADER_LEN..self.header_len()]
    }

    /// Whether the header checksum is correct (RFC 791 §3.1, "Header Checksum").
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The data after the header, cut to `total_len` (Ethernet padding is dropped).
    pub fn payload(&self) -> &'a [u8] {
        let buffer = self.buffer.as_ref();
        &buffer[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, version: u8) {
        let byte = &mut self.buffer.as_mut()[field::VER_IHL];
        *byte = (*byte & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes (a multiple of 4, 20..=60).
    pub fn set_header_len(&mut self, len: usize) {
        let byte = &mut self.buffer.as_mut()[field::VER_IHL];
        *byte = (*byte & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP (RFC 2474).
    pub fn set_dscp(&mut self, dscp: u8) {
        let byte = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *byte = (*byte & 0x03) | (dscp << 2);
    }

    /// Sets the ECN bits (RFC 3168).
    pub fn set_ecn(&mut self, ecn: u8) {
        let byte = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *byte = (*byte & 0xfc) | (ecn & 0x03);
    }

    /// Sets the Total Length.
    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::TOTAL_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the Identification.
    pub fn set_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    }

    fn set_flags_frag_bits(&mut self, mask: u16, bits: u16) {
        let range = field::FLAGS_FRAG;
        let word = read_u16(&self.buffer.as_ref()[range.clone()]);
        let word = (word & !mask) | (bits & mask);
        self.buffer.as_mut()[range].copy_from_slice(&word.to_be_bytes());
    }

    /// Sets or clears "Don't Fragment".
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flags_frag_bits(FLAG_DF, if value { FLAG_DF } else { 0 });
    }

    /// Sets or clears "More Fragments".
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flags_frag_bits(FLAG_MF, if value { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (must be a multiple of 8).
    pub fn set_frag_offset(&mut self, offset: u16) {
        self.set_flags_frag_bits(FRAG_OFFSET_MASK, offset >> 3);
    }

    /// Sets the Time To Live.
    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol of the payload.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.into();
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes and stores the header checksum (the header length must already be set).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::data(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(!sum);
    }

    /// The data after the header, up to `total_len`.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The meaning of an IPv4 header that mtcp acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub next_header: IpProtocol,
    /// Payload length in bytes (`total_len` minus the header).
    pub payload_len: usize,
    /// Time To Live.
    pub hop_limit: u8,
}

impl Ipv4Repr {
    /// Length of a header without options.
    pub const HEADER_LEN: usize = 20;

    /// Parses and validates a header (RFC 1122 §3.2.1.1–3.2.1.3): version 4, a header length of
    /// at least 20 bytes that fits, `total_len` covering the header and fitting in the buffer,
    /// and, when `caps.rx`, the checksum. Options are skipped. Fragments are
    /// [`Error::Unsupported`] because mtcp does not reassemble.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&T>,
        caps: ChecksumCaps,
    ) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        if caps.rx && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Unsupported);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            hop_limit: packet.hop_limit(),
        })
    }

    /// Length of the header [`emit`](Self::emit) writes.
    pub const fn header_len(&self) -> usize {
        Self::HEADER_LEN
    }

    /// Length of the whole datagram: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload_len
    }

    /// Writes a 20-byte header with identification 0 and DF set (an atomic datagram, for which
    /// RFC 6864 §4.1 allows any identification), filling the checksum when `caps.tx`.
    /// The payload is written by the caller through [`Ipv4Packet::payload_mut`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
        caps: ChecksumCaps,
    ) {
        self.emit_with_ident(packet, 0, caps);
    }

    /// Like [`emit`](Self::emit), with a given identification.
    ///
    /// # Panics
    /// If the buffer is shorter than 20 bytes, or `payload_len` does not fit in 16 bits.
    pub fn emit_with_ident<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
        ident: u16,
        caps: ChecksumCaps,
    ) {
        let total_len = u16::try_from(self.buffer_len()).expect("IPv4 payload_len over 65515");
        packet.set_version(4);
        packet.set_header_len(Self::HEADER_LEN);
        packet.buffer.as_mut()[field::DSCP_ECN] = 0;
        packet.set_total_len(total_len);
        packet.set_ident(ident);
        packet.buffer.as_mut()[field::FLAGS_FRAG].copy_from_slice(&FLAG_DF.to_be_bytes());
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        if caps.tx {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn read_addr(bytes: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// 10.0.0.1 → 10.0.0.2, ICMP echo request (21 bytes), ident 0x1c46, DF, TTL 64.
    static ICMP_DATAGRAM: [u8; 41] = [
        0x45, 0x00, 0x00, 0x29, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x8c, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x24, 0x6c, 0x12, 0x34, 0x00, 0x01, 0x6d, 0x74,
        0x63, 0x70, 0x2d, 0x70, 0x69, 0x6e, 0x67, 0x21, 0x78, 0x79, 0x7a,
    ];

    /// 192.168.1.10 → 192.168.1.20, UDP, TTL 1, with a Router Alert option (RFC 2113), ihl 6.
    static WITH_OPTIONS: [u8; 36] = [
        0x46, 0x00, 0x00, 0x24, 0xbe, 0xef, 0x40, 0x00, 0x01, 0x11, 0xa2, 0x66, 0xc0, 0xa8, 0x01,
        0x0a, 0xc0, 0xa8, 0x01, 0x14, 0x94, 0x04, 0x00, 0x00, 0x12, 0x34, 0x00, 0x35, 0x00, 0x0c,
        0x00, 0x00, 0x61, 0x62, 0x63, 0x64,
    ];

    fn icmp_repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            next_header: IpProtocol::Icmp,
            payload_len: 21,
            hop_limit: 64,
        }
    }

    #[test]
    fn accessors_read_fields() {
        let packet = Ipv4Packet::new_checked(&ICMP_DATAGRAM[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.ihl(), 5);
        assert_eq!(packet.dscp(), 0);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.total_len(), 41);
        assert_eq!(packet.ident(), 0x1c46);
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.next_header(), IpProtocol::Icmp);
        assert_eq!(packet.checksum(), 0x0a8c);
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &ICMP_DATAGRAM[20..]);
    }

    #[test]
    fn parse_real_datagram() {
        let packet = Ipv4Packet::new_checked(&ICMP_DATAGRAM[..]).unwrap();
        assert_eq!(
            Ipv4Repr::parse(&packet, ChecksumCaps::default()),
            Ok(icmp_repr())
        );
    }

    #[test]
    fn emit_matches_real_datagram_and_round_trips() {
        let repr = icmp_repr();
        let mut buf = [0u8; 41];
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        repr.emit_with_ident(&mut packet, 0x1c46, ChecksumCaps::default());
        packet.payload_mut().copy_from_slice(&ICMP_DATAGRAM[20..]);
        assert_eq!(buf, ICMP_DATAGRAM);

        let mut buf = [0u8; 41];
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut packet, ChecksumCaps::default());
        assert_eq!(packet.ident(), 0);
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&packet, ChecksumCaps::default()), Ok(repr));
        assert_eq!(repr.buffer_len(), 41);
    }

    #[test]
    fn emit_without_tx_caps_leaves_checksum_zero() {
        let mut buf = [0xffu8; 41];
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        icmp_repr().emit(
            &mut packet,
            ChecksumCaps {
                rx: true,
                tx: false,
            },
        );
        assert_eq!(packet.checksum(), 0);
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            Ipv4Repr::parse(&packet, ChecksumCaps::default()),
            Err(Error::Checksum)
        );
        assert_eq!(
            Ipv4Repr::parse(
                &packet,
                ChecksumCaps {
                    rx: false,
                    tx: false
                }
            ),
            Ok(icmp_repr())
        );
    }

    #[test]
    fn options_are_skipped() {
        let packet = Ipv4Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(packet.payload(), &WITH_OPTIONS[24..]);
        let repr = Ipv4Repr::parse(&packet, ChecksumCaps::default()).unwrap();
        assert_eq!(
            repr,
            Ipv4Repr {
                src_addr: Ipv4Addr::new(192, 168, 1, 10),
                dst_addr: Ipv4Addr::new(192, 168, 1, 20),
                next_header: IpProtocol::Udp,
                payload_len: 12,
                hop_limit: 1,
            }
        );
    }

    #[test]
    fn ethernet_padding_is_cut_from_payload() {
        let mut padded = [0u8; 60];
        padded[..41].copy_from_slice(&ICMP_DATAGRAM);
        padded[41..].fill(0xee);
        let packet = Ipv4Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.payload(), &ICMP_DATAGRAM[20..]);
        assert_eq!(
            Ipv4Repr::parse(&packet, ChecksumCaps::default()),
            Ok(icmp_repr())
        );
    }

    #[test]
    fn checksum_mismatch_detected() {
        for at in 0..20 {
            if field::CHECKSUM.contains(&at) {
                continue;
            }
            let mut bad = ICMP_DATAGRAM;
            bad[at] ^= 0x10;
            // Some flips also break a length or version check; all must fail.
            let result = Ipv4Packet::new_checked(&bad[..])
                .and_then(|p| Ipv4Repr::parse(&p, ChecksumCaps::default()));
            assert!(result.is_err(), "flip at {at} accepted");
        }
        let mut bad = ICMP_DATAGRAM;
        bad[15] ^= 0x01; // the source address: only the checksum can notice
        let packet = Ipv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(
            Ipv4Repr::parse(&packet, ChecksumCaps::default()),
            Err(Error::Checksum)
        );
    }

    /// Rewrites a byte of the header and fixes the checksum so only the field check can fail.
    fn patched(at: usize, value: u8) -> [u8; 41] {
        let mut buf = ICMP_DATAGRAM;
        buf[at] = value;
        buf[field::CHECKSUM].fill(0);
        let sum = !checksum::data(&buf[..Ipv4Repr::HEADER_LEN]);
        buf[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        buf
    }

    #[test]
    fn bad_fields_rejected() {
        let parse = |buf: &[u8]| {
            Ipv4Packet::new_checked(buf).and_then(|p| Ipv4Repr::parse(&p, ChecksumCaps::default()))
        };
        // Version 6.
        assert_eq!(parse(&patched(0, 0x65)), Err(Error::Malformed));
        // IHL 4 (shorter than the fixed header).
        assert_eq!(parse(&patched(0, 0x44)), Err(Error::Malformed));
        // IHL 15 → 60-byte header, longer than the buffer.
        assert_eq!(parse(&patched(0, 0x4f)), Err(Error::Truncated));
        // total_len 19 < header length.
        assert_eq!(parse(&patched(3, 19)), Err(Error::Malformed));
        // total_len 42 > buffer.
        assert_eq!(parse(&patched(3, 42)), Err(Error::Truncated));
        // More fragments.
        assert_eq!(parse(&patched(6, 0x20)), Err(Error::Unsupported));
        // Fragment offset 8.
        assert_eq!(parse(&patched(7, 0x01)), Err(Error::Unsupported));
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0u8; 28];
        let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
        packet.set_version(4);
        packet.set_header_len(20);
        packet.set_dscp(46);
        packet.set_ecn(2);
        packet.set_total_len(28);
        packet.set_ident(0xabcd);
        packet.set_dont_frag(false);
        packet.set_more_frags(true);
        packet.set_frag_offset(1480);
        packet.set_hop_limit(7);
        packet.set_next_header(IpProtocol::Unknown(253));
        packet.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
        packet.set_dst_addr(Ipv4Addr::new(5, 6, 7, 8));
        packet.payload_mut().copy_from_slice(b"payload!");
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), 2);
        assert_eq!(packet.ident(), 0xabcd);
        assert!(!packet.dont_frag());
        assert!(packet.more_frags());
        assert_eq!(packet.frag_offset(), 1480);
        assert_eq!(packet.hop_limit(), 7);
        assert_eq!(packet.next_header(), IpProtocol::Unknown(253));
        assert_eq!(packet.src_addr(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(5, 6, 7, 8));
        assert_eq!(packet.payload(), b"payload!");
        assert!(packet.verify_checksum());
    }

    #[test]
    fn protocol_numbers_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(n)), n);
        }
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
    }

    #[test]
    fn prefixes_and_random_bytes_never_panic() {
        let parse = |buf: &[u8]| {
            Ipv4Packet::new_checked(buf).and_then(|p| Ipv4Repr::parse(&p, ChecksumCaps::default()))
        };
        for len in 0..ICMP_DATAGRAM.len() {
            assert!(
                parse(&ICMP_DATAGRAM[..len]).is_err(),
                "prefix {len} accepted"
            );
        }
        for len in 0..WITH_OPTIONS.len() {
            assert!(
                parse(&WITH_OPTIONS[..len]).is_err(),
                "prefix {len} accepted"
            );
        }
        let mut rng = XorShift::new(791);
        let mut buf = [0u8; 80];
        for i in 0..20_000 {
            let len = i % buf.len();
            rng.fill(&mut buf[..len]);
            if len > 0 && i % 2 == 0 {
                buf[0] = 0x45 + (buf[0] & 0x0a); // often a plausible version/IHL
            }
            let _ = parse(&buf[..len]);
            let _ = Ipv4Packet::new_checked(&buf[..len])
                .and_then(|p| {
                    Ipv4Repr::parse(
                        &p,
                        ChecksumCaps {
                            rx: false,
                            tx: false,
                        },
                    )
                })
                .map(|_| Ipv4Packet::new_unchecked(&buf[..len]).payload().len());
        }
    }
}
