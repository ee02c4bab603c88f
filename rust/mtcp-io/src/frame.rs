//! Frame buffers shared by the software backends: fixed [`MAX_FRAME`]-byte boxes that are
//! recycled through free lists, so the data path allocates nothing once warmed up.
use crate::MAX_FRAME;

/// One recyclable frame buffer.
pub(crate) type FrameBuf = Box<[u8; MAX_FRAME]>;

/// A fresh buffer (only when every free list is empty: warm-up, or more frames in flight than
/// ever before).
pub(crate) fn new_buf() -> FrameBuf {
    Box::new([0u8; MAX_FRAME])
}

/// A frame: a buffer and the length of the bytes that are the frame.
pub(crate) struct Frame {
    pub(crate) buf: FrameBuf,
    pub(crate) len: usize,
}

impl Frame {
    /// The frame's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Ethernet header length (destination, source, EtherType).
pub(crate) const ETH_HEADER: usize = 14;

/// Destination MAC of a frame (all zero when the frame is shorter than 6 bytes).
pub(crate) fn dst_mac(frame: &[u8]) -> [u8; 6] {
    let mut mac = [0u8; 6];
    if let Some(dst) = frame.get(..6) {
        mac.copy_from_slice(dst);
    }
    mac
}

/// Whether a MAC is a group address (broadcast or multicast: I/G bit set, IEEE 802-2014 §8.2).
pub(crate) fn is_group(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 1
}
