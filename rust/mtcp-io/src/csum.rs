//! Completing the TCP/UDP checksum of a frame the kernel hands over unfinished, and
//! verifying the checksums of a frame for a port that vouches for them to the stack.
//!
//! A frame sent by the local kernel through a device with transmit checksum offload
//! (`CHECKSUM_PARTIAL`, e.g. a veth peer with `tx` on) reaches an AF_PACKET socket on the same
//! host with only the pseudo-header sum in its checksum field; the ring marks it
//! `TP_STATUS_CSUMNOTREADY` (packet(7)). Such a frame never crossed a wire, so Linux's own TCP
//! takes it as verified; a user-space stack that checks every checksum would drop it.
//! [`complete_l4_checksum`] fills in the real checksum (RFC 1071 over the RFC 9293 §3.1
//! pseudo-header and the segment), after which the frame verifies like any other.
use crate::frame::ETH_HEADER;

const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;
/// Where the checksum field sits in a TCP header (RFC 9293 §3.1) and a UDP header (RFC 768).
const TCP_CHECKSUM_AT: usize = 16;
/// [`TCP_CHECKSUM_AT`] as a device's `csum_offset`.
pub(crate) const TCP_CHECKSUM_OFFSET: u16 = TCP_CHECKSUM_AT as u16;
const UDP_CHECKSUM_AT: usize = 6;

/// Why a frame's checksum could not be completed (the caller drops the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// Not an IPv4 frame, or its header is cut short or inconsistent.
    NotIpv4,
    /// A fragment, or neither TCP nor UDP: nothing here to complete.
    NotCompletable,
}

/// Writes the TCP or UDP checksum of the IPv4 packet in Ethernet frame `frame`, computed over
/// the pseudo-header and the whole segment (the field's old content is ignored). The IPv4
/// header checksum is left as it is (the kernel always finishes it).
pub(crate) fn complete_l4_checksum(frame: &mut [u8]) -> Result<(), Incomplete> {
    match frame.get(12..14) {
        Some(ethertype) if be16(ethertype) == ETHERTYPE_IPV4 => {}
        _ => return Err(Incomplete::NotIpv4),
    }
    let ip = &mut frame[ETH_HEADER..];
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Err(Incomplete::NotIpv4);
    }
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total_len = usize::from(be16(&ip[2..4]));
    if header_len < 20 || total_len < header_len || total_len > ip.len() {
        return Err(Incomplete::NotIpv4);
    }
    // More-fragments flag or a fragment offset: the segment is not all here.
    if be16(&ip[6..8]) & 0x3fff != 0 {
        return Err(Incomplete::NotCompletable);
    }
    let protocol = ip[9];
    let at = match protocol {
        PROTO_TCP => TCP_CHECKSUM_AT,
        PROTO_UDP => UDP_CHECKSUM_AT,
        _ => return Err(Incomplete::NotCompletable),
    };
    let (header, rest) = ip[..total_len].split_at_mut(header_len);
    if rest.len() < at + 2 {
        return Err(Incomplete::NotIpv4);
    }
    rest[at] = 0;
    rest[at + 1] = 0;
    let segment_len = rest.len() as u64; // at most a frame: no overflow
    let pseudo = sum32(&header[12..20]) + u64::from(protocol) + segment_len;
    let mut checksum = !fold(pseudo + sum32(rest));
    if protocol == PROTO_UDP && checksum == 0 {
        checksum = 0xffff; // RFC 768: a computed 0 is sent as all ones (0 means "none")
    }
    rest[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
    Ok(())
}

/// Whether the checksums of IPv4 frame `frame` are right: the IPv4 header's (RFC 791 §3.1)
/// and the TCP, UDP or ICMP one (RFC 9293 §3.1, RFC 768, RFC 792), by RFC 1071. What this
/// can't judge passes — not IPv4, a malformed header, a fragment, another protocol — since
/// the stack drops or ignores those itself. A port that tells the stack it verified
/// checksums uses this for the frames the kernel did not vouch for.
pub(crate) fn verify_frame(frame: &[u8]) -> bool {
    if frame.get(12..14).map(be16) != Some(ETHERTYPE_IPV4) {
        return true;
    }
    let ip = &frame[ETH_HEADER..];
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return true;
    }
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let total_len = usize::from(be16(&ip[2..4]));
    if header_len < 20 || total_len < header_len || total_len > ip.len() {
        return true;
    }
    if fold(sum32(&ip[..header_len])) != 0xffff {
        return false;
    }
    if be16(&ip[6..8]) & 0x3fff != 0 {
        return true;
    }
    let segment = &ip[header_len..total_len];
    let pseudo = sum32(&ip[12..20]) + u64::from(ip[9]) + segment.len() as u64;
    match ip[9] {
        PROTO_TCP => fold(pseudo + sum32(segment)) == 0xffff,
        // RFC 768: a zero checksum means the sender computed none.
        PROTO_UDP if segment.get(UDP_CHECKSUM_AT..UDP_CHECKSUM_AT + 2) == Some(&[0, 0]) => true,
        PROTO_UDP => fold(pseudo + sum32(segment)) == 0xffff,
        PROTO_ICMP => fold(sum32(segment)) == 0xffff,
        _ => true,
    }
}

/// Where the TCP header of IPv4 frame `frame` starts (a device's `csum_start`), when it is an
/// unfragmented TCP packet whose checksum field lies inside the frame.
pub(crate) fn tcp_checksum_start(frame: &[u8]) -> Option<u16> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(ETH_HEADER..ETH_HEADER + 20)?;
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if ip[0] >> 4 != 4 || header_len < 20 || ip[9] != 6 || fragment {
        return None;
    }
    let start = ETH_HEADER + header_len;
    (frame.len() >= start + usize::from(TCP_CHECKSUM_OFFSET) + 2).then_some(start as u16)
}

fn be16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// The one's-complement sum of `data` as big-endian 16-bit words, not yet folded: 32-bit words
/// at a time (RFC 1071 §2(B): the sum can be taken in wider words and folded at the end), an
/// odd last byte padded with zero.
fn sum32(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    let mut sum: u64 = 0;
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let tail = words.remainder();
    let mut padded = [0u8; 4];
    padded[..tail.len()].copy_from_slice(tail);
    sum + u64::from(u32::from_be_bytes(padded))
}

/// Folds a wide one's-complement sum to 16 bits (end-around carries).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 1071 sum done the plain way, 16 bits at a time: an independent reference.
    fn reference_sum(parts: &[&[u8]]) -> u16 {
        let mut sum: u32 = 0;
        for part in parts {
            for pair in part.chunks(2) {
                let hi = u32::from(pair[0]) << 8;
                let lo = pair.get(1).map_or(0, |&b| u32::from(b));
                sum += hi | lo;
                sum = (sum & 0xffff) + (sum >> 16);
            }
        }
        sum as u16
    }

    /// Ethernet + IPv4 (no options) + an L4 header of `l4_header` bytes + `payload`, with
    /// garbage in the checksum field (as the pseudo-header sum the kernel leaves would be).
    fn frame(protocol: u8, l4_header: usize, payload: &[u8]) -> Vec<u8> {
        let total = 20 + l4_header + payload.len();
        let mut f = vec![0u8; ETH_HEADER + total];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let ip = &mut f[ETH_HEADER..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = protocol;
        ip[12..16].copy_from_slice(&[198, 18, 10, 1]);
        ip[16..20].copy_from_slice(&[198, 18, 10, 2]);
        for (i, b) in ip[20..20 + l4_header].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        ip[20 + l4_header..].copy_from_slice(payload);
        f
    }

    fn verifies(f: &[u8]) -> bool {
        let ip = &f[ETH_HEADER..];
        let total = usize::from(be16(&ip[2..4]));
        let segment = &ip[20..total];
        let pseudo_tail = [0, ip[9], (segment.len() >> 8) as u8, segment.len() as u8];
        reference_sum(&[&ip[12..20], &pseudo_tail, segment]) == 0xffff
    }

    #[test]
    fn completed_tcp_checksums_verify_for_even_and_odd_lengths() {
        for len in [0usize, 1, 2, 3, 7, 536, 1459, 1460] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut f = frame(PROTO_TCP, 20, &payload);
            f[ETH_HEADER + 20 + TCP_CHECKSUM_AT] = 0x12;
            assert!(!verifies(&f), "the test frame must start out wrong");
            complete_l4_checksum(&mut f).unwrap();
            assert!(verifies(&f), "payload of {len} bytes");
        }
    }

    #[test]
    fn completed_udp_checksum_verifies() {
        let mut f = frame(PROTO_UDP, 8, b"an odd-length udp payload");
        complete_l4_checksum(&mut f).unwrap();
        assert!(verifies(&f));
        assert_ne!(be16(&f[ETH_HEADER + 20 + UDP_CHECKSUM_AT..]), 0);
    }

    #[test]
    fn ethernet_padding_after_the_ip_packet_is_not_summed() {
        let mut f = frame(PROTO_TCP, 20, b"x");
        let clean = {
            let mut c = f.clone();
            complete_l4_checksum(&mut c).unwrap();
            c
        };
        f.extend_from_slice(&[0xaa; 9]); // padding to the 60-byte minimum
        complete_l4_checksum(&mut f).unwrap();
        assert_eq!(&f[..clean.len()], &clean[..]);
    }

    /// `frame` with a correct IPv4 header checksum.
    fn with_ip_checksum(mut f: Vec<u8>) -> Vec<u8> {
        f[ETH_HEADER + 10..ETH_HEADER + 12].fill(0);
        let sum = !fold(sum32(&f[ETH_HEADER..ETH_HEADER + 20]));
        f[ETH_HEADER + 10..ETH_HEADER + 12].copy_from_slice(&sum.to_be_bytes());
        f
    }

    #[test]
    fn verify_frame_accepts_good_and_rejects_each_flipped_byte() {
        for (protocol, l4_header) in [(PROTO_TCP, 20), (PROTO_UDP, 8), (PROTO_ICMP, 8)] {
            for len in [0usize, 1, 64, 1001] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let mut f = frame(protocol, l4_header, &payload);
                if protocol == PROTO_ICMP {
                    let icmp = &mut f[ETH_HEADER + 20..];
                    icmp[2..4].fill(0);
                    let sum = !fold(sum32(icmp));
                    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
                } else {
                    complete_l4_checksum(&mut f).unwrap();
                }
                let f = with_ip_checksum(f);
                assert!(verify_frame(&f), "protocol {protocol}, {len} bytes");
                // Every byte from the IPv4 header on is covered by one checksum or the other,
                // except the fragment field (a fragment passes) and the version/length byte
                // and total length (a malformed header passes: the stack drops it).
                for at in ETH_HEADER..f.len() {
                    if [ETH_HEADER, ETH_HEADER + 2, ETH_HEADER + 3, ETH_HEADER + 6].contains(&at) {
                        continue;
                    }
                    let mut bad = f.clone();
                    bad[at] ^= 0x10;
                    assert!(
                        !verify_frame(&bad),
                        "protocol {protocol}: flip at {at} passed"
                    );
                }
            }
        }
    }

    #[test]
    fn verify_frame_passes_what_it_cannot_judge() {
        let mut arp = frame(PROTO_TCP, 20, b"x");
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert!(verify_frame(&arp));
        let mut udp = with_ip_checksum(frame(PROTO_UDP, 8, b"no checksum"));
        udp[ETH_HEADER + 20 + UDP_CHECKSUM_AT..ETH_HEADER + 22 + UDP_CHECKSUM_AT].fill(0);
        assert!(verify_frame(&udp));
        for cut in 0..40 {
            let _ = verify_frame(&udp[..cut]); // no panic on short input
        }
    }

    #[test]
    fn what_cannot_be_completed_is_an_error_not_a_panic() {
        let tcp = frame(PROTO_TCP, 20, b"data");
        let mut fragment = tcp.clone();
        fragment[ETH_HEADER + 6] = 0x20; // more fragments
        assert_eq!(
            complete_l4_checksum(&mut fragment),
            Err(Incomplete::NotCompletable)
        );
        let mut icmp = frame(1, 8, b"ping");
        assert_eq!(
            complete_l4_checksum(&mut icmp),
            Err(Incomplete::NotCompletable)
        );
        let mut arp = tcp.clone();
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(complete_l4_checksum(&mut arp), Err(Incomplete::NotIpv4));
        let mut long = tcp.clone();
        long[ETH_HEADER + 2] = 0xff; // total length beyond the frame
        assert_eq!(complete_l4_checksum(&mut long), Err(Incomplete::NotIpv4));
        for cut in 0..ETH_HEADER + 20 + TCP_CHECKSUM_AT + 2 {
            let mut short = tcp[..cut].to_vec();
            assert!(complete_l4_checksum(&mut short).is_err(), "cut at {cut}");
        }
    }
}
