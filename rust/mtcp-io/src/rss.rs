//! Receive-side scaling in software: the Toeplitz hash of the Microsoft RSS specification
//! ("Verifying the RSS Hash Calculation", NDIS RSS) with mTCP's symmetric key (0x05 repeated),
//! so both directions of a flow land on the same queue.
//!
//! Backends without hardware queues ([`crate::memory`], [`crate::sim`]) call [`steer_frame`]
//! to pick the receive queue of each frame exactly as a NIC with RSS enabled would: the hash of
//! the IPv4/TCP 4-tuple, its low 7 bits index a 128-entry indirection table filled round-robin
//! with the queue numbers.

/// mTCP's Toeplitz key: 0x05 repeated 40 times.
///
/// The key is periodic with a period of 8 bits, and the RSS input places the two addresses 32
/// bits apart and the two ports 16 bits apart; swapping source and destination therefore moves
/// every input bit by a multiple of 8 bit positions, onto an identical 32-bit key window, so
/// `flow_hash(a, b, pa, pb) == flow_hash(b, a, pb, pa)` and both directions of a connection
/// are steered to the same queue (the context that owns the connection).
pub const SYMMETRIC_KEY: [u8; 40] = [0x05; 40];

/// Entries of the RSS indirection table ("RETA") that NICs index with the low bits of the hash.
pub const INDIRECTION_ENTRIES: usize = 128;

/// Toeplitz hash of `input` under `key` (Microsoft RSS specification).
///
/// For every bit of `input` that is set, most significant bit first, the 32-bit window of the
/// key that starts at that bit's position is XORed into the result. The spec requires the key to
/// be at least `input.len() + 4` bytes long; key bits past the end of a shorter key are taken as
/// zero (no panic).
pub fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
    let key_byte = |i: usize| u64::from(key.get(i).copied().unwrap_or(0));
    let mut hash = 0u32;
    for (i, &byte) in input.iter().enumerate() {
        // Key bits [8i, 8i + 40) in the top 40 bits of a u64: the windows of all 8 bit
        // positions of this input byte are in it.
        let window = key_byte(i) << 56
            | key_byte(i + 1) << 48
            | key_byte(i + 2) << 40
            | key_byte(i + 3) << 32
            | key_byte(i + 4) << 24;
        for bit in 0..8 {
            // All ones when the input bit is set, zero otherwise: no branch per bit.
            let mask = 0u32.wrapping_sub(u32::from((byte >> (7 - bit)) & 1));
            hash ^= ((window << bit) >> 32) as u32 & mask;
        }
    }
    hash
}

/// RSS hash of an IPv4/TCP 4-tuple with [`SYMMETRIC_KEY`].
///
/// The input is laid out as the RSS specification prescribes for "IPv4 with TCP": source
/// address, destination address, source port, destination port, all in network byte order
/// (12 bytes).
///
/// Computed the short way: the key repeats every 8 bits, so the key window a set input bit
/// selects depends only on its position within its byte, and the hash of the 12 bytes equals
/// the hash of their XOR taken as a one-byte input — one table lookup ([`BYTE_HASH`]) instead
/// of 96 bit steps. Equal to [`toeplitz`]`(&SYMMETRIC_KEY, ..)` (tested).
#[inline]
pub fn flow_hash(src_ip: [u8; 4], dst_ip: [u8; 4], src_port: u16, dst_port: u16) -> u32 {
    let word = u32::from_ne_bytes(src_ip)
        ^ u32::from_ne_bytes(dst_ip)
        ^ u32::from(src_port)
        ^ u32::from(dst_port);
    let [a, b, c, d] = word.to_ne_bytes();
    BYTE_HASH[usize::from(a ^ b ^ c ^ d)]
}

/// [`toeplitz`] with [`SYMMETRIC_KEY`] of every one-byte input, built at compile time.
static BYTE_HASH: [u32; 256] = byte_hashes();

const fn byte_hashes() -> [u32; 256] {
    // Window of the key at bit offset j (0 = most significant bit of a byte): the key is one
    // byte repeated, so it is that byte's bit pattern rotated and repeated over 32 bits.
    let key = SYMMETRIC_KEY[0] as u32;
    let repeated = key << 24 | key << 16 | key << 8 | key;
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut hash = 0u32;
        let mut bit = 0;
        while bit < 8 {
            if byte & (0x80 >> bit) != 0 {
                hash ^= repeated.rotate_left(bit);
            }
            bit += 1;
        }
        table[byte] = hash;
        byte += 1;
    }
    table
}

/// The 12-byte RSS input of an IPv4 4-tuple (addresses, then ports, big-endian): what
/// [`flow_hash`] hashes, spelled out for the tests that check it against [`toeplitz`].
#[cfg(test)]
fn tuple_input(src_ip: [u8; 4], dst_ip: [u8; 4], sport: u16, dport: u16) -> [u8; 12] {
    let mut input = [0u8; 12];
    input[0..4].copy_from_slice(&src_ip);
    input[4..8].copy_from_slice(&dst_ip);
    input[8..10].copy_from_slice(&sport.to_be_bytes());
    input[10..12].copy_from_slice(&dport.to_be_bytes());
    input
}

/// Queue of a hash, as a NIC computes it: the low 7 bits of the hash index a
/// [`INDIRECTION_ENTRIES`]-entry indirection table whose entry `i` holds `i % num_queues` (the
/// default round-robin fill of drivers and of mTCP's `GetRSSCPUCore`), so the queue is
/// `(hash % 128) % num_queues`. `num_queues == 0` gives 0.
pub fn queue_for(hash: u32, num_queues: usize) -> usize {
    if num_queues == 0 {
        return 0;
    }
    (hash as usize % INDIRECTION_ENTRIES) % num_queues
}

/// Where a received frame goes among the queues of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// To this one queue.
    Queue(usize),
    /// A copy to every queue (ARP and traffic that belongs to no flow: every context keeps its
    /// own ARP table and sees it).
    All,
}

const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const IP_PROTO_ICMP: u8 = 1;
const IP_PROTO_TCP: u8 = 6;

/// Picks the receive queue of an Ethernet frame among `num_queues` queues.
///
/// - IPv4/TCP, not fragmented (RFC 791 §3.1: MF clear and fragment offset 0) →
///   [`Steer::Queue`] of the [`flow_hash`] of its 4-tuple (source, destination as they are in
///   the frame; the key is symmetric so replies land on the same queue).
/// - IPv4 fragments (no ports to hash in most of them) and ICMP → `Queue(0)`: handled once, by
///   the first context.
/// - ARP, other IPv4 protocols, other EtherTypes and frames too short to parse → [`Steer::All`].
///
/// With one queue (or none) everything is `Queue(0)`. Never panics.
pub fn steer_frame(frame: &[u8], num_queues: usize) -> Steer {
    if num_queues <= 1 {
        return Steer::Queue(0);
    }
    let Some(ethertype) = frame.get(12..14) else {
        return Steer::All;
    };
    if u16::from_be_bytes([ethertype[0], ethertype[1]]) != ETHERTYPE_IPV4 {
        return Steer::All;
    }
    let ip = &frame[ETH_HEADER..];
    let Some(&version_ihl) = ip.first() else {
        return Steer::All;
    };
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || header_len < 20 || ip.len() < header_len {
        return Steer::All;
    }
    let flags_fragment = u16::from_be_bytes([ip[6], ip[7]]);
    let more_fragments = flags_fragment & 0x2000 != 0;
    let fragment_offset = flags_fragment & 0x1fff;
    if more_fragments || fragment_offset != 0 {
        return Steer::Queue(0);
    }
    match ip[9] {
        IP_PROTO_TCP => {
            let Some(ports) = ip.get(header_len..header_len + 4) else {
                return Steer::All;
            };
            let src_ip = [ip[12], ip[13], ip[14], ip[15]];
            let dst_ip = [ip[16], ip[17], ip[18], ip[19]];
            let sport = u16::from_be_bytes([ports[0], ports[1]]);
            let dport = u16::from_be_bytes([ports[2], ports[3]]);
            Steer::Queue(queue_for(
                flow_hash(src_ip, dst_ip, sport, dport),
                num_queues,
            ))
        }
        IP_PROTO_ICMP => Steer::Queue(0),
        _ => Steer::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of the Microsoft RSS verification suite.
    const MS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// (destination, destination port, source, source port, IPv4-only hash, IPv4/TCP hash),
    /// the IPv4 table of "Verifying the RSS Hash Calculation".
    type Vector = ([u8; 4], u16, [u8; 4], u16, u32, u32);
    const MS_VECTORS: [Vector; 5] = [
        (
            [161, 142, 100, 80],
            1766,
            [66, 9, 149, 187],
            2794,
            0x323e_8fc2,
            0x51cc_c178,
        ),
        (
            [65, 69, 140, 83],
            4739,
            [199, 92, 111, 2],
            14230,
            0xd718_262a,
            0xc626_b0ea,
        ),
        (
            [12, 22, 207, 184],
            38024,
            [24, 19, 198, 95],
            12898,
            0xd2d0_a5de,
            0x5c2b_394a,
        ),
        (
            [209, 142, 163, 6],
            2217,
            [38, 27, 205, 30],
            48228,
            0x8298_9176,
            0xafc7_327f,
        ),
        (
            [202, 188, 127, 2],
            1303,
            [153, 39, 163, 191],
            44251,
            0x5d18_09c5,
            0x10e8_28a2,
        ),
    ];

    #[test]
    fn microsoft_vectors_ipv4_with_tcp() {
        for (dst, dport, src, sport, _, want) in MS_VECTORS {
            let got = toeplitz(&MS_KEY, &tuple_input(src, dst, sport, dport));
            assert_eq!(got, want, "{src:?}:{sport} -> {dst:?}:{dport}");
        }
    }

    #[test]
    fn microsoft_vectors_ipv4_only() {
        for (dst, _, src, _, want, _) in MS_VECTORS {
            let mut input = [0u8; 8];
            input[..4].copy_from_slice(&src);
            input[4..].copy_from_slice(&dst);
            assert_eq!(toeplitz(&MS_KEY, &input), want, "{src:?} -> {dst:?}");
        }
    }

    /// Bit-at-a-time reference straight from the specification's pseudo-code.
    fn toeplitz_reference(key: &[u8], input: &[u8]) -> u32 {
        let key_bit = |i: usize| key.get(i / 8).map_or(0, |b| (b >> (7 - i % 8)) & 1);
        let mut result = 0u32;
        for i in 0..input.len() * 8 {
            if (input[i / 8] >> (7 - i % 8)) & 1 == 1 {
                let mut window = 0u32;
                for j in 0..32 {
                    window = window << 1 | u32::from(key_bit(i + j));
                }
                result ^= window;
            }
        }
        result
    }

    #[test]
    fn matches_reference_on_pseudo_random_inputs() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..=36 {
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            assert_eq!(
                toeplitz(&MS_KEY, &input),
                toeplitz_reference(&MS_KEY, &input)
            );
            assert_eq!(
                toeplitz(&MS_KEY[..7], &input),
                toeplitz_reference(&MS_KEY[..7], &input)
            );
        }
    }

    #[test]
    fn flow_hash_is_the_toeplitz_hash() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (src, dst) = (
                (seed as u32).to_be_bytes(),
                ((seed >> 32) as u32).to_be_bytes(),
            );
            let (sport, dport) = ((seed >> 16) as u16, (seed >> 48) as u16);
            assert_eq!(
                flow_hash(src, dst, sport, dport),
                toeplitz_reference(&SYMMETRIC_KEY, &tuple_input(src, dst, sport, dport))
            );
        }
    }

    #[test]
    fn symmetric_key_is_symmetric() {
        for (dst, dport, src, sport, _, _) in MS_VECTORS {
            assert_eq!(
                flow_hash(src, dst, sport, dport),
                flow_hash(dst, src, dport, sport)
            );
        }
        // And the Microsoft key is not: the property comes from the key.
        let (dst, dport, src, sport, _, _) = MS_VECTORS[0];
        assert_ne!(
            toeplitz(&MS_KEY, &tuple_input(src, dst, sport, dport)),
            toeplitz(&MS_KEY, &tuple_input(dst, src, dport, sport))
        );
    }

    #[test]
    fn queue_for_uses_indirection_table() {
        assert_eq!(queue_for(0xffff_ff80, 3), 0);
        assert_eq!(queue_for(0x0000_0085, 4), 5 % 4);
        assert_eq!(queue_for(127, 4), 127 % 4);
        assert_eq!(queue_for(129, 3), 1);
        assert_eq!(queue_for(12345, 0), 0);
    }

    #[test]
    fn steer_short_and_odd_frames() {
        assert_eq!(steer_frame(&[], 4), Steer::All);
        assert_eq!(steer_frame(&[0u8; 13], 4), Steer::All);
        let mut frame = [0u8; 14];
        frame[12] = 0x08;
        assert_eq!(steer_frame(&frame, 4), Steer::All);
        assert_eq!(steer_frame(&frame, 1), Steer::Queue(0));
    }
}
