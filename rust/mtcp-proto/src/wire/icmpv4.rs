//! ICMPv4 (RFC 792): echo for ping, and the two error messages a TCP stack listens to
//! (destination unreachable, time exceeded; RFC 1122 §4.2.3.9, RFC 5927).
use super::checksum;
use super::{ChecksumCaps, Error, Result};

/// The ICMP message type (RFC 792; IANA "ICMP Type Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Message {
    /// Echo Reply, 0.
    EchoReply,
    /// Destination Unreachable, 3.
    DstUnreachable,
    /// Echo (request), 8.
    EchoRequest,
    /// Time Exceeded, 11.
    TimeExceeded,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    fn from(value: u8) -> Icmpv4Message {
        match value {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DstUnreachable,
            8 => Icmpv4Message::EchoRequest,
            11 => Icmpv4Message::TimeExceeded,
            other => Icmpv4Message::Unknown(other),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(value: Icmpv4Message) -> u8 {
        match value {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DstUnreachable => 3,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::Unknown(other) => other,
        }
    }
}

/// Byte ranges of the ICMP header. Bytes 4..8 depend on the type: identifier and sequence number
/// for echo, unused (or the next-hop MTU, RFC 1191 §4) for errors.
mod field {
    use core::ops::{Range, RangeFrom};

    pub(super) const TYPE: usize = 0;
    pub(super) const CODE: usize = 1;
    pub(super) const CHECKSUM: Range<usize> = 2..4;
    pub(super) const ECHO_IDENT: Range<usize> = 4..6;
    pub(super) const ECHO_SEQNO: Range<usize> = 6..8;
    pub(super) const UNUSED: Range<usize> = 4..8;
    pub(super) const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub(super) const DATA: RangeFrom<usize> = 8..;
}

/// Length of the ICMP header.
const HEADER_LEN: usize = 8;
/// What an error message must quote at least: an IPv4 header and 64 bits of its data (RFC 792).
const MIN_QUOTED_LEN: usize = 20 + 8;

/// A read/write view of an ICMPv4 message over a byte buffer (the whole IPv4 payload).
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checks; accessors may panic if it is shorter than 8 bytes.
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the 8-byte header fits, so that no accessor panics.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, range: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Message type.
    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code (e.g. 3 = port unreachable for [`Icmpv4Message::DstUnreachable`]).
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// Echo identifier (meaningful for echo messages).
    pub fn echo_ident(&self) -> u16 {
        self.read_u16(field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo messages).
    pub fn echo_seq_no(&self) -> u16 {
        self.read_u16(field::ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" (type 3 code 4) message (RFC 1191 §4);
    /// zero from routers that predate RFC 1191.
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(field::NEXT_HOP_MTU)
    }

    /// Whether the checksum over the whole message is correct (RFC 792, "Checksum").
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// The bytes after the 8-byte header: echo data, or the quoted datagram of an error.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn write_u16(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = value.into();
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        self.write_u16(field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        self.write_u16(field::ECHO_SEQNO, value);
    }

    /// Sets the next-hop MTU of a "fragmentation needed" message.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        self.write_u16(field::NEXT_HOP_MTU, value);
    }

    /// The bytes after the header, for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The meaning of an ICMPv4 message mtcp handles. Other types parse to
/// [`Error::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (ping), RFC 792 p. 14.
    EchoRequest {
        /// Identifier, echoed in the reply.
        ident: u16,
        /// Sequence number, echoed in the reply.
        seq_no: u16,
        /// Data, echoed in the reply.
        data: &'a [u8],
    },
    /// Echo reply, RFC 792 p. 14.
    EchoReply {
        /// Identifier of the request.
        ident: u16,
        /// Sequence number of the request.
        seq_no: u16,
        /// Data of the request.
        data: &'a [u8],
    },
    /// Destination unreachable, RFC 792 p. 4 (code 3 = port unreachable, 4 = fragmentation
    /// needed).
    DstUnreachable {
        /// Reason code.
        code: u8,
        /// The offending datagram as quoted: its IPv4 header and at least 8 bytes of its
        /// payload (enough for the TCP ports and sequence number).
        header: &'a [u8],
    },
    /// Time exceeded, RFC 792 p. 6 (code 0 = TTL exceeded in transit).
    TimeExceeded {
        /// Reason code.
        code: u8,
        /// The offending datagram as quoted, as for `DstUnreachable`.
        header: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message, verifying the checksum when `caps.rx`. Error messages must quote at
    /// least an IPv4 header and 8 bytes ([`Error::Truncated`] otherwise); unknown types are
    /// [`Error::Unsupported`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        caps: ChecksumCaps,
    ) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if caps.rx && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let quoted = || {
            let data = packet.data();
            if data.len() < MIN_QUOTED_LEN {
                Err(Error::Truncated)
            } else {
                Ok(data)
            }
        };
        match (packet.msg_type(), packet.msg_code()) {
            (Icmpv4Message::EchoRequest, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            (Icmpv4Message::EchoReply, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data: packet.data(),
            }),
            (Icmpv4Message::DstUnreachable, code) => Ok(Icmpv4Repr::DstUnreachable {
                code,
                header: quoted()?,
            }),
            (Icmpv4Message::TimeExceeded, code) => Ok(Icmpv4Repr::TimeExceeded {
                code,
                header: quoted()?,
            }),
            // Echo with a nonzero code is not defined by RFC 792.
            (Icmpv4Message::EchoRequest | Icmpv4Message::EchoReply, _) => Err(Error::Malformed),
            (Icmpv4Message::Unknown(_), _) => Err(Error::Unsupported),
        }
    }

    /// Length of the message [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv4Repr::DstUnreachable { header, .. }
                | Icmpv4Repr::TimeExceeded { header, .. } => header.len(),
            }
    }

    /// Writes the message, filling the checksum when `caps.tx`.
    ///
    /// # Panics
    /// If the buffer is not exactly [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv4Packet<T>,
        caps: ChecksumCaps,
    ) {
        let (msg_type, code, rest, data) = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (
                Icmpv4Message::EchoRequest,
                0,
                echo_rest(ident, seq_no),
                data,
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (Icmpv4Message::EchoReply, 0, echo_rest(ident, seq_no), data),
            Icmpv4Repr::DstUnreachable { code, header } => {
                (Icmpv4Message::DstUnreachable, code, [0; 4], header)
            }
            Icmpv4Repr::TimeExceeded { code, header } => {
                (Icmpv4Message::TimeExceeded, code, [0; 4], header)
            }
        };
        packet.set_msg_type(msg_type);
        packet.set_msg_code(code);
        packet.buffer.as_mut()[field::UNUSED].copy_from_slice(&rest);
        packet.data_mut().copy_from_slice(data);
        if caps.tx {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> [u8; 4] {
    let [a, b] = ident.to_be_bytes();
    let [c, d] = seq_no.to_be_bytes();
    [a, b, c, d]
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// Echo request, ident 0x1234, seq 1, data "mtcp-ping!xyz".
    static ECHO_REQUEST: [u8; 21] = [
        0x08, 0x00, 0x24, 0x6c, 0x12, 0x34, 0x00, 0x01, 0x6d, 0x74, 0x63, 0x70, 0x2d, 0x70, 0x69,
        0x6e, 0x67, 0x21, 0x78, 0x79, 0x7a,
    ];

    /// The reply to [`ECHO_REQUEST`].
    static ECHO_REPLY: [u8; 21] = [
        0x00, 0x00, 0x2c, 0x6c, 0x12, 0x34, 0x00, 0x01, 0x6d, 0x74, 0x63, 0x70, 0x2d, 0x70, 0x69,
        0x6e, 0x67, 0x21, 0x78, 0x79, 0x7a,
    ];

    /// Port unreachable quoting a UDP datagram 10.0.0.1:4660 → 10.0.0.2:53.
    static PORT_UNREACHABLE: [u8; 36] = [
        0x03, 0x03, 0xea, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x28, 0x01, 0x01, 0x40,
        0x00, 0x40, 0x11, 0x25, 0xc2, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x12, 0x34,
        0x00, 0x35, 0x00, 0x14, 0x00, 0x00,
    ];

    fn parse(buf: &[u8]) -> Result<Icmpv4Repr<'_>> {
        Icmpv4Packet::new_checked(buf).and_then(|p| Icmpv4Repr::parse(&p, ChecksumCaps::default()))
    }

    fn emit(repr: &Icmpv4Repr<'_>) -> [u8; 64] {
        let mut buf = [0u8; 64];
        let len = repr.buffer_len();
        repr.emit(
            &mut Icmpv4Packet::new_unchecked(&mut buf[..len]),
            ChecksumCaps::default(),
        );
        buf
    }

    #[test]
    fn parse_real_messages() {
        assert_eq!(
            parse(&ECHO_REQUEST),
            Ok(Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"mtcp-ping!xyz"
            })
        );
        assert_eq!(
            parse(&ECHO_REPLY),
            Ok(Icmpv4Repr::EchoReply {
                ident: 0x1234,
                seq_no: 1,
                data: b"mtcp-ping!xyz"
            })
        );
        assert_eq!(
            parse(&PORT_UNREACHABLE),
            Ok(Icmpv4Repr::DstUnreachable {
                code: 3,
                header: &PORT_UNREACHABLE[8..]
            })
        );
        let packet = Icmpv4Packet::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert_eq!(packet.msg_type(), Icmpv4Message::EchoRequest);
        assert_eq!(packet.checksum(), 0x246c);
    }

    #[test]
    fn emit_matches_real_messages_and_round_trips() {
        let messages: [&[u8]; 3] = [&ECHO_REQUEST, &ECHO_REPLY, &PORT_UNREACHABLE];
        for bytes in messages {
            let repr = parse(bytes).unwrap();
            assert_eq!(repr.buffer_len(), bytes.len());
            let buf = emit(&repr);
            assert_eq!(&buf[..bytes.len()], bytes);
            assert_eq!(parse(&buf[..bytes.len()]), Ok(repr));
        }
        let exceeded = Icmpv4Repr::TimeExceeded {
            code: 0,
            header: &PORT_UNREACHABLE[8..],
        };
        let buf = emit(&exceeded);
        assert_eq!(buf[0], 11);
        assert_eq!(parse(&buf[..exceeded.buffer_len()]), Ok(exceeded));
    }

    #[test]
    fn reply_to_request_is_the_reply_bytes() {
        let Ok(Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data,
        }) = parse(&ECHO_REQUEST)
        else {
            panic!("not an echo request");
        };
        let reply = Icmpv4Repr::EchoReply {
            ident,
            seq_no,
            data,
        };
        assert_eq!(&emit(&reply)[..ECHO_REPLY.len()], &ECHO_REPLY);
    }

    #[test]
    fn checksum_errors_detected_unless_disabled() {
        for at in 0..ECHO_REQUEST.len() {
            let mut bad = ECHO_REQUEST;
            bad[at] ^= 0x04;
            assert!(parse(&bad).is_err(), "flip at {at} accepted");
        }
        let mut bad = ECHO_REQUEST;
        bad[12] ^= 0x04;
        assert_eq!(parse(&bad), Err(Error::Checksum));
        let packet = Icmpv4Packet::new_checked(&bad[..]).unwrap();
        let no_check = ChecksumCaps {
            rx: false,
            tx: false,
        };
        assert!(matches!(
            Icmpv4Repr::parse(&packet, no_check),
            Ok(Icmpv4Repr::EchoRequest { .. })
        ));
    }

    #[test]
    fn unknown_types_and_bad_codes_rejected() {
        let with_type = |msg_type: u8, code: u8| {
            let mut buf = ECHO_REQUEST;
            buf[0] = msg_type;
            buf[1] = code;
            Icmpv4Packet::new_unchecked(&mut buf[..]).fill_checksum();
            buf
        };
        assert_eq!(parse(&with_type(13, 0)), Err(Error::Unsupported)); // timestamp
        assert_eq!(parse(&with_type(8, 1)), Err(Error::Malformed));
        // 13 data bytes are too few to quote an IPv4 header and 8 bytes.
        assert_eq!(parse(&with_type(3, 1)), Err(Error::Truncated));
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0u8; 12];
        let mut packet = Icmpv4Packet::new_unchecked(&mut buf[..]);
        packet.set_msg_type(Icmpv4Message::DstUnreachable);
        packet.set_msg_code(4);
        packet.set_next_hop_mtu(1400);
        packet.data_mut().copy_from_slice(b"abcd");
        packet.fill_checksum();
        let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.msg_type(), Icmpv4Message::DstUnreachable);
        assert_eq!(packet.msg_code(), 4);
        assert_eq!(packet.next_hop_mtu(), 1400);
        assert_eq!(packet.data(), b"abcd");
        assert!(packet.verify_checksum());
        for n in 0..=255u8 {
            assert_eq!(u8::from(Icmpv4Message::from(n)), n);
        }
    }

    #[test]
    fn prefixes_and_random_bytes_never_panic() {
        let messages: [&[u8]; 3] = [&ECHO_REQUEST, &ECHO_REPLY, &PORT_UNREACHABLE];
        for bytes in messages {
            for len in 0..bytes.len() {
                assert!(
                    parse(&bytes[..len]).is_err(),
                    "prefix {len} of {bytes:02x?}"
                );
            }
        }
        let mut rng = XorShift::new(792);
        let mut buf = [0u8; 48];
        let no_check = ChecksumCaps {
            rx: false,
            tx: false,
        };
        for i in 0..5000 {
            let len = i % buf.len();
            rng.fill(&mut buf[..len]);
            if len > 0 {
                buf[0] = [0, 3, 8, 11, 42][i % 5];
            }
            let _ = parse(&buf[..len]);
            let _ = Icmpv4Packet::new_checked(&buf[..len])
                .and_then(|p| Icmpv4Repr::parse(&p, no_check));
        }
    }
}
