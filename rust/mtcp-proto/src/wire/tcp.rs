//! TCP header (RFC 9293 §3.1) with the options mtcp speaks: MSS (RFC 9293 §3.7.1), window scale
//! and timestamps (RFC 7323 §2, §3), SACK-permitted and SACK (RFC 2018 §2, §3).
//!
//! CONTRACT (fixed shape, shared by the TCP engine): `SeqNumber`, `TcpFlags`, `TcpTimestamp`,
//! `TcpRepr` and the signatures of `TcpRepr::{parse, header_len, emit_header, fill_checksum}`.
//!
//! Receiving: a data offset below 5 words is [`Error::Malformed`], one past the buffer
//! [`Error::Truncated`]; an option length below 2 or past the header is [`Error::Malformed`]
//! (RFC 9293 §3.1); unknown options, and known kinds with a length they never have, are skipped
//! (RFC 9293 §3.2, RFC 1122 §4.2.2.5); a window scale above 14 is read as 14 (RFC 7323 §2.3).
//! Sending: options follow the Linux layout, 32-bit aligned (see [`TcpRepr::emit_header`]).
use core::net::Ipv4Addr;
use core::ops::{Add, AddAssign, Sub};

use super::checksum;
use super::ipv4::IpProtocol;
use super::{ChecksumCaps, Error, Result};

/// A TCP sequence number: arithmetic modulo 2³², compared as RFC 9293 §3.4 says (a < b when
/// `b - a` is positive in 32-bit two's complement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}
impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}
impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}
impl Sub for SeqNumber {
    type Output = i32;
    /// Signed distance `self - rhs`.
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}
impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<core::cmp::Ordering> {
        Some((*self - *other).cmp(&0))
    }
}

impl SeqNumber {
    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self > other {
            self
        } else {
            other
        }
    }
    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self < other {
            self
        } else {
            other
        }
    }
}

/// The TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }
    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
    /// Whether SYN is set.
    pub const fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    /// Whether ACK is set.
    pub const fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    /// Whether FIN is set.
    pub const fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    /// Whether RST is set.
    pub const fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    /// Whether PSH is set.
    pub const fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}
impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// The timestamps option (RFC 7323 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpTimestamp {
    /// TSval: the sender's clock.
    pub tsval: u32,
    /// TSecr: the TSval echoed back.
    pub tsecr: u32,
}

/// A parsed TCP segment: header fields, the options mtcp understands, and the payload.
///
/// Unknown options are skipped on parse. `ack_number` is meaningful only when `flags` has ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number of the first octet (or of the SYN).
    pub seq_number: SeqNumber,
    /// Acknowledgment number.
    pub ack_number: SeqNumber,
    /// Control bits.
    pub flags: TcpFlags,
    /// The raw 16-bit window field (not yet scaled).
    pub window_len: u16,
    /// Urgent pointer (parsed, not acted on).
    pub urgent_pointer: u16,
    /// MSS option (only meaningful on SYN).
    pub max_seg_size: Option<u16>,
    /// Window scale shift count (only meaningful on SYN); clamped to 14 on parse (RFC 7323 §2.3).
    pub window_scale: Option<u8>,
    /// SACK-permitted option (only meaningful on SYN).
    pub sack_permitted: bool,
    /// Up to 3 SACK blocks `[left, right)` (RFC 2018 §3); 3 fit beside timestamps.
    pub sack_ranges: [Option<(SeqNumber, SeqNumber)>; 3],
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
    /// Segment data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// An empty segment between two ports with every field zero; fill the rest with `..`.
    pub const fn new(src_port: u16, dst_port: u16) -> TcpRepr<'static> {
        TcpRepr {
            src_port,
            dst_port,
            seq_number: SeqNumber(0),
            ack_number: SeqNumber(0),
            flags: TcpFlags(0),
            window_len: 0,
            urgent_pointer: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        }
    }

    /// Sequence space the segment occupies: payload length plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + self.flags.syn() as usize + self.flags.fin() as usize
    }

    /// Parses a segment (TCP header + payload) carried between `src_addr` and `dst_addr`,
    /// verifying the checksum with the IPv4 pseudo-header when `caps.rx`.
    pub fn parse(
        segment: &'a [u8],
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
        caps: ChecksumCaps,
    ) -> Result<TcpRepr<'a>> {
        TcpPacket::new_checked(segment)?.parse_repr(src_addr, dst_addr, caps)
    }

    /// Length of the header with the options this repr carries, padded to 32 bits: 20 bytes plus
    /// at most 40 of options (RFC 9293 §3.1, "Data Offset"). SACK blocks that do not fit are
    /// left out (see [`TcpRepr::emit_header`]).
    pub fn header_len(&self) -> usize {
        if self.timestamps_only().is_some() {
            return HEADER_LEN + OptionsPlan::TIMESTAMP_LEN;
        }
        HEADER_LEN + OptionsPlan::new(self).len()
    }

    /// The timestamps option when it is the only option: every segment of an established
    /// connection with timestamps and no SACK blocks to report.
    fn timestamps_only(&self) -> Option<TcpTimestamp> {
        // Field by field: a `match *self` would copy the whole repr first.
        let others = self.max_seg_size.is_none()
            && self.window_scale.is_none()
            && !self.sack_permitted
            && self.sack_ranges.iter().all(Option::is_none);
        if others {
            self.timestamp
        } else {
            None
        }
    }

    /// Writes the header and options (not the payload, not the checksum) at the start of `buf`
    /// and returns the header length. `buf` must hold at least `header_len()` bytes.
    /// The caller then copies the payload behind it and calls [`TcpRepr::fill_checksum`].
    ///
    /// Options are laid out as Linux does, every one 32-bit aligned with NOPs: MSS;
    /// SACK-permitted merged with timestamps (`04 02 08 0a`) or `01 01 08 0a`; `01 01 04 02` for
    /// SACK-permitted without timestamps; `01 03 03 ws`; then `01 01 05 len` and the SACK blocks,
    /// as many as fit in the 40 option bytes (RFC 2018 §3: the first block is the most recent).
    /// A window scale above 14 is sent as 14 (RFC 7323 §2.3).
    ///
    /// # Panics
    /// If `buf` is shorter than `header_len()`.
    pub fn emit_header(&self, buf: &mut [u8]) -> usize {
        // The usual segment (timestamps only) in one go: the same bytes as the planned
        // layout below (`01 01 08 0a`, TSval, TSecr), without working out the plan.
        if let Some(ts) = self.timestamps_only() {
            let header = PlainHeader {
                src_port: self.src_port,
                dst_port: self.dst_port,
                seq_number: self.seq_number,
                ack_number: self.ack_number,
                flags: self.flags,
                window_len: self.window_len,
                timestamp: Some(ts),
            };
            let len = header.emit(buf);
            buf[field::URGENT].copy_from_slice(&self.urgent_pointer.to_be_bytes());
            return len;
        }
        self.emit_header_planned(buf)
    }

    /// `emit_header` for any set of options.
    fn emit_header_planned(&self, buf: &mut [u8]) -> usize {
        let plan = OptionsPlan::new(self);
        let header_len = HEADER_LEN + plan.len();
        let mut packet = TcpPacket::new_unchecked(&mut buf[..header_len]);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_pointer(self.urgent_pointer);
        plan.emit(self, packet.options_mut());
        header_len
    }

    /// Computes and stores the checksum of the complete segment `segment` (header + payload)
    /// with the IPv4 pseudo-header (RFC 9293 §3.1).
    ///
    /// # Panics
    /// If `segment` is shorter than 20 bytes.
    pub fn fill_checksum(segment: &mut [u8], src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        TcpPacket::new_unchecked(segment).fill_checksum(src_addr, dst_addr)
    }

    /// Stores the pseudo-header sum only, for a port with transmit checksum offload: see
    /// [`TcpPacket::fill_partial_checksum`].
    ///
    /// # Panics
    /// If `segment` is shorter than 20 bytes.
    pub fn fill_partial_checksum(segment: &mut [u8], src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        TcpPacket::new_unchecked(segment).fill_partial_checksum(src_addr, dst_addr)
    }

    /// [`TcpRepr::fill_checksum`] with the addresses' part of the pseudo-header summed
    /// beforehand (a connection's, kept from its opening).
    ///
    /// # Panics
    /// If `segment` is shorter than 20 bytes.
    #[inline]
    pub fn fill_checksum_with(segment: &mut [u8], addresses: AddressSum) {
        TcpPacket::new_unchecked(segment).fill_checksum_with(addresses)
    }

    /// [`TcpRepr::fill_partial_checksum`] with the addresses summed beforehand.
    ///
    /// # Panics
    /// If `segment` is shorter than 20 bytes.
    #[inline]
    pub fn fill_partial_checksum_with(segment: &mut [u8], addresses: AddressSum) {
        TcpPacket::new_unchecked(segment).fill_partial_checksum_with(addresses)
    }
}

/// The sum of a flow's two IPv4 addresses as four 16-bit words, not folded (below 2^18): the
/// part of the TCP pseudo-header (RFC 9293 §3.1) and of the IPv4 header checksum (RFC 791,
/// RFC 1071) that never changes for a connection, so it is worked out once when the
/// connection opens instead of for every segment. The sum is symmetric: the same value serves
/// either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressSum(u32);

impl AddressSum {
    /// The sum for `src_addr` and `dst_addr`.
    #[inline]
    pub fn new(src_addr: Ipv4Addr, dst_addr: Ipv4Addr) -> Self {
        let (src, dst) = (u32::from(src_addr), u32::from(dst_addr));
        AddressSum((src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff))
    }

    /// The unfolded sum, at most `4 * 0xffff`: a caller adds its other words (at most a few
    /// more, so a u32 cannot overflow) and folds twice.
    #[inline]
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The header of a connection's ordinary segment: the fixed header (RFC 9293 §3.1) and at
/// most the timestamps option (RFC 7323 §3.2), with no urgent pointer. A connection writes it
/// straight from its state, without filling a whole [`TcpRepr`] (SYN options, SACK blocks,
/// payload) first; the bytes are those [`TcpRepr::emit_header`] writes for the same fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number.
    pub ack_number: SeqNumber,
    /// Control bits.
    pub flags: TcpFlags,
    /// The raw 16-bit window field.
    pub window_len: u16,
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
}

impl PlainHeader {
    /// Header length in bytes: 20, or 32 with timestamps (NOP, NOP, then the 10-byte option).
    pub fn header_len(&self) -> usize {
        match self.timestamp {
            Some(_) => HEADER_LEN + OptionsPlan::TIMESTAMP_LEN,
            None => HEADER_LEN,
        }
    }

    /// Writes the header (checksum zero) into `buf` and returns its length.
    ///
    /// # Panics
    /// If `buf` is shorter than `header_len()`.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.header_len();
        let h = &mut buf[..len];
        h[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        h[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        h[field::SEQ_NUM].copy_from_slice(&self.seq_number.0.to_be_bytes());
        h[field::ACK_NUM].copy_from_slice(&self.ack_number.0.to_be_bytes());
        h[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
        h[field::FLAGS] = self.flags.0;
        h[field::WINDOW].copy_from_slice(&self.window_len.to_be_bytes());
        h[field::CHECKSUM].copy_from_slice(&[0, 0]);
        h[field::URGENT].copy_from_slice(&[0, 0]);
        if let Some(ts) = self.timestamp {
            h[20..24].copy_from_slice(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
            h[24..28].copy_from_slice(&ts.tsval.to_be_bytes());
            h[28..32].copy_from_slice(&ts.tsecr.to_be_bytes());
        }
        len
    }
}

/// Byte ranges of the fixed header (RFC 9293 §3.1, "Header Format").
mod field {
    use core::ops::Range;

    pub(super) const SRC_PORT: Range<usize> = 0..2;
    pub(super) const DST_PORT: Range<usize> = 2..4;
    pub(super) const SEQ_NUM: Range<usize> = 4..8;
    pub(super) const ACK_NUM: Range<usize> = 8..12;
    /// Data offset in the high nibble; the low nibble is reserved.
    pub(super) const DATA_OFFSET: usize = 12;
    /// CWR ECE URG ACK PSH RST SYN FIN, the bits of [`TcpFlags`](super::TcpFlags).
    pub(super) const FLAGS: usize = 13;
    pub(super) const WINDOW: Range<usize> = 14..16;
    pub(super) const CHECKSUM: Range<usize> = 16..18;
    pub(super) const URGENT: Range<usize> = 18..20;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub(super) const END: u8 = 0;
    /// No-operation (RFC 9293 §3.2).
    pub(super) const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.2).
    pub(super) const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2.2).
    pub(super) const WINDOW_SCALE: u8 = 3;
    /// SACK-permitted (RFC 2018 §2).
    pub(super) const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub(super) const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3.2).
    pub(super) const TIMESTAMP: u8 = 8;
}

/// Length of the header without options.
const HEADER_LEN: usize = 20;
/// Longest header: a 4-bit data offset counts up to 15 words.
const MAX_HEADER_LEN: usize = 60;
/// Room for options.
const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;
/// Largest window scale shift (RFC 7323 §2.3).
const MAX_WINDOW_SCALE: u8 = 14;

/// One option of a received header (RFC 9293 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list; the rest of the option space is padding.
    EndOfList,
    /// No-operation, used for alignment.
    NoOperation,
    /// Maximum segment size.
    MaxSegmentSize(u16),
    /// Window scale shift count, clamped to 14 (RFC 7323 §2.3).
    WindowScale(u8),
    /// SACK-permitted.
    SackPermitted,
    /// SACK blocks `[left, right)`; the first 3 of at most 4 (RFC 2018 §3).
    SackRange([Option<(SeqNumber, SeqNumber)>; 3]),
    /// Timestamps.
    Timestamp(TcpTimestamp),
    /// An option this stack does not implement, or a known kind with a length it does not have
    /// (ignored, as RFC 9293 §3.1 asks for options it does not implement).
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data after the kind and length octets.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses the option at the start of a non-empty `buf`, returning it and the bytes after it.
    ///
    /// A length octet below 2, or one that runs past the option space, is [`Error::Malformed`]
    /// (RFC 9293 §3.1: "MUST be prepared to handle an illegal option length").
    pub fn parse(buf: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&kind, rest) = buf.split_first().ok_or(Error::Truncated)?;
        match kind {
            kind::END => return Ok((&[], TcpOption::EndOfList)),
            kind::NOP => return Ok((rest, TcpOption::NoOperation)),
            _ => {}
        }
        let length = usize::from(*rest.first().ok_or(Error::Malformed)?);
        if length < 2 || length > buf.len() {
            return Err(Error::Malformed);
        }
        let data = &buf[2..length];
        let option = match (kind, data.len()) {
            (kind::MSS, 2) => TcpOption::MaxSegmentSize(read_u16(data)),
            (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0].min(MAX_WINDOW_SCALE)),
            (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (kind::SACK, n) if n >= 8 && n % 8 == 0 => {
                let mut ranges = [None; 3];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((
                        SeqNumber(read_u32(&block[..4])),
                        SeqNumber(read_u32(&block[4..])),
                    ));
                }
                TcpOption::SackRange(ranges)
            }
            (kind::TIMESTAMP, 8) => TcpOption::Timestamp(TcpTimestamp {
                tsval: read_u32(&data[..4]),
                tsecr: read_u32(&data[4..]),
            }),
            _ => TcpOption::Unknown { kind, data },
        };
        Ok((&buf[length..], option))
    }
}

/// Which options a repr puts on the wire, in 32-bit words; shared by `header_len` and
/// `emit_header` so the two always agree.
struct OptionsPlan {
    max_seg_size: bool,
    timestamp: bool,
    /// SACK-permitted on its own word (without timestamps to share one with).
    sack_permitted_alone: bool,
    window_scale: bool,
    sack_blocks: usize,
}

impl OptionsPlan {
    const MSS_LEN: usize = 4;
    const TIMESTAMP_LEN: usize = 12;
    const SACK_PERMITTED_LEN: usize = 4;
    const WINDOW_SCALE_LEN: usize = 4;
    const SACK_HEAD_LEN: usize = 4;
    const SACK_BLOCK_LEN: usize = 8;

    fn new(repr: &TcpRepr<'_>) -> OptionsPlan {
        let mut plan = OptionsPlan {
            max_seg_size: repr.max_seg_size.is_some(),
            timestamp: repr.timestamp.is_some(),
            sack_permitted_alone: repr.sack_permitted && repr.timestamp.is_none(),
            window_scale: repr.window_scale.is_some(),
            sack_blocks: 0,
        };
        let room = MAX_OPTIONS_LEN - plan.len();
        let wanted = repr.sack_ranges.iter().flatten().count();
        if wanted > 0 && room >= Self::SACK_HEAD_LEN + Self::SACK_BLOCK_LEN {
            plan.sack_blocks = wanted.min((room - Self::SACK_HEAD_LEN) / Self::SACK_BLOCK_LEN);
        }
        plan
    }

    fn len(&self) -> usize {
        let sack = if self.sack_blocks > 0 {
            Self::SACK_HEAD_LEN + self.sack_blocks * Self::SACK_BLOCK_LEN
        } else {
            0
        };
        usize::from(self.max_seg_size) * Self::MSS_LEN
            + usize::from(self.timestamp) * Self::TIMESTAMP_LEN
            + usize::from(self.sack_permitted_alone) * Self::SACK_PERMITTED_LEN
            + usize::from(self.window_scale) * Self::WINDOW_SCALE_LEN
            + sack
    }

    /// Writes the options into `out`, which is exactly `self.len()` long.
    fn emit(&self, repr: &TcpRepr<'_>, out: &mut [u8]) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = repr.max_seg_size {
            let [hi, lo] = mss.to_be_bytes();
            put(&[kind::MSS, 4, hi, lo]);
        }
        if let Some(ts) = repr.timestamp {
            if repr.sack_permitted {
                put(&[kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]);
            } else {
                put(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
            }
            put(&ts.tsval.to_be_bytes());
            put(&ts.tsecr.to_be_bytes());
        }
        if self.sack_permitted_alone {
            put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);
        }
        if let Some(shift) = repr.window_scale {
            put(&[
                kind::NOP,
                kind::WINDOW_SCALE,
                3,
                shift.min(MAX_WINDOW_SCALE),
            ]);
        }
        if self.sack_blocks > 0 {
            let len = (2 + self.sack_blocks * Self::SACK_BLOCK_LEN) as u8;
            put(&[kind::NOP, kind::NOP, kind::SACK, len]);
            for (left, right) in repr.sack_ranges.iter().flatten().take(self.sack_blocks) {
                put(&left.0.to_be_bytes());
                put(&right.0.to_be_bytes());
            }
        }
    }
}

/// A read/write view of a TCP header over a byte buffer.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer, checking that the header and its options fit.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the fixed header fits, that the data offset is at least 5 words, and that the
    /// header it gives fits, so that no accessor panics.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(read_u32(&self.buffer.as_ref()[field::SEQ_NUM]))
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(read_u32(&self.buffer.as_ref()[field::ACK_NUM]))
    }

    /// Header length in bytes, from the data offset.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// The raw (unscaled) window field.
    pub fn window_len(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::WINDOW])
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    pub fn urgent_pointer(&self) -> u16 {
        read_u16(&self.buffer.as_ref()[field::URGENT])
    }

    /// The option bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Whether the checksum over the pseudo-header and the whole buffer is correct
    /// (RFC 9293 §3.1, "Checksum"). The buffer must be exactly the segment.
    pub fn verify_checksum(&self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) -> bool {
        let segment = self.buffer.as_ref();
        let Ok(length) = u16::try_from(segment.len()) else {
            return false;
        };
        let pseudo = checksum::pseudo_header_v4(src_addr, dst_addr, IpProtocol::Tcp, length);
        checksum::combine(&[pseudo, checksum::data(segment)]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The data after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Parses the full representation (see [`TcpRepr::parse`]).
    ///
    /// Checks the lengths, the checksum when `caps.rx`, and the options: an option whose length
    /// is below 2 or runs past the header is [`Error::Malformed`]; unknown options are skipped.
    pub fn parse_repr(
        &self,
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
        caps: ChecksumCaps,
    ) -> Result<TcpRepr<'a>> {
        self.check_len()?;
        if caps.rx && !self.verify_checksum(src_addr, dst_addr) {
            return Err(Error::Checksum);
        }
        let buffer: &'a [u8] = self.buffer.as_ref();
        let mut repr = TcpRepr {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            seq_number: self.seq_number(),
            ack_number: self.ack_number(),
            flags: self.flags(),
            window_len: self.window_len(),
            urgent_pointer: self.urgent_pointer(),
            payload: self.payload(),
            ..TcpRepr::new(0, 0)
        };
        let options = &buffer[HEADER_LEN..self.header_len()];
        // Fast path for what nearly every segment after the handshake carries: NOP, NOP,
        // timestamps (RFC 7323 Appendix A layout, as Linux and mtcp send it).
        if let [kind::NOP, kind::NOP, kind::TIMESTAMP, 10, ts @ ..] = options {
            if ts.len() == 8 {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: read_u32(&ts[..4]),
                    tsecr: read_u32(&ts[4..]),
                });
                return Ok(repr);
            }
        }
        // And for a SYN as Linux and mtcp send it (every handshake's two SYNs): MSS,
        // SACK-permitted merged with timestamps, NOP and window scale, at fixed places.
        if let Some(syn) = linux_syn_options(options) {
            let mut full = repr;
            debug_assert!(
                parse_options_into(options, &mut full).is_ok(),
                "the SYN layout is well formed"
            );
            syn.apply(&mut repr);
            debug_assert_eq!(
                repr, full,
                "the SYN layout reads what the option loop reads"
            );
            return Ok(repr);
        }
        parse_options_into(options, &mut repr)?;
        Ok(repr)
    }
}

/// The options of a SYN in the layout Linux and mtcp send them (`emit_header`):
/// `02 04 mss`, `04 02 08 0a tsval tsecr`, `01 03 03 shift`.
#[derive(Debug, Clone, Copy)]
struct LinuxSynOptions {
    mss: u16,
    timestamp: TcpTimestamp,
    window_scale: u8,
}

impl LinuxSynOptions {
    /// Sets what `parse_options_into` sets for these options.
    #[inline]
    fn apply(self, repr: &mut TcpRepr<'_>) {
        repr.max_seg_size = Some(self.mss);
        repr.sack_permitted = true;
        repr.timestamp = Some(self.timestamp);
        repr.window_scale = Some(self.window_scale.min(MAX_WINDOW_SCALE));
    }
}

/// `options` when they are exactly a SYN's in Linux's layout; `None` for any other list
/// (which the general loop then reads).
#[inline]
fn linux_syn_options(options: &[u8]) -> Option<LinuxSynOptions> {
    let o: &[u8; 20] = options.try_into().ok()?;
    let layout = o[..2] == [kind::MSS, 4]
        && o[4..8] == [kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]
        && o[16..19] == [kind::NOP, kind::WINDOW_SCALE, 3];
    layout.then(|| LinuxSynOptions {
        mss: read_u16(&o[2..4]),
        timestamp: TcpTimestamp {
            tsval: read_u32(&o[8..12]),
            tsecr: read_u32(&o[12..16]),
        },
        window_scale: o[19],
    })
}

/// The options of a segment into `repr` (a SYN's MSS, window scale, SACK-permitted and
/// timestamps; SACK blocks): [`TcpOption::parse`]'s rules, read in place instead of
/// returning each option as a value. Unknown options are skipped; a malformed one fails.
fn parse_options_into(options: &[u8], repr: &mut TcpRepr<'_>) -> Result<()> {
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        match kind {
            kind::END => break,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let rest = &options[i..];
        let length = usize::from(*rest.get(1).ok_or(Error::Malformed)?);
        if length < 2 || length > rest.len() {
            return Err(Error::Malformed);
        }
        let data = &rest[2..length];
        match (kind, data.len()) {
            (kind::MSS, 2) => repr.max_seg_size = Some(read_u16(data)),
            (kind::WINDOW_SCALE, 1) => repr.window_scale = Some(data[0].min(MAX_WINDOW_SCALE)),
            (kind::SACK_PERMITTED, 0) => repr.sack_permitted = true,
            (kind::SACK, n) if n >= 8 && n % 8 == 0 => {
                let mut ranges = [None; 3];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((
                        SeqNumber(read_u32(&block[..4])),
                        SeqNumber(read_u32(&block[4..])),
                    ));
                }
                repr.sack_ranges = ranges;
            }
            (kind::TIMESTAMP, 8) => {
                repr.timestamp = Some(TcpTimestamp {
                    tsval: read_u32(&data[..4]),
                    tsecr: read_u32(&data[4..]),
                })
            }
            _ => {}
        }
        i += length;
    }
    Ok(())
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        self.buffer.as_mut()[field::SEQ_NUM].copy_from_slice(&value.0.to_be_bytes());
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        self.buffer.as_mut()[field::ACK_NUM].copy_from_slice(&value.0.to_be_bytes());
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4, 20..=60), and
    /// clears the reserved bits.
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the raw window field.
    pub fn set_window_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_pointer(&mut self, value: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&value.to_be_bytes());
    }

    /// The option bytes (as the data offset gives them), for writing.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The bytes after the header, for writing.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[header_len..]
    }

    /// Computes and stores the checksum over the pseudo-header and the whole buffer, which
    /// must be exactly the segment (RFC 9293 §3.1).
    pub fn fill_checksum(&mut self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        self.fill_checksum_with(AddressSum::new(src_addr, dst_addr))
    }

    /// [`TcpPacket::fill_checksum`] with the addresses summed beforehand.
    #[inline]
    pub fn fill_checksum_with(&mut self, addresses: AddressSum) {
        self.set_checksum(0);
        let segment = self.buffer.as_ref();
        // An IPv4 datagram cannot carry more than 65515 bytes of segment; a longer buffer is a
        // caller bug, and truncating the length only yields a checksum the peer rejects.
        let length = segment.len() as u16;
        let pseudo = tcp_pseudo_header_sum(addresses, length);
        let sum = checksum::combine(&[pseudo, checksum::data(segment)]);
        self.set_checksum(!sum);
    }

    /// Stores only the pseudo-header sum (RFC 9293 §3.1), not complemented, for a device that
    /// finishes the checksum: the Linux `CHECKSUM_PARTIAL` and virtio-net `NEEDS_CSUM`
    /// convention (virtio 1.2 §5.1.6.2). The device adds the one's-complement sum of the
    /// segment from the TCP header on (this field included) and stores its complement here,
    /// which yields the same checksum as [`TcpPacket::fill_checksum`].
    pub fn fill_partial_checksum(&mut self, src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        self.fill_partial_checksum_with(AddressSum::new(src_addr, dst_addr))
    }

    /// [`TcpPacket::fill_partial_checksum`] with the addresses summed beforehand.
    #[inline]
    pub fn fill_partial_checksum_with(&mut self, addresses: AddressSum) {
        let length = self.buffer.as_ref().len() as u16;
        self.set_checksum(tcp_pseudo_header_sum(addresses, length));
    }
}

/// [`checksum::pseudo_header_v4`] for TCP, for the segments we send: the address halves
/// (summed once per connection, [`AddressSum`]) plus protocol and length, and two folds,
/// which suffice as the sum of six 16-bit words stays below 2^19 (RFC 1071 §2(C), as
/// `frame::write_headers` sums the IPv4 header).
#[inline]
fn tcp_pseudo_header_sum(addresses: AddressSum, length: u16) -> u16 {
    let mut sum = addresses.get();
    sum += u32::from(u8::from(IpProtocol::Tcp)) + u32::from(length);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// `parse_options_into` reads what a loop over `TcpOption::parse` reads, and fails where
    /// it fails, for random option bytes (valid options, NOPs, garbage, truncations).
    #[test]
    fn options_parse_in_place_as_tcp_option_does() {
        fn reference(mut options: &[u8], repr: &mut TcpRepr<'_>) -> Result<()> {
            while !options.is_empty() {
                let (rest, option) = TcpOption::parse(options)?;
                match option {
                    TcpOption::EndOfList => break,
                    TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
                    TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                    TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                    TcpOption::SackPermitted => repr.sack_permitted = true,
                    TcpOption::SackRange(ranges) => repr.sack_ranges = ranges,
                    TcpOption::Timestamp(ts) => repr.timestamp = Some(ts),
                }
                options = rest;
            }
            Ok(())
        }
        let pieces: [&[u8]; 9] = [
            &[2, 4, 5, 0xb4],
            &[3, 3, 20],
            &[4, 2],
            &[8, 10, 1, 2, 3, 4, 5, 6, 7, 8],
            &[5, 10, 0, 0, 0, 1, 0, 0, 0, 9],
            &[1],
            &[0],
            &[99, 3, 7],
            &[2, 1],
        ];
        let mut rng = XorShift::new(11);
        for _ in 0..5000 {
            let mut options = Vec::new();
            for _ in 0..(rng.next_u64() % 6) {
                match rng.next_u64() % 4 {
                    0 => options.push(rng.next_u64() as u8),
                    _ => options.extend_from_slice(pieces[(rng.next_u64() % 9) as usize]),
                }
            }
            let full = options.len();
            let end = if rng.next_u64() % 3 == 0 {
                (rng.next_u64() as usize) % (full + 1)
            } else {
                full
            };
            let options = &options[..end];
            let (mut mine, mut theirs) = (TcpRepr::new(1, 2), TcpRepr::new(1, 2));
            let (a, b) = (
                parse_options_into(options, &mut mine),
                reference(options, &mut theirs),
            );
            assert_eq!(a, b, "{options:?}");
            if a.is_ok() {
                assert_eq!(mine, theirs, "{options:?}");
            }
        }
    }

    /// `PlainHeader` writes the bytes `TcpRepr::emit_header` writes for the same fields, with
    /// and without timestamps, and they parse back to those fields.
    #[test]
    fn plain_header_matches_repr() {
        let mut rng = XorShift::new(7);
        for i in 0..200u32 {
            let timestamp = (i % 2 == 0).then(|| TcpTimestamp {
                tsval: (rng.next_u64() as u32),
                tsecr: (rng.next_u64() as u32),
            });
            let plain = PlainHeader {
                src_port: (rng.next_u64() as u32) as u16,
                dst_port: (rng.next_u64() as u32) as u16,
                seq_number: SeqNumber(rng.next_u64() as u32),
                ack_number: SeqNumber(rng.next_u64() as u32),
                flags: TcpFlags((rng.next_u64() as u32) as u8),
                window_len: (rng.next_u64() as u32) as u16,
                timestamp,
            };
            let repr = TcpRepr {
                seq_number: plain.seq_number,
                ack_number: plain.ack_number,
                flags: plain.flags,
                window_len: plain.window_len,
                timestamp,
                ..TcpRepr::new(plain.src_port, plain.dst_port)
            };
            let (mut a, mut b) = ([0xa5u8; 60], [0x5au8; 60]);
            assert_eq!(plain.header_len(), repr.header_len());
            assert_eq!(plain.emit(&mut a), repr.emit_header(&mut b));
            assert_eq!(a[..plain.header_len()], b[..repr.header_len()]);
        }
    }

    /// The sending side's pseudo-header sum equals `checksum::pseudo_header_v4`'s, extreme
    /// addresses and lengths included.
    #[test]
    fn tcp_pseudo_header_sum_matches_the_generic_sum() {
        let mut rng = XorShift::new(13);
        let mut cases = vec![
            (
                Ipv4Addr::new(255, 255, 255, 255),
                Ipv4Addr::new(255, 255, 255, 255),
                0xffff,
            ),
            (Ipv4Addr::new(0, 0, 0, 0), Ipv4Addr::new(0, 0, 0, 0), 0),
            (
                Ipv4Addr::new(255, 255, 0, 0),
                Ipv4Addr::new(0, 0, 255, 255),
                0xfff9,
            ),
            // 0x4fffe: the first fold carries out again.
            (
                Ipv4Addr::new(255, 255, 255, 255),
                Ipv4Addr::new(255, 255, 255, 255),
                0xfffc,
            ),
        ];
        for _ in 0..1000 {
            let word = rng.next_u64();
            cases.push((
                Ipv4Addr::from(word as u32),
                Ipv4Addr::from((word >> 32) as u32),
                (rng.next_u64() as u32) as u16,
            ));
        }
        for (src, dst, length) in cases {
            assert_eq!(
                tcp_pseudo_header_sum(AddressSum::new(src, dst), length),
                checksum::pseudo_header_v4(src, dst, IpProtocol::Tcp, length),
                "{src} {dst} {length}"
            );
        }
    }

    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const OTHER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

    /// Linux-style SYN 10.0.0.1:45678 → 10.0.0.2:80: MSS 1460, SACK-permitted, TS, NOP, WS 7.
    static SYN: [u8; 40] = [
        0xb2, 0x6e, 0x00, 0x50, 0x6e, 0x3e, 0x7b, 0x1c, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0xf8, 0xf8, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x09,
        0xa3, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// The SYN-ACK answering [`SYN`], WS 9.
    static SYN_ACK: [u8; 40] = [
        0x00, 0x50, 0xb2, 0x6e, 0x10, 0x00, 0x00, 0x00, 0x6e, 0x3e, 0x7b, 0x1d, 0xa0, 0x12, 0xfe,
        0x88, 0x8e, 0xd5, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x1a, 0x2b,
        0x3c, 0x4d, 0x00, 0x09, 0xa3, 0xf1, 0x01, 0x03, 0x03, 0x09,
    ];

    /// PSH|ACK with NOP NOP TS and an 18-byte HTTP request.
    static DATA: [u8; 50] = [
        0xb2, 0x6e, 0x00, 0x50, 0x6e, 0x3e, 0x7b, 0x1d, 0x10, 0x00, 0x00, 0x01, 0x80, 0x18, 0x01,
        0xf6, 0xdb, 0x77, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x09, 0xa3, 0xf5, 0x1a, 0x2b,
        0x3c, 0x4d, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e,
        0x31, 0x0d, 0x0a, 0x0d, 0x0a,
    ];

    /// ACK with NOP NOP TS and NOP NOP SACK of two blocks.
    static SACK_ACK: [u8; 52] = [
        0x00, 0x50, 0xb2, 0x6e, 0x10, 0x00, 0x00, 0x01, 0x6e, 0x3e, 0x7b, 0x2f, 0xd0, 0x10, 0x01,
        0xfe, 0xa8, 0x62, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x1a, 0x2b, 0x3c, 0x60, 0x00, 0x09,
        0xa3, 0xf5, 0x01, 0x01, 0x05, 0x12, 0x6e, 0x3e, 0x80, 0x00, 0x6e, 0x3e, 0x84, 0x00, 0x6e,
        0x3e, 0x7f, 0x00, 0x6e, 0x3e, 0x7f, 0x80,
    ];

    fn syn_repr() -> TcpRepr<'static> {
        TcpRepr {
            seq_number: SeqNumber(0x6e3e_7b1c),
            flags: TcpFlags::SYN,
            window_len: 64240,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some(TcpTimestamp {
                tsval: 0x0009_a3f1,
                tsecr: 0,
            }),
            ..TcpRepr::new(45678, 80)
        }
    }

    fn syn_ack_repr() -> TcpRepr<'static> {
        TcpRepr {
            seq_number: SeqNumber(0x1000_0000),
            ack_number: SeqNumber(0x6e3e_7b1d),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window_len: 65160,
            max_seg_size: Some(1460),
            window_scale: Some(9),
            sack_permitted: true,
            timestamp: Some(TcpTimestamp {
                tsval: 0x1a2b_3c4d,
                tsecr: 0x0009_a3f1,
            }),
            ..TcpRepr::new(80, 45678)
        }
    }

    fn data_repr() -> TcpRepr<'static> {
        TcpRepr {
            seq_number: SeqNumber(0x6e3e_7b1d),
            ack_number: SeqNumber(0x1000_0001),
            flags: TcpFlags::PSH | TcpFlags::ACK,
            window_len: 502,
            timestamp: Some(TcpTimestamp {
                tsval: 0x0009_a3f5,
                tsecr: 0x1a2b_3c4d,
            }),
            payload: b"GET / HTTP/1.1\r\n\r\n",
            ..TcpRepr::new(45678, 80)
        }
    }

    fn sack_ack_repr() -> TcpRepr<'static> {
        TcpRepr {
            seq_number: SeqNumber(0x1000_0001),
            ack_number: SeqNumber(0x6e3e_7b2f),
            flags: TcpFlags::ACK,
            window_len: 510,
            timestamp: Some(TcpTimestamp {
                tsval: 0x1a2b_3c60,
                tsecr: 0x0009_a3f5,
            }),
            sack_ranges: [
                Some((SeqNumber(0x6e3e_8000), SeqNumber(0x6e3e_8400))),
                Some((SeqNumber(0x6e3e_7f00), SeqNumber(0x6e3e_7f80))),
                None,
            ],
            ..TcpRepr::new(80, 45678)
        }
    }

    /// The real segments with their repr and addresses.
    fn vectors() -> [(&'static [u8], TcpRepr<'static>, Ipv4Addr, Ipv4Addr); 4] {
        [
            (&SYN, syn_repr(), CLIENT, SERVER),
            (&SYN_ACK, syn_ack_repr(), SERVER, CLIENT),
            (&DATA, data_repr(), CLIENT, SERVER),
            (&SACK_ACK, sack_ack_repr(), SERVER, CLIENT),
        ]
    }

    /// Builds a segment the way the engine does: header, payload copy, checksum.
    fn build(repr: &TcpRepr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let mut buf = vec![0xa5; repr.header_len() + repr.payload.len()];
        let header_len = repr.emit_header(&mut buf);
        assert_eq!(header_len, repr.header_len());
        buf[header_len..].copy_from_slice(repr.payload);
        TcpRepr::fill_checksum(&mut buf, src, dst);
        buf
    }

    fn parse(segment: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<TcpRepr<'_>> {
        TcpRepr::parse(segment, src, dst, ChecksumCaps::default())
    }

    const NO_CHECKSUM: ChecksumCaps = ChecksumCaps {
        rx: false,
        tx: false,
    };

    #[test]
    fn parse_real_segments() {
        for (bytes, repr, src, dst) in vectors() {
            assert_eq!(parse(bytes, src, dst), Ok(repr));
        }
    }

    #[test]
    fn emit_reproduces_real_segments_byte_for_byte() {
        for (bytes, repr, src, dst) in vectors() {
            assert_eq!(build(&repr, src, dst), bytes, "{repr:?}");
        }
    }

    #[test]
    fn accessors_read_fields() {
        let packet = TcpPacket::new_checked(&DATA[..]).unwrap();
        assert_eq!(packet.src_port(), 45678);
        assert_eq!(packet.dst_port(), 80);
        assert_eq!(packet.seq_number(), SeqNumber(0x6e3e_7b1d));
        assert_eq!(packet.ack_number(), SeqNumber(0x1000_0001));
        assert_eq!(packet.header_len(), 32);
        assert_eq!(packet.flags(), TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(packet.window_len(), 502);
        assert_eq!(packet.checksum(), 0xdb77);
        assert_eq!(packet.urgent_pointer(), 0);
        assert_eq!(packet.options(), &DATA[20..32]);
        assert_eq!(packet.payload(), b"GET / HTTP/1.1\r\n\r\n");
        assert!(packet.verify_checksum(CLIENT, SERVER));
        assert!(!packet.verify_checksum(CLIENT, OTHER));
    }

    #[test]
    fn setters_write_every_field() {
        let mut buf = [0u8; 28];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        packet.set_src_port(1);
        packet.set_dst_port(65535);
        packet.set_seq_number(SeqNumber(0xdead_beef));
        packet.set_ack_number(SeqNumber(0x0102_0304));
        packet.set_header_len(24);
        packet.set_flags(TcpFlags::FIN | TcpFlags::URG | TcpFlags::CWR);
        packet.set_window_len(0x8001);
        packet.set_urgent_pointer(3);
        packet.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        packet.payload_mut().copy_from_slice(b"tail");
        packet.fill_checksum(CLIENT, SERVER);
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(packet.src_port(), 1);
        assert_eq!(packet.dst_port(), 65535);
        assert_eq!(packet.seq_number(), SeqNumber(0xdead_beef));
        assert_eq!(packet.ack_number(), SeqNumber(0x0102_0304));
        assert_eq!(packet.header_len(), 24);
        assert_eq!(
            packet.flags(),
            TcpFlags::FIN | TcpFlags::URG | TcpFlags::CWR
        );
        assert_eq!(packet.window_len(), 0x8001);
        assert_eq!(packet.urgent_pointer(), 3);
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), b"tail");
        assert!(packet.verify_checksum(CLIENT, SERVER));
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        packet.set_checksum(0x1234);
        assert_eq!(packet.checksum(), 0x1234);
        assert_eq!(packet.into_inner()[16..18], [0x12, 0x34]);
    }

    /// Option bytes the Linux layout needs for a repr, counted independently of `OptionsPlan`.
    fn expected_options_len(repr: &TcpRepr<'_>, sack_blocks: usize) -> usize {
        let mut len = 0;
        len += if repr.max_seg_size.is_some() { 4 } else { 0 };
        len += if repr.timestamp.is_some() { 12 } else { 0 };
        len += if repr.sack_permitted && repr.timestamp.is_none() {
            4
        } else {
            0
        };
        len += if repr.window_scale.is_some() { 4 } else { 0 };
        len += if sack_blocks > 0 {
            4 + 8 * sack_blocks
        } else {
            0
        };
        len
    }

    #[test]
    fn every_option_combination_round_trips() {
        let blocks = [
            (SeqNumber(1000), SeqNumber(2000)),
            (SeqNumber(0xffff_ff00), SeqNumber(0x100)),
            (SeqNumber(5000), SeqNumber(5001)),
        ];
        let mut checked = 0;
        for mask in 0..16u8 {
            for sack_count in 0..=3 {
                for flags in [TcpFlags::SYN, TcpFlags::SYN | TcpFlags::ACK, TcpFlags::ACK] {
                    let mut repr = TcpRepr {
                        seq_number: SeqNumber(0xffff_fff0),
                        ack_number: SeqNumber(77),
                        flags,
                        window_len: 1234,
                        urgent_pointer: 9,
                        payload: b"0123456789abc",
                        ..TcpRepr::new(12345, 443)
                    };
                    if mask & 1 != 0 {
                        repr.max_seg_size = Some(8960);
                    }
                    if mask & 2 != 0 {
                        repr.window_scale = Some(14);
                    }
                    if mask & 4 != 0 {
                        repr.sack_permitted = true;
                    }
                    if mask & 8 != 0 {
                        repr.timestamp = Some(TcpTimestamp {
                            tsval: u32::MAX,
                            tsecr: 1,
                        });
                    }
                    for (slot, block) in repr.sack_ranges.iter_mut().zip(blocks).take(sack_count) {
                        *slot = Some(block);
                    }

                    let segment = build(&repr, CLIENT, SERVER);
                    let header_len = repr.header_len();
                    assert!(header_len <= 60 && header_len % 4 == 0, "{header_len}");
                    let parsed = parse(&segment, CLIENT, SERVER).unwrap();
                    // SACK blocks that fit are kept in order; the rest are dropped.
                    let kept = parsed.sack_ranges.iter().flatten().count();
                    assert!(kept <= sack_count);
                    assert_eq!(header_len, 20 + expected_options_len(&repr, kept));
                    if 20 + expected_options_len(&repr, sack_count) <= 60 {
                        assert_eq!(kept, sack_count, "{repr:?}");
                    } else {
                        assert!(20 + expected_options_len(&repr, kept + 1) > 60);
                    }
                    let mut expected = repr;
                    for slot in expected.sack_ranges.iter_mut().skip(kept) {
                        *slot = None;
                    }
                    assert_eq!(parsed, expected);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 16 * 4 * 3);
    }

    #[test]
    fn syn_with_all_options_is_linux_layout() {
        let mut buf = [0u8; 60];
        let len = syn_repr().emit_header(&mut buf);
        assert_eq!(len, 40);
        assert_eq!(
            &buf[20..40],
            &[2, 4, 5, 180, 4, 2, 8, 10, 0, 9, 0xa3, 0xf1, 0, 0, 0, 0, 1, 3, 3, 7]
        );
        // Without timestamps, SACK-permitted gets its own NOP-padded word.
        let repr = TcpRepr {
            timestamp: None,
            ..syn_repr()
        };
        let len = repr.emit_header(&mut buf);
        assert_eq!(&buf[20..len], &[2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 7]);
    }

    /// The SYN layout's direct reader takes exactly Linux's layout and reads what the option
    /// loop reads; any other SYN options go to the loop.
    #[test]
    fn linux_syn_layout_reads_what_the_option_loop_reads() {
        let mut buf = [0u8; 60];
        for shift in [0u8, 7, 14, 15] {
            let repr = TcpRepr {
                window_scale: Some(shift),
                ..syn_repr()
            };
            let len = repr.emit_header(&mut buf);
            let options = &buf[20..len];
            let syn = linux_syn_options(options).expect("Linux's layout");
            let mut direct = TcpRepr::new(1, 2);
            syn.apply(&mut direct);
            let mut looped = TcpRepr::new(1, 2);
            parse_options_into(options, &mut looped).unwrap();
            assert_eq!(direct, looped, "shift {shift}");
            assert_eq!(direct.window_scale, Some(shift.min(14)));
        }
        let linux = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 9, 0xa3, 0xf1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert!(linux_syn_options(&linux).is_some());
        for (at, byte) in [
            (0, 1),
            (1, 5),
            (4, 1),
            (5, 3),
            (6, 1),
            (7, 9),
            (16, 0),
            (17, 2),
            (18, 4),
        ] {
            let mut other = linux;
            other[at] = byte;
            assert!(linux_syn_options(&other).is_none(), "byte {at} = {byte}");
        }
        assert!(linux_syn_options(&linux[..16]).is_none());
        assert!(linux_syn_options(&[linux.as_slice(), &[1, 1, 1, 1]].concat()).is_none());
    }

    #[test]
    fn data_segments_with_one_two_three_sack_blocks() {
        let ranges = [
            Some((SeqNumber(300), SeqNumber(400))),
            Some((SeqNumber(100), SeqNumber(200))),
            Some((SeqNumber(500), SeqNumber(600))),
        ];
        for count in 1..=3 {
            let mut repr = TcpRepr {
                payload: &[0x42; 64],
                ..data_repr()
            };
            repr.sack_ranges[..count].copy_from_slice(&ranges[..count]);
            assert_eq!(repr.header_len(), 20 + 12 + 4 + 8 * count);
            let segment = build(&repr, CLIENT, SERVER);
            assert_eq!(&segment[32..36], &[1, 1, 5, 2 + 8 * count as u8]);
            assert_eq!(parse(&segment, CLIENT, SERVER), Ok(repr));
        }
    }

    #[test]
    fn timestamps_parse_the_same_in_any_layout() {
        // NOP NOP TS (the layout the fast path takes) and TS NOP NOP (the general loop).
        let repr = data_repr();
        let aligned = build(&repr, CLIENT, SERVER);
        assert_eq!(&aligned[20..24], &[1, 1, 8, 10]);
        assert_eq!(parse(&aligned, CLIENT, SERVER), Ok(repr));
        let mut trailing = aligned.clone();
        trailing[20..30].copy_from_slice(&aligned[22..32]);
        trailing[30..32].copy_from_slice(&[1, 1]);
        TcpRepr::fill_checksum(&mut trailing, CLIENT, SERVER);
        assert_eq!(parse(&trailing, CLIENT, SERVER), Ok(repr));
        // A truncated timestamp behind the two NOPs is still malformed.
        let mut short = aligned.clone();
        short[23] = 9;
        TcpRepr::fill_checksum(&mut short, CLIENT, SERVER);
        assert!(parse(&short, CLIENT, SERVER).is_err());
    }

    #[test]
    fn sack_blocks_beyond_the_option_space_are_dropped() {
        let mut repr = syn_repr();
        repr.sack_ranges = [Some((SeqNumber(1), SeqNumber(2))); 3];
        // 20 bytes of SYN options leave room for 2 blocks.
        assert_eq!(repr.header_len(), 60);
        let parsed_segment = build(&repr, CLIENT, SERVER);
        let parsed = parse(&parsed_segment, CLIENT, SERVER).unwrap();
        assert_eq!(parsed.sack_ranges[..2], repr.sack_ranges[..2]);
        assert_eq!(parsed.sack_ranges[2], None);
    }

    #[test]
    fn window_scale_clamped_to_14() {
        let repr = TcpRepr {
            window_scale: Some(15),
            ..syn_repr()
        };
        let segment = build(&repr, CLIENT, SERVER);
        assert_eq!(segment[39], 14);
        // A received 15 is read as 14 too.
        let mut received = SYN;
        received[39] = 15;
        TcpRepr::fill_checksum(&mut received, CLIENT, SERVER);
        assert_eq!(
            parse(&received, CLIENT, SERVER).unwrap().window_scale,
            Some(14)
        );
    }

    #[test]
    fn flipped_byte_fails_checksum() {
        for (bytes, _, src, dst) in vectors() {
            for at in 0..bytes.len() {
                let mut bad = bytes.to_vec();
                bad[at] ^= 0x01;
                let result = parse(&bad, src, dst);
                assert!(result.is_err(), "flip at {at} accepted");
                // Bytes outside the data offset can only be caught by the checksum.
                if at != field::DATA_OFFSET {
                    assert_eq!(result, Err(Error::Checksum), "flip at {at}");
                }
            }
            // The pseudo-header covers the addresses.
            assert_eq!(parse(bytes, src, OTHER), Err(Error::Checksum));
            assert!(TcpRepr::parse(bytes, dst, src, NO_CHECKSUM).is_ok());
        }
    }

    /// What a device with checksum offload does to a partial checksum (Linux's
    /// `skb_checksum_help`): sums the segment, field included, and stores the complement.
    fn complete_like_a_device(segment: &mut [u8]) {
        let sum = checksum::data(segment);
        segment[field::CHECKSUM].copy_from_slice(&(!sum).to_be_bytes());
    }

    #[test]
    fn partial_checksum_completed_by_a_device_verifies() {
        let mut rng = XorShift::new(7);
        for (bytes, _, src, dst) in vectors() {
            for extra in [0usize, 1, 2, 3, 977, 1460] {
                let mut segment = bytes.to_vec();
                segment.extend((0..extra).map(|_| rng.next_u64() as u8));
                let mut full = segment.clone();
                TcpRepr::fill_checksum(&mut full, src, dst);
                TcpRepr::fill_partial_checksum(&mut segment, src, dst);
                // Not yet a valid checksum (unless by chance equal), but a device finishes it.
                complete_like_a_device(&mut segment);
                assert_eq!(segment, full, "{extra} payload bytes");
                assert!(TcpPacket::new_unchecked(&segment[..]).verify_checksum(src, dst));
            }
        }
    }

    /// A SYN-ish header with the given option bytes (padded with EOL to a word), checksum
    /// skipped on parse.
    fn with_options(options: &[u8]) -> Result<TcpRepr<'static>> {
        let header_len = 20 + options.len().div_ceil(4) * 4;
        let mut buf = vec![0u8; header_len];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        packet.set_src_port(1);
        packet.set_dst_port(2);
        packet.set_header_len(header_len);
        packet.set_flags(TcpFlags::SYN);
        packet.options_mut()[..options.len()].copy_from_slice(options);
        // No payload, so the repr can outlive the buffer.
        TcpRepr::parse(&buf, CLIENT, SERVER, NO_CHECKSUM).map(|r| TcpRepr { payload: &[], ..r })
    }

    #[test]
    fn malformed_option_lengths_rejected() {
        assert_eq!(with_options(&[2, 0, 5, 180]), Err(Error::Malformed)); // length 0
        assert_eq!(with_options(&[2, 1, 5, 180]), Err(Error::Malformed)); // length 1
        assert_eq!(
            with_options(&[1, 1, 1, 8, 10, 0, 0, 0]),
            Err(Error::Malformed)
        ); // past end
        assert_eq!(with_options(&[1, 1, 1, 2]), Err(Error::Malformed)); // kind with no length
        assert_eq!(with_options(&[30, 5, 0, 0]), Err(Error::Malformed)); // unknown, past end
        assert_eq!(with_options(&[99, 0, 0, 0]), Err(Error::Malformed)); // unknown, length 0
    }

    #[test]
    fn unknown_and_odd_options_are_skipped() {
        // Unknown kind 30 (MPTCP) before an MSS; options after EOL are ignored.
        let repr = with_options(&[30, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4, 0, 3, 3, 9]).unwrap();
        assert_eq!(repr.max_seg_size, Some(1460));
        assert_eq!(repr.window_scale, None);
        // An MSS of the wrong length is ignored, not trusted.
        let repr = with_options(&[2, 3, 0x05, 1, 1, 1]).unwrap();
        assert_eq!(repr.max_seg_size, None);
        // A SACK length that is not 2 + 8n is ignored.
        let repr = with_options(&[5, 6, 0, 0, 0, 1, 1, 1]).unwrap();
        assert_eq!(repr.sack_ranges, [None; 3]);
        // Four SACK blocks (no timestamps): the first three are kept.
        let mut four = vec![1, 1, 5, 34];
        for n in 1..=4u32 {
            four.extend_from_slice(&(n * 100).to_be_bytes());
            four.extend_from_slice(&(n * 100 + 50).to_be_bytes());
        }
        let repr = with_options(&four).unwrap();
        let expected = [1u32, 2, 3].map(|n| Some((SeqNumber(n * 100), SeqNumber(n * 100 + 50))));
        assert_eq!(repr.sack_ranges, expected);
        // Lone SACK-permitted and NOPs only.
        let repr = with_options(&[4, 2, 1, 1]).unwrap();
        assert!(repr.sack_permitted);
        assert_eq!(
            with_options(&[1, 1, 1, 1]).map(|r| r.max_seg_size),
            Ok(None)
        );
    }

    #[test]
    fn bad_data_offset_rejected() {
        for offset in 0..5u8 {
            let mut bad = DATA;
            bad[field::DATA_OFFSET] = offset << 4;
            assert_eq!(
                TcpRepr::parse(&bad, CLIENT, SERVER, NO_CHECKSUM),
                Err(Error::Malformed),
                "offset {offset}"
            );
        }
        let mut bad = SACK_ACK;
        bad[field::DATA_OFFSET] = 14 << 4; // 56 bytes > 52
        assert_eq!(
            TcpRepr::parse(&bad, SERVER, CLIENT, NO_CHECKSUM),
            Err(Error::Truncated)
        );
        assert_eq!(
            TcpPacket::new_checked(&bad[..]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn every_prefix_is_rejected() {
        for (bytes, repr, src, dst) in vectors() {
            for len in 0..bytes.len() {
                let prefix = &bytes[..len];
                assert!(parse(prefix, src, dst).is_err(), "prefix {len} of {repr:?}");
                // Without the checksum, a prefix that keeps the header is a shorter segment.
                let unchecked = TcpRepr::parse(prefix, src, dst, NO_CHECKSUM);
                if len >= repr.header_len() {
                    let payload = &repr.payload[..len - repr.header_len()];
                    assert_eq!(unchecked, Ok(TcpRepr { payload, ..repr }));
                } else {
                    assert_eq!(unchecked, Err(Error::Truncated), "prefix {len}");
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift::new(9293);
        let mut buf = [0u8; 96];
        let mut accepted = 0;
        for i in 0..50_000 {
            let len = i % buf.len();
            rng.fill(&mut buf[..len]);
            if len >= 20 && i % 3 != 0 {
                // A data offset that fits, so the option parser sees random bytes.
                let words = 5 + (rng.next_u64() as usize % (len.min(60) / 4 - 4));
                buf[field::DATA_OFFSET] = (words as u8) << 4;
            }
            if i % 7 == 0 && len > 22 {
                buf[20] = [2, 3, 4, 5, 8][i % 5]; // a known kind with a random length
            }
            let _ = TcpRepr::parse(&buf[..len], CLIENT, SERVER, ChecksumCaps::default());
            if let Ok(repr) = TcpRepr::parse(&buf[..len], CLIENT, SERVER, NO_CHECKSUM) {
                accepted += 1;
                // Whatever parses can be emitted again and means the same.
                let segment = build(&repr, CLIENT, SERVER);
                let again = parse(&segment, CLIENT, SERVER).unwrap();
                assert_eq!(again.payload, repr.payload);
                assert_eq!(again.timestamp, repr.timestamp);
                assert_eq!(again.max_seg_size, repr.max_seg_size);
            }
        }
        assert!(accepted > 1000, "only {accepted} random headers parsed");
    }

    #[test]
    fn timestamps_only_header_matches_planned_layout() {
        let mut repr = TcpRepr::new(40000, 80);
        repr.seq_number = SeqNumber(0xdead_beef);
        repr.ack_number = SeqNumber(0x0102_0304);
        repr.window_len = 0xfffe;
        repr.urgent_pointer = 0x0a0b;
        for flags in [TcpFlags::ACK, TcpFlags::ACK | TcpFlags::PSH, TcpFlags::FIN] {
            repr.flags = flags;
            repr.timestamp = Some(TcpTimestamp {
                tsval: 0x1122_3344,
                tsecr: u32::MAX,
            });
            let (mut fast, mut planned) = ([0x5au8; 60], [0x5au8; 60]);
            let n = repr.emit_header(&mut fast);
            assert_eq!(n, repr.header_len());
            assert_eq!(n, repr.emit_header_planned(&mut planned));
            assert_eq!(fast, planned);
            let parsed = TcpPacket::new_checked(&fast[..n]).unwrap();
            assert_eq!(parsed.header_len(), 32);
        }
        // Any other option takes the planned layout.
        repr.sack_ranges[2] = Some((SeqNumber(1), SeqNumber(2)));
        assert!(repr.timestamps_only().is_none());
        assert_eq!(repr.header_len(), 44);
    }

    #[test]
    fn seq_numbers_compare_modulo_2_32() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20;
        assert_eq!(b, SeqNumber(9));
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b.partial_cmp(&a), Some(core::cmp::Ordering::Greater));
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
        assert_eq!(a.max(b), b);
        assert_eq!(b.min(a), a);
        assert_eq!(data_repr().segment_len(), 18);
        assert_eq!(syn_repr().segment_len(), 1);
    }
}
