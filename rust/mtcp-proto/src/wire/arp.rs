//! ARP (RFC 826) for IPv4 over Ethernet: hardware type 1, protocol type 0x0800, 6-byte
//! hardware and 4-byte protocol addresses. Other combinations are [`Error::Unsupported`].
use core::net::Ipv4Addr;

use super::ethernet::EthernetAddress;
use super::{Error, Result};

/// The ARP opcode (RFC 826, "ar$op").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// ares_op$REQUEST, 1.
    Request,
    /// ares_op$REPLY, 2.
    Reply,
    /// Any other opcode (RARP, InARP, …).
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(value: u16) -> ArpOperation {
        match value {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(value: ArpOperation) -> u16 {
        match value {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

/// Hardware type for Ethernet ("ares_hrd$Ethernet").
const HARDWARE_ETHERNET: u16 = 1;
/// Protocol type for IPv4 (its EtherType).
const PROTOCOL_IPV4: u16 = 0x0800;

/// Byte ranges of the fixed part; the addresses follow at offsets that depend on the lengths.
mod field {
    use core::ops::Range;

    pub(super) const HTYPE: Range<usize> = 0..2;
    pub(super) const PTYPE: Range<usize> = 2..4;
    pub(super) const HLEN: usize = 4;
    pub(super) const PLEN: usize = 5;
    pub(super) const OPER: Range<usize> = 6..8;
    pub(super) const ADDRESSES: usize = 8;
}

/// A read/write view of an ARP packet over a byte buffer, for any address lengths.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checks; accessors may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the fixed part and the four addresses (of the stated lengths) fit.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < field::ADDRESSES {
            return Err(Error::Truncated);
        }
        if len < self.target_protocol_range().end {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Hardware address space (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        self.read_u16(field::HTYPE)
    }

    /// Protocol address space (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        self.read_u16(field::PTYPE)
    }

    /// Length of a hardware address in bytes.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Length of a protocol address in bytes.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Opcode.
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(self.read_u16(field::OPER))
    }

    fn source_hardware_range(&self) -> core::ops::Range<usize> {
        let start = field::ADDRESSES;
        start..start + usize::from(self.hardware_len())
    }

    fn source_protocol_range(&self) -> core::ops::Range<usize> {
        let start = self.source_hardware_range().end;
        start..start + usize::from(self.protocol_len())
    }

    fn target_hardware_range(&self) -> core::ops::Range<usize> {
        let start = self.source_protocol_range().end;
        start..start + usize::from(self.hardware_len())
    }

    fn target_protocol_range(&self) -> core::ops::Range<usize> {
        let start = self.target_hardware_range().end;
        start..start + usize::from(self.protocol_len())
    }

    /// Sender hardware address ("ar$sha").
    pub fn source_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.source_hardware_range()]
    }

    /// Sender protocol address ("ar$spa").
    pub fn source_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.source_protocol_range()]
    }

    /// Target hardware address ("ar$tha"); unknown (usually zero) in a request.
    pub fn target_hardware_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.target_hardware_range()]
    }

    /// Target protocol address ("ar$tpa").
    pub fn target_protocol_addr(&self) -> &[u8] {
        &self.buffer.as_ref()[self.target_protocol_range()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn write_u16(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.write_u16(field::HTYPE, value);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.write_u16(field::PTYPE, value);
    }

    /// Sets the hardware address length (set it before the addresses).
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length (set it before the addresses).
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the opcode.
    pub fn set_operation(&mut self, value: ArpOperation) {
        self.write_u16(field::OPER, value.into());
    }

    /// Sets the sender hardware address; `addr` must be `hardware_len` long.
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        let range = self.source_hardware_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the sender protocol address; `addr` must be `protocol_len` long.
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        let range = self.source_protocol_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the target hardware address; `addr` must be `hardware_len` long.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        let range = self.target_hardware_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }

    /// Sets the target protocol address; `addr` must be `protocol_len` long.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        let range = self.target_protocol_range();
        self.buffer.as_mut()[range].copy_from_slice(addr);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: ArpOperation,
    /// Sender MAC address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC address (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Length of an Ethernet/IPv4 ARP packet: 8 + 2 × (6 + 4).
    pub const BUFFER_LEN: usize = 28;

    /// Reads an Ethernet/IPv4 ARP packet; other address spaces are [`Error::Unsupported`].
    /// The opcode is not checked: an unknown one parses as [`ArpOperation::Unknown`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != HARDWARE_ETHERNET
            || packet.protocol_type() != PROTOCOL_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        let mac = |bytes: &[u8]| EthernetAddress::from_bytes(bytes).ok_or(Error::Malformed);
        let ip = |bytes: &[u8]| {
            <[u8; 4]>::try_from(bytes)
                .map(Ipv4Addr::from)
                .map_err(|_| Error::Malformed)
        };
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: mac(packet.source_hardware_addr())?,
            source_protocol_addr: ip(packet.source_protocol_addr())?,
            target_hardware_addr: mac(packet.target_hardware_addr())?,
            target_protocol_addr: ip(packet.target_protocol_addr())?,
        })
    }

    /// Length of the packet [`emit`](Self::emit) writes: 28 bytes.
    pub const fn buffer_len(&self) -> usize {
        Self::BUFFER_LEN
    }

    /// Writes the packet.
    ///
    /// # Panics
    /// If the buffer is shorter than 28 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_hardware_type(HARDWARE_ETHERNET);
        packet.set_protocol_type(PROTOCOL_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(&self.source_hardware_addr.0);
        packet.set_source_protocol_addr(&self.source_protocol_addr.octets());
        packet.set_target_hardware_addr(&self.target_hardware_addr.0);
        packet.set_target_protocol_addr(&self.target_protocol_addr.octets());
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// "who-has 10.0.0.2 tell 10.0.0.1" from 52:54:00:12:34:56.
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    ];

    /// "10.0.0.2 is-at 52:54:00:ab:cd:ef", to 10.0.0.1.
    static REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x0a,
        0x00, 0x00, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x00, 0x01,
    ];

    const MAC_A: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const MAC_B: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);

    fn request() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: MAC_A,
            source_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
        }
    }

    fn reply() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: MAC_B,
            source_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
            target_hardware_addr: MAC_A,
            target_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
        }
    }

    fn parse(buf: &[u8]) -> Result<ArpRepr> {
        ArpPacket::new_checked(buf).and_then(|p| ArpRepr::parse(&p))
    }

    #[test]
    fn parse_real_packets() {
        assert_eq!(parse(&REQUEST), Ok(request()));
        assert_eq!(parse(&REPLY), Ok(reply()));
        let packet = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), 0x0800);
        assert_eq!(packet.target_protocol_addr(), &[10, 0, 0, 2]);
    }

    #[test]
    fn emit_round_trips() {
        for (repr, bytes) in [(request(), REQUEST), (reply(), REPLY)] {
            let mut buf = [0xaau8; 28];
            repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
            assert_eq!(buf, bytes);
            assert_eq!(parse(&buf), Ok(repr));
            assert_eq!(repr.buffer_len(), buf.len());
        }
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&REQUEST);
        assert_eq!(parse(&padded), Ok(request()));
    }

    #[test]
    fn other_address_spaces_unsupported() {
        for (at, value) in [(1, 6), (2, 0x86), (4, 8), (5, 16)] {
            let mut buf = [0u8; 64];
            buf[..28].copy_from_slice(&REQUEST);
            buf[at] = value;
            assert_eq!(parse(&buf), Err(Error::Unsupported), "byte {at} = {value}");
        }
    }

    #[test]
    fn unknown_opcode_parses() {
        let mut buf = REQUEST;
        buf[7] = 9; // InARP reply
        assert_eq!(
            parse(&buf).map(|r| r.operation),
            Ok(ArpOperation::Unknown(9))
        );
    }

    #[test]
    fn prefixes_and_random_bytes_never_panic() {
        for len in 0..REQUEST.len() {
            assert_eq!(
                parse(&REQUEST[..len]),
                Err(Error::Truncated),
                "prefix {len}"
            );
        }
        let mut rng = XorShift::new(826);
        let mut buf = [0u8; 64];
        for i in 0..5000 {
            let len = i % buf.len();
            rng.fill(&mut buf[..len]);
            if let Ok(packet) = ArpPacket::new_checked(&buf[..len]) {
                let _ = packet.target_protocol_addr();
                let _ = ArpRepr::parse(&packet);
            }
        }
    }
}
