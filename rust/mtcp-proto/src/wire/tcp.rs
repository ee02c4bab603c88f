//! TCP header (RFC 9293 §3.1) with the options mtcp speaks: MSS (RFC 9293 §3.7.1), window scale
//! and timestamps (RFC 7323 §2, §3), SACK-permitted and SACK (RFC 2018 §2, §3).
//!
//! CONTRACT (fixed shape, shared by the TCP engine): `SeqNumber`, `TcpFlags`, `TcpTimestamp`,
//! `TcpRepr` and the signatures of `TcpRepr::{parse, header_len, emit_header, fill_checksum}`.
use core::net::Ipv4Addr;
use core::ops::{Add, AddAssign, Sub};

use super::{ChecksumCaps, Result};

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
        if self > other { self } else { other }
    }
    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if self < other { self } else { other }
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

    /// Length of the header with the options this repr carries, padded to 32 bits.
    pub fn header_len(&self) -> usize {
        TcpPacket::<&[u8]>::repr_header_len(self)
    }

    /// Writes the header and options (not the payload, not the checksum) at the start of `buf`
    /// and returns the header length. `buf` must hold at least `header_len()` bytes.
    /// The caller then copies the payload behind it and calls [`TcpRepr::fill_checksum`].
    pub fn emit_header(&self, buf: &mut [u8]) -> usize {
        TcpPacket::emit_repr_header(self, buf)
    }

    /// Computes and stores the checksum of the complete segment `segment` (header + payload)
    /// with the IPv4 pseudo-header (RFC 9293 §3.1).
    pub fn fill_checksum(segment: &mut [u8], src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        TcpPacket::fill_segment_checksum(segment, src_addr, dst_addr)
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
        let _ = &buffer;
        todo!("wire helper: implement")
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// Parses the full representation (see [`TcpRepr::parse`]).
    pub fn parse_repr(
        &self,
        src_addr: Ipv4Addr,
        dst_addr: Ipv4Addr,
        caps: ChecksumCaps,
    ) -> Result<TcpRepr<'a>> {
        let _ = (src_addr, dst_addr, caps);
        todo!("wire helper: implement")
    }
}

impl TcpPacket<&[u8]> {
    fn repr_header_len(repr: &TcpRepr<'_>) -> usize {
        let _ = repr;
        todo!("wire helper: implement")
    }
}

impl TcpPacket<&mut [u8]> {
    fn emit_repr_header(repr: &TcpRepr<'_>, buf: &mut [u8]) -> usize {
        let _ = (repr, buf);
        todo!("wire helper: implement")
    }

    fn fill_segment_checksum(segment: &mut [u8], src_addr: Ipv4Addr, dst_addr: Ipv4Addr) {
        let _ = (segment, src_addr, dst_addr);
        todo!("wire helper: implement")
    }
}
