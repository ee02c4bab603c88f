//! Ethernet II frames (IEEE 802.3 §3.1.1 with the EtherType interpretation of the length field,
//! RFC 894 for IPv4 over Ethernet). No 802.1Q tags; the FCS is stripped by the NIC.
use core::fmt;
use core::str::FromStr;

use super::{Error, Result};

/// A 48-bit MAC address (IEEE 802 §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The address from its 6 bytes. `None` if `bytes` is not 6 long.
    pub fn from_bytes(bytes: &[u8]) -> Option<EthernetAddress> {
        <[u8; 6]>::try_from(bytes).ok().map(EthernetAddress)
    }

    /// The 6 bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether the group bit (least significant bit of the first octet) is set; broadcast is a
    /// multicast address too.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (unicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the locally-administered bit is set.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;

    /// Parses six colon-separated hex octets, e.g. `02:00:5e:10:00:01`
    /// ([`Error::Malformed`] otherwise).
    fn from_str(s: &str) -> Result<EthernetAddress> {
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or(Error::Malformed)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Malformed);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(EthernetAddress(bytes))
    }
}

/// The EtherType of the payload (IEEE 802 numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// IPv4, 0x0800 (RFC 894).
    Ipv4,
    /// ARP, 0x0806 (RFC 826).
    Arp,
    /// IPv6, 0x86DD (RFC 2464).
    Ipv6,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> EtherType {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> u16 {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Ipv6 => f.write_str("IPv6"),
            EtherType::Unknown(n) => write!(f, "0x{n:04x}"),
        }
    }
}

/// Byte ranges of the Ethernet II header.
mod field {
    use core::ops::{Range, RangeFrom};

    pub(super) const DESTINATION: Range<usize> = 0..6;
    pub(super) const SOURCE: Range<usize> = 6..12;
    pub(super) const ETHERTYPE: Range<usize> = 12..14;
    pub(super) const PAYLOAD: RangeFrom<usize> = 14..;
}

/// A read/write view of an Ethernet II frame over a byte buffer.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checks; accessors may panic if it is shorter than 14 bytes.
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the header fits, so that no accessor panics.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < EthernetRepr::HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the header: 14 bytes.
    pub const fn header_len() -> usize {
        EthernetRepr::HEADER_LEN
    }

    /// Destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        let b = &self.buffer.as_ref()[field::DESTINATION];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source address.
    pub fn src_addr(&self) -> EthernetAddress {
        let b = &self.buffer.as_ref()[field::SOURCE];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// EtherType of the payload.
    pub fn ethertype(&self) -> EtherType {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([b[0], b[1]]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// The bytes after the header (may include padding up to the 60-byte minimum frame).
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        let value = u16::from(ethertype).to_be_bytes();
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&value);
    }

    /// The bytes after the header, for writing the payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The meaning of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Source address.
    pub src_addr: EthernetAddress,
    /// Destination address.
    pub dst_addr: EthernetAddress,
    /// EtherType of the payload.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Length of the header.
    pub const HEADER_LEN: usize = 14;

    /// Reads the header of a frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Length of the header [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        Self::HEADER_LEN
    }

    /// Writes the header; the payload is written through [`EthernetFrame::payload_mut`].
    ///
    /// # Panics
    /// If the buffer is shorter than 14 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// Broadcast ARP request frame header from 52:54:00:12:34:56, plus the first payload bytes.
    static FRAME: [u8; 20] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04,
    ];

    fn repr() -> EthernetRepr {
        EthernetRepr {
            src_addr: EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        }
    }

    #[test]
    fn parse_real_frame() {
        let frame = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame), Ok(repr()));
        assert_eq!(frame.payload(), &FRAME[14..]);
    }

    #[test]
    fn emit_round_trips() {
        let mut buf = [0u8; 20];
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        repr().emit(&mut frame);
        frame.payload_mut().copy_from_slice(&FRAME[14..]);
        assert_eq!(buf, FRAME);
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame), Ok(repr()));
    }

    #[test]
    fn address_classes() {
        assert!(EthernetAddress::BROADCAST.is_broadcast());
        assert!(EthernetAddress::BROADCAST.is_multicast());
        let multicast = EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
        assert!(multicast.is_multicast() && !multicast.is_broadcast() && !multicast.is_unicast());
        let unicast = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
        assert!(unicast.is_unicast() && unicast.is_local() && !unicast.is_multicast());
    }

    #[test]
    fn address_text_round_trip() {
        let addr = EthernetAddress([0x02, 0xab, 0x0c, 0xde, 0xf0, 0x09]);
        let text = addr.to_string();
        assert_eq!(text, "02:ab:0c:de:f0:09");
        assert_eq!(text.parse::<EthernetAddress>(), Ok(addr));
        assert_eq!("2:AB:c:DE:f0:9".parse::<EthernetAddress>(), Ok(addr));
        for bad in [
            "",
            "02:ab:0c:de:f0",
            "02:ab:0c:de:f0:09:00",
            "02:ab:0c:de:f0:",
            "02:ab:0c:de:f0:109",
            "02:ab:0c:de:f0:g9",
            "02-ab-0c-de-f0-09",
            "02:ab:0c:de:f0:+9",
        ] {
            assert_eq!(
                bad.parse::<EthernetAddress>(),
                Err(Error::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ethertype_numbers_round_trip() {
        for n in [0x0800, 0x0806, 0x86dd, 0x8100, 0x0000, 0xffff] {
            assert_eq!(u16::from(EtherType::from(n)), n);
        }
        assert_eq!(EtherType::from(0x0800), EtherType::Ipv4);
    }

    #[test]
    fn prefixes_and_random_bytes_never_panic() {
        for len in 0..=FRAME.len() {
            let result =
                EthernetFrame::new_checked(&FRAME[..len]).and_then(|f| EthernetRepr::parse(&f));
            assert_eq!(result.is_ok(), len >= 14, "prefix {len}");
        }
        let mut rng = XorShift::new(802);
        let mut buf = [0u8; 32];
        for i in 0..2000 {
            let len = i % buf.len();
            rng.fill(&mut buf[..len]);
            if let Ok(frame) = EthernetFrame::new_checked(&buf[..len]) {
                assert!(EthernetRepr::parse(&frame).is_ok());
                assert_eq!(frame.payload().len(), len - 14);
            }
        }
    }
}
