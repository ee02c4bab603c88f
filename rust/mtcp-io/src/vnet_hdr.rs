//! The virtio-net header (virtio 1.2 §5.1.6, Linux `struct virtio_net_hdr`): the 10 bytes a
//! TAP device opened with `IFF_VNET_HDR` and an AF_PACKET socket with `PACKET_VNET_HDR` put in
//! front of each frame, so checksum work can cross the boundary both ways.
//!
//! - Transmit: a frame whose TCP checksum field holds only the pseudo-header sum is sent with
//!   `NEEDS_CSUM` and where the checksum starts and sits; the kernel (or the device behind it)
//!   finishes it, and a local receiver takes it as verified (`CHECKSUM_PARTIAL`).
//! - Receive: `NEEDS_CSUM` (sent by the local kernel, never on a wire) or `DATA_VALID` (already
//!   verified) mean the checksums need no check here.
//!
//! Fields are in the host's byte order: the legacy virtio layout both interfaces use unless
//! told otherwise (`TUNSETVNETLE`/`TUNSETVNETBE`, which we don't).
use crate::csum::{tcp_checksum_start, TCP_CHECKSUM_OFFSET};

/// Bytes of the header (no `num_buffers`: `TUNSETVNETHDRSZ` is left at its default).
pub(crate) const LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: checksum from `csum_start` on, stored at `+ csum_offset`.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksums were verified.
const F_DATA_VALID: u8 = 2;
/// `VIRTIO_NET_HDR_GSO_ECN`: a flag on `gso_type`, not a type.
const GSO_ECN: u8 = 0x80;

/// Writes into `hdr` (at least [`LEN`] bytes) the header for sending `frame`: `NEEDS_CSUM`
/// when it is an unfragmented IPv4/TCP packet (the stack left the checksum to the device),
/// else all zero (`GSO_NONE`, nothing to do).
pub(crate) fn write_tx(hdr: &mut [u8], frame: &[u8]) {
    hdr[..LEN].fill(0);
    let Some(csum_start) = tcp_checksum_start(frame) else {
        return;
    };
    hdr[0] = F_NEEDS_CSUM;
    // hdr_len: bytes of headers up to and including the checksum field.
    hdr[2..4].copy_from_slice(&(csum_start + TCP_CHECKSUM_OFFSET + 2).to_ne_bytes());
    hdr[6..8].copy_from_slice(&csum_start.to_ne_bytes());
    hdr[8..10].copy_from_slice(&TCP_CHECKSUM_OFFSET.to_ne_bytes());
}

/// Whether a received frame's header says its checksums need no checking: `NEEDS_CSUM` or
/// `DATA_VALID` set.
pub(crate) fn checksum_trusted(hdr: &[u8]) -> bool {
    hdr.first()
        .is_some_and(|&flags| flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0)
}

/// Whether a received frame is a GSO super-frame (`gso_type` not `GSO_NONE`): one TCP segment
/// of up to 64 KiB that the sender's TSO/GSO would have cut into MSS-sized ones. The stack
/// takes it whole, as one large in-window segment (what GRO would have made of them).
pub(crate) fn is_gso(hdr: &[u8]) -> bool {
    hdr.get(1).is_some_and(|&gso_type| gso_type & !GSO_ECN != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ETH_HEADER;

    fn ipv4(protocol: u8, ihl: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[ETH_HEADER] = 0x40 | ihl;
        f[ETH_HEADER + 9] = protocol;
        f
    }

    fn field(hdr: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([hdr[at], hdr[at + 1]])
    }

    #[test]
    fn tcp_frames_ask_the_device_for_the_checksum() {
        for (ihl, start) in [(5u8, 34u16), (6, 38), (15, 74)] {
            let mut hdr = [0xffu8; LEN];
            write_tx(&mut hdr, &ipv4(6, ihl, 200));
            assert_eq!(hdr[0], F_NEEDS_CSUM);
            assert_eq!(hdr[1], 0, "GSO_NONE");
            assert_eq!(field(&hdr, 2), start + 18, "hdr_len");
            assert_eq!(field(&hdr, 4), 0, "gso_size");
            assert_eq!(field(&hdr, 6), start, "csum_start");
            assert_eq!(field(&hdr, 8), 16, "csum_offset");
        }
    }

    #[test]
    fn other_frames_get_an_empty_header() {
        let mut arp = ipv4(6, 5, 60);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut fragment = ipv4(6, 5, 100);
        fragment[ETH_HEADER + 6] = 0x20;
        let cases = [
            ipv4(1, 5, 98),  // ICMP: the stack checksums it itself
            ipv4(17, 5, 60), // UDP
            arp,
            fragment,
            ipv4(6, 5, 40),  // cut before the checksum field
            ipv4(6, 4, 100), // bad IHL
            vec![0u8; 5],
        ];
        for frame in cases {
            let mut hdr = [0xffu8; LEN];
            write_tx(&mut hdr, &frame);
            assert_eq!(hdr, [0u8; LEN]);
        }
    }

    #[test]
    fn gso_types() {
        assert!(!is_gso(&[0; LEN]));
        assert!(!is_gso(&[F_NEEDS_CSUM, GSO_ECN]));
        assert!(is_gso(&[F_NEEDS_CSUM, 1])); // TCPV4
        assert!(is_gso(&[F_NEEDS_CSUM, 1 | GSO_ECN]));
        assert!(!is_gso(&[]));
    }

    #[test]
    fn receive_flags() {
        assert!(checksum_trusted(&[F_NEEDS_CSUM, 0]));
        assert!(checksum_trusted(&[F_DATA_VALID]));
        assert!(!checksum_trusted(&[0; LEN]));
        assert!(!checksum_trusted(&[]));
    }
}
