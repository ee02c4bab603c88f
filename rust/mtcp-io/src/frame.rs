//! Frame buffers shared by the software backends: boxes recycled through free lists, so the
//! data path allocates nothing once warmed up. Fixed [`MAX_FRAME`]-byte ones for the backends
//! that carry at most a 2 KiB frame, and ones sized for the station's MTU on the in-memory
//! link (jumbo frames up to [`MAX_MTU`](crate::MAX_MTU)).
use crate::MAX_FRAME;

/// One recyclable frame buffer.
pub(crate) type FrameBuf = Box<[u8; MAX_FRAME]>;

/// A fresh buffer (only when every free list is empty: warm-up, or more frames in flight than
/// ever before).
pub(crate) fn new_buf() -> FrameBuf {
    Box::new([0u8; MAX_FRAME])
}

/// A frame buffer whose size is chosen when the port opens ([`buffer_len`]).
pub(crate) type SizedBuf = Box<[u8]>;

/// Bytes the TCP layer may write past a full-size frame: `Connection::poll_transmit` wants
/// MSS + 60 bytes after the IP header (room for the largest options before it decides what
/// fits), 40 more than the MTU leaves.
const TCP_WRITE_ROOM: usize = 40;

/// Bytes of a buffer for frames of IP MTU `mtu`: the frame and [`TCP_WRITE_ROOM`], rounded up
/// to a cache line, and never less than [`MAX_FRAME`] (so a 1,500-byte MTU keeps 2 KiB
/// buffers): 9,088 bytes for a 9,000-byte MTU.
pub(crate) fn buffer_len(mtu: usize) -> usize {
    (mtu + ETH_HEADER + TCP_WRITE_ROOM)
        .next_multiple_of(64)
        .max(MAX_FRAME)
}

/// A fresh buffer of `len` bytes (as [`new_buf`]: only when every free list is empty).
pub(crate) fn new_sized_buf(len: usize) -> SizedBuf {
    vec![0u8; len].into_boxed_slice()
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
