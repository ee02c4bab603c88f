//! The Internet checksum (RFC 1071), with incremental update (RFC 1624).
//!
//! The functions here return the *folded one's-complement sum* of their input, not yet
//! complemented, so that partial sums (pseudo-header, header, payload) can be added with
//! [`combine`]. The value stored in a checksum field is `!combine(&[...])`; a packet verifies
//! when the sum over everything, checksum field included, is `0xffff` (RFC 1071 §1).
use core::net::Ipv4Addr;

use super::ipv4::IpProtocol;

/// Folds a wide one's-complement accumulator down to 16 bits (end-around carry, RFC 1071 §2(C)).
const fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The folded one's-complement sum of `data` taken as big-endian 16-bit words, an odd last byte
/// padded with a zero (RFC 1071 §1).
///
/// The loop adds 8 bytes at a time in native byte order into a 64-bit accumulator and swaps once
/// at the end; that is valid because the one's-complement sum is byte-order independent
/// (RFC 1071 §2(B)) and "deferred carries" may be folded at the end (RFC 1071 §2(C)).
pub fn data(data: &[u8]) -> u16 {
    // Each step adds two 32-bit halves (< 2^33), so the accumulator cannot overflow before
    // 2^31 steps — 16 GiB of input, far beyond any packet.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes([
            chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
        ]);
        acc += (word >> 32) + (word & 0xffff_ffff);
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 4 {
        acc += u64::from(u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]));
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        acc += u64::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // The odd byte is the high-order byte of a word whose low byte is zero; in native order
        // that word has the byte at the lower address.
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    // The native-order sum's bytes, read big-endian, are the big-endian sum.
    u16::from_be_bytes(fold(acc).to_ne_bytes())
}

/// Adds partial sums (from [`data`], [`pseudo_header_v4`], or 16-bit fields) in one's complement.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The sum of the IPv4 pseudo-header that TCP and UDP checksums cover (RFC 9293 §3.1,
/// RFC 768): source and destination address, zero, protocol, and the upper-layer length.
pub fn pseudo_header_v4(
    src_addr: Ipv4Addr,
    dst_addr: Ipv4Addr,
    protocol: IpProtocol,
    length: u16,
) -> u16 {
    let src = src_addr.octets();
    let dst = dst_addr.octets();
    let words = [
        u16::from_be_bytes([src[0], src[1]]),
        u16::from_be_bytes([src[2], src[3]]),
        u16::from_be_bytes([dst[0], dst[1]]),
        u16::from_be_bytes([dst[2], dst[3]]),
        u16::from(u8::from(protocol)),
        length,
    ];
    combine(&words)
}

/// Updates a stored checksum after one 16-bit word of the covered data changed from `old_word`
/// to `new_word`, without touching the rest of the data (RFC 1624 §3, equation 3:
/// `HC' = ~(~HC + ~m + m')`).
pub fn update(checksum: u16, old_word: u16, new_word: u16) -> u16 {
    !combine(&[!checksum, !old_word, new_word])
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::test_util::XorShift;

    /// The textbook algorithm: 16-bit big-endian words, 32-bit accumulator, fold at the end.
    fn naive(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = if pair.len() == 2 {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], 0])
            };
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 2ddf0, which folds to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(!data(&bytes), 0x220d);
    }

    #[test]
    fn ipv4_header_vector() {
        // A well-known IPv4 header whose checksum field holds b861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(!data(&header), 0xb861);
        let mut with_sum = header;
        with_sum[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(data(&with_sum), 0xffff);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn matches_naive_on_random_buffers() {
        let mut rng = XorShift::new(0x5eed_1071);
        let mut buf = [0u8; 2100];
        for len in (0..64).chain([127, 128, 129, 1459, 1460, 1461, 2047, 2100]) {
            for _ in 0..8 {
                rng.fill(&mut buf[..len]);
                assert_eq!(data(&buf[..len]), naive(&buf[..len]), "length {len}");
            }
        }
        // Every byte 0xff maximises carries.
        let ones = [0xffu8; 1461];
        for len in 0..ones.len() {
            assert_eq!(data(&ones[..len]), naive(&ones[..len]), "length {len}");
        }
    }

    #[test]
    fn combine_equals_sum_of_concatenation() {
        let mut rng = XorShift::new(42);
        let mut buf = [0u8; 600];
        rng.fill(&mut buf);
        // Splitting at an even offset keeps word alignment, so partial sums add up.
        for split in (0..buf.len()).step_by(2) {
            let (a, b) = buf.split_at(split);
            assert_eq!(combine(&[data(a), data(b)]), data(&buf));
        }
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(192, 168, 200, 77);
        let bytes = [10, 0, 0, 1, 192, 168, 200, 77, 0, 6, 0x05, 0xdc];
        assert_eq!(
            pseudo_header_v4(src, dst, IpProtocol::Tcp, 1500),
            naive(&bytes)
        );
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut rng = XorShift::new(1624);
        let mut buf = [0u8; 64];
        for _ in 0..1000 {
            rng.fill(&mut buf);
            buf[10..12].fill(0);
            let stored = !data(&buf);
            buf[10..12].copy_from_slice(&stored.to_be_bytes());
            let at = (rng.next_u64() as usize % 32) * 2;
            if at == 10 {
                continue;
            }
            let old = u16::from_be_bytes([buf[at], buf[at + 1]]);
            let new = rng.next_u64() as u16;
            buf[at..at + 2].copy_from_slice(&new.to_be_bytes());
            let updated = update(stored, old, new);
            buf[10..12].fill(0);
            assert_eq!(updated, !data(&buf));
        }
    }
}
