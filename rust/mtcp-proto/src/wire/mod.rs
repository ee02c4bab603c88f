//! Wire formats: zero-copy packet views and parsed representations (smoltcp style).
//!
//! Each protocol has a `Packet<T: AsRef<[u8]>>` view with field accessors over a byte buffer
//! (`new_checked` validates lengths on input, `new_unchecked` is for emitting into a buffer that
//! is known to be large enough), and a `Repr` that is the parsed, validated meaning of a packet
//! with `parse`, `buffer_len`/`header_len` and `emit`.
//!
//! | protocol | module | reference |
//! |---|---|---|
//! | Ethernet II | [`ethernet`] | IEEE 802.3 |
//! | ARP | [`arp`] | RFC 826 |
//! | IPv4 | [`ipv4`] | RFC 791, RFC 1122 §3.2.1 |
//! | ICMPv4 | [`icmpv4`] | RFC 792 |
//! | TCP | [`tcp`] | RFC 9293 §3.1, RFC 7323 (window scale, timestamps), RFC 2018 (SACK) |
//! | Internet checksum | [`checksum`] | RFC 1071, RFC 1624 |

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod tcp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmpv4::{Icmpv4Message, Icmpv4Packet, Icmpv4Repr};
pub use ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
pub use tcp::{AddressSum, PlainHeader, SeqNumber, TcpFlags, TcpPacket, TcpRepr, TcpTimestamp};

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header or than a length field says.
    Truncated,
    /// A field holds a value that makes the packet invalid (bad version, bad header length, …).
    Malformed,
    /// The checksum does not match.
    Checksum,
    /// Valid, but something this stack does not handle (e.g. IPv4 fragments, IPv4 options).
    Unsupported,
}

/// Result of parsing.
pub type Result<T> = core::result::Result<T, Error>;

/// Which checksums to compute and verify in software. A device with offloads clears some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumCaps {
    /// Verify checksums of received packets.
    pub rx: bool,
    /// Fill checksums of emitted packets.
    pub tx: bool,
}

impl Default for ChecksumCaps {
    fn default() -> Self {
        ChecksumCaps { rx: true, tx: true }
    }
}

/// Helpers shared by the wire tests.
#[cfg(test)]
pub(crate) mod test_util {
    /// A tiny deterministic generator (xorshift64, Marsaglia 2003) so tests need no crates.
    pub(crate) struct XorShift(u64);

    impl XorShift {
        pub(crate) fn new(seed: u64) -> XorShift {
            XorShift(seed | 1)
        }
        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        pub(crate) fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.next_u64() as u8;
            }
        }
    }
}
