//! AF_PACKET sockets with memory-mapped TPACKET_V2 rings (packet(7),
//! Documentation/networking/packet_mmap.rst): one socket bound to one interface, an RX ring of
//! fixed frames the kernel fills and hands over one by one (each frame's `tp_status` turns to
//! `TP_STATUS_USER` as soon as it is written), and a TX ring of fixed frames we fill and the
//! kernel sends on `sendto`.
//!
//! Why V2 and not V3: a TPACKET_V3 RX block reaches user space only when it is full or when its
//! retire timeout (≥ 1 ms, in timer ticks) expires, so under light load every frame waited up
//! to that long; packet_mmap.rst documents no way to retire a block early. V2's per-frame
//! status has no such wait. The price is fixed-size frames: each RX frame must hold the
//! largest frame taken (a 64 KiB GSO super-frame with `PACKET_VNET_HDR`), where V3 packed
//! frames into a block back to back.
//!
//! Everything that touches the shared mapping is here; offsets read from the kernel are checked
//! against the ring's bounds before use, so a bad descriptor can cost a frame, never memory
//! safety.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::fd::{check, owned};
use super::netdev::privilege_error;

const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_TX_RING: libc::c_int = 13;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_FANOUT_DATA: libc::c_int = 22;
/// Fanout mode: a classic BPF program picks the member.
const PACKET_FANOUT_CBPF: u32 = 6;
/// Fanout flag: the kernel picks a group id no one uses (only when creating the group).
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
const PACKET_QDISC_BYPASS: libc::c_int = 20;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const TPACKET_V2: libc::c_int = 1;
const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

/// Frame status bits (include/uapi/linux/if_packet.h).
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_WRONG_FORMAT: u32 = 4;
/// RX: the frame's TCP/UDP checksum is unfinished (sent locally with checksum offload).
pub(crate) const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// RX: the frame's checksums were verified (by the device, or the kernel on the way).
pub(crate) const TP_STATUS_CSUM_VALID: u32 = 1 << 7;

/// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`: where a TX frame's data starts (the kernel
/// takes it from `tp_hdrlen − sizeof(struct sockaddr_ll)`).
pub(crate) const TX_DATA_OFFSET: usize = 32;

/// Offsets in `struct tpacket2_hdr` (the header at the start of every RX and TX frame).
const PKT_STATUS: usize = 0;
const PKT_LEN: usize = 4;
const PKT_SNAPLEN: usize = 8;
const PKT_MAC: usize = 12;
const PKT_HEADER: usize = 32;

/// One received frame in the RX ring (see [`PacketSocket::rx_frame`]).
pub(crate) struct RxFrame<'a> {
    /// The frame's bytes, writable in place.
    pub(crate) frame: &'a mut [u8],
    /// The frame's length on the wire (more than `frame.len()` when it was cut).
    pub(crate) wire_len: u32,
    /// `tp_status` (`TP_STATUS_*` bits).
    pub(crate) status: u32,
    /// The virtio-net header the kernel wrote just before the frame (with
    /// [`PacketSocket::has_vnet_hdr`]; empty otherwise).
    pub(crate) vnet_hdr: &'a [u8],
}

/// `struct tpacket_req` (V1/V2 rings).
#[repr(C)]
#[derive(Default)]
struct TpacketReq {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
}

/// `struct tpacket_stats` (V1/V2).
#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    packets: u32,
    drops: u32,
}

/// The shape of one ring: `block_nr` blocks of `block_size` bytes (a multiple of the page
/// size; the kernel allocates each in one piece), cut into frames of `frame_size` bytes (a
/// multiple of 16; a frame never spans two blocks, so a block's tail shorter than a frame is
/// unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks in the ring.
    pub block_nr: u32,
    /// Bytes per frame.
    pub frame_size: u32,
}

impl Geometry {
    /// The `PACKET_RX_RING` / `PACKET_TX_RING` request for a ring of this shape.
    fn request(&self) -> TpacketReq {
        TpacketReq {
            block_size: self.block_size,
            block_nr: self.block_nr,
            frame_size: self.frame_size,
            frame_nr: self.frame_nr(),
        }
    }
    fn frame_nr(&self) -> u32 {
        (self.block_size / self.frame_size) * self.block_nr
    }
    fn bytes(&self) -> usize {
        self.block_size as usize * self.block_nr as usize
    }
    /// Byte offset of frame `index` from the ring's start.
    fn frame_offset(&self, index: u32) -> usize {
        let per_block = self.block_size / self.frame_size;
        (index / per_block) as usize * self.block_size as usize
            + (index % per_block) as usize * self.frame_size as usize
    }
    fn fits(&self) -> bool {
        self.frame_size % 16 == 0
            && self.frame_size as usize >= PKT_HEADER
            && self.frame_size <= self.block_size
            && self.block_nr > 0
    }
}

/// `struct sock_filter`: one classic BPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct sock_fprog`: a classic BPF program.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// Which frames of the interface a socket receives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Receive<'a> {
    /// Every frame (`ETH_P_ALL`).
    All,
    /// IPv4 frames only, as one member of a `PACKET_FANOUT_CBPF` group whose program
    /// (`(code, jt, jf, k)` instructions) returns the member index. `group: None` creates the
    /// group (the kernel picks its id, [`PacketSocket::fanout_group`]); members join in order,
    /// so member *i* is the *i*-th socket to join.
    Ipv4Fanout {
        group: Option<u16>,
        program: &'a [(u16, u8, u8, u32)],
    },
}

/// A shared mapping of both rings.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, unmapped once, here.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// An AF_PACKET socket bound to one interface with an RX and a TX ring. See the module docs.
pub(crate) struct PacketSocket {
    // Field order: the mapping goes before the socket that backs it.
    map: Mapping,
    fd: OwnedFd,
    rx: Geometry,
    tx: Geometry,
    vnet_hdr: bool,
    fanout_group: Option<u16>,
}

// SAFETY: the mapping is owned by this value alone (no other handle to it exists in the
// process); moving it to another thread moves that exclusive ownership with it.
unsafe impl Send for PacketSocket {}

fn setsockopt<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    super::fd::setsockopt(fd, SOL_PACKET, name, value)
}

impl PacketSocket {
    /// Opens a socket on interface `ifindex` (named `name`, for messages) with the two rings.
    /// With `vnet_hdr`, asks for a virtio-net header before each frame (`PACKET_VNET_HDR`;
    /// best effort, see [`Self::has_vnet_hdr`]) and, if the kernel grants it, makes the RX ring
    /// `rx_vnet` (frames large enough for GSO super-frames, which only come with that header);
    /// otherwise `rx`. `receive` says which frames it takes.
    pub(crate) fn open(
        name: &str,
        ifindex: u32,
        rx: Geometry,
        rx_vnet: Geometry,
        tx: Geometry,
        vnet_hdr: bool,
        receive: Receive<'_>,
    ) -> io::Result<PacketSocket> {
        if !(rx.fits() && rx_vnet.fits() && tx.fits()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "AF_PACKET ring geometry: frames must be multiples of 16 that fit a block",
            ));
        }
        // Protocol 0: receive nothing until bound to the interface below.
        // SAFETY: socket takes integers only and returns a new descriptor or -1.
        let fd =
            owned(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })
                .map_err(|e| privilege_error("AF_PACKET socket", "CAP_NET_RAW", e))?;
        setsockopt(&fd, PACKET_VERSION, &TPACKET_V2)?;
        // Best effort: older kernels lack these; the stack works without them.
        let _ = setsockopt(&fd, PACKET_QDISC_BYPASS, &1i32);
        let _ = setsockopt(&fd, PACKET_IGNORE_OUTGOING, &1i32);
        // Before the rings: the kernel refuses it (EBUSY) once they exist.
        let vnet_hdr = vnet_hdr && setsockopt(&fd, PACKET_VNET_HDR, &1i32).is_ok();
        let rx = if vnet_hdr { rx_vnet } else { rx };
        setsockopt(&fd, PACKET_RX_RING, &rx.request())?;
        setsockopt(&fd, PACKET_TX_RING, &tx.request())?;
        let len = rx.bytes() + tx.bytes();
        // SAFETY: a fresh shared mapping of the socket's rings (the RX ring, then the TX ring,
        // as packet_mmap.rst specifies), of exactly their total size.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = Mapping {
            base: NonNull::new(addr.cast()).ok_or_else(io::Error::last_os_error)?,
            len,
        };
        let protocol = match receive {
            Receive::All => ETH_P_ALL,
            Receive::Ipv4Fanout { .. } => ETH_P_IP,
        };
        bind(&fd, name, ifindex, protocol)?;
        // Fanout needs a bound socket.
        let fanout_group = match receive {
            Receive::All => None,
            Receive::Ipv4Fanout { group, program } => Some(join_fanout(&fd, group, program)?),
        };
        Ok(PacketSocket {
            map,
            fd,
            rx,
            tx,
            vnet_hdr,
            fanout_group,
        })
    }

    /// Whether TX frames start with a virtio-net header ([`crate::vnet_hdr`]). RX frames get
    /// one too, before `tp_mac`, unread: the ring's status bits say the same.
    pub(crate) fn has_vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// The id of the fanout group this socket is in, if any.
    pub(crate) fn fanout_group(&self) -> Option<u16> {
        self.fanout_group
    }

    /// Frames in the RX ring.
    pub(crate) fn rx_frames(&self) -> u32 {
        self.rx.frame_nr()
    }

    pub(crate) fn tx_frames(&self) -> u32 {
        self.tx.frame_nr()
    }

    /// Data bytes a TX frame holds.
    pub(crate) fn tx_capacity(&self) -> usize {
        self.tx.frame_size as usize - TX_DATA_OFFSET
    }

    /// The 32-bit word at byte `offset` of the mapping, as an atomic (the kernel writes it).
    fn word(&self, offset: usize) -> &AtomicU32 {
        // A failure is a bug here (frame indices are checked too), never the kernel's data.
        assert!(offset % 4 == 0 && offset + 4 <= self.map.len);
        // SAFETY: the offset is 4-aligned and inside the mapping (asserted just above);
        // the mapping lives as long as `self`; AtomicU32 has u32's layout, and the kernel
        // only accesses these words atomically-sized.
        unsafe { &*self.map.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        self.word(offset).load(Ordering::Relaxed)
    }

    /// Offset of RX frame `index`; panics when it is not in the ring (a bug in the caller).
    fn rx_frame_base(&self, index: u32) -> usize {
        assert!(index < self.rx.frame_nr());
        self.rx.frame_offset(index)
    }

    /// Whether RX frame `index` belongs to user space (written by the kernel, not yet
    /// released).
    pub(crate) fn rx_frame_ready(&self, index: u32) -> bool {
        self.word(self.rx_frame_base(index) + PKT_STATUS)
            .load(Ordering::Acquire)
            & TP_STATUS_USER
            != 0
    }

    /// Ready RX frame `index` (see [`Self::rx_frame_ready`]), writable (it is ours until
    /// [`Self::rx_release`]), with its length on the wire and its `tp_status`. `None` when the
    /// kernel's offsets don't fit the frame.
    pub(crate) fn rx_frame(&mut self, index: u32) -> Option<RxFrame<'_>> {
        let frame_size = self.rx.frame_size as usize;
        let hdr = self.rx_frame_base(index);
        let snaplen = self.read_u32(hdr + PKT_SNAPLEN) as usize;
        let wire_len = self.read_u32(hdr + PKT_LEN);
        let status = self.read_u32(hdr + PKT_STATUS);
        // tp_mac is the first u16 of this word (tp_net the second), in native order.
        let word = self.read_u32(hdr + PKT_MAC).to_ne_bytes();
        let mac = usize::from(u16::from_ne_bytes([word[0], word[1]]));
        if mac < PKT_HEADER || mac + snaplen > frame_size {
            return None;
        }
        // SAFETY: [hdr + mac, hdr + mac + snaplen) lies inside this frame (`hdr` is a frame of
        // the ring, asserted in `rx_frame_base`; checked above: the range starts after the
        // frame's header and ends by its end), which belongs to user space
        // until `rx_release` (its status is TP_STATUS_USER, and the kernel does not touch it
        // before we store TP_STATUS_KERNEL); the mapping is PROT_WRITE; the slice borrows
        // `self` mutably, so no other slice of the mapping exists meanwhile, and the caller
        // releases the frame only after it stopped using the slice.
        let frame = unsafe {
            std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(hdr + mac), snaplen)
        };
        // With PACKET_VNET_HDR the kernel puts the header right before the frame, after the
        // frame header (tpacket_rcv: `h.raw + macoff - sizeof(struct virtio_net_hdr)`).
        let vnet_len = if self.vnet_hdr && mac >= PKT_HEADER + crate::vnet_hdr::LEN {
            crate::vnet_hdr::LEN
        } else {
            0
        };
        // SAFETY: [hdr + mac − vnet_len, hdr + mac) lies inside the same frame, after its
        // header (checked just above), and does not overlap `frame`; user space owns the frame
        // until `rx_release`, as for `frame`.
        let vnet_hdr = unsafe {
            std::slice::from_raw_parts(self.map.base.as_ptr().add(hdr + mac - vnet_len), vnet_len)
        };
        Some(RxFrame {
            frame,
            wire_len,
            status,
            vnet_hdr,
        })
    }

    /// Gives RX frame `index` back to the kernel.
    pub(crate) fn rx_release(&self, index: u32) {
        self.word(self.rx_frame_base(index) + PKT_STATUS)
            .store(TP_STATUS_KERNEL, Ordering::Release);
    }

    /// Offset of TX frame `index`; panics when it is not in the ring (a bug in the caller).
    fn tx_frame_base(&self, index: u32) -> usize {
        assert!(index < self.tx.frame_nr());
        self.rx.bytes() + self.tx.frame_offset(index)
    }

    /// Whether TX frame `index` may be written: `Some(false)` when free, `Some(true)` when free
    /// after the kernel rejected its previous content (counted as a drop), `None` while the
    /// kernel still owns it.
    pub(crate) fn tx_frame_free(&self, index: u32) -> Option<bool> {
        match self
            .word(self.tx_frame_base(index) + PKT_STATUS)
            .load(Ordering::Acquire)
        {
            TP_STATUS_AVAILABLE => Some(false),
            TP_STATUS_WRONG_FORMAT => Some(true),
            _ => None,
        }
    }

    /// The data area of free TX frame `index`.
    pub(crate) fn tx_data(&mut self, index: u32) -> &mut [u8] {
        let start = self.tx_frame_base(index) + TX_DATA_OFFSET;
        let len = self.tx_capacity();
        debug_assert!(start + len <= self.map.len);
        // SAFETY: the range is inside the TX ring (index < tx frame count, asserted in
        // `tx_frame_base`; start + len ends at the frame's end); the frame's status is AVAILABLE so the kernel doesn't read it, and
        // `&mut self` makes this the only slice into it.
        unsafe { std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(start), len) }
    }

    /// Marks TX frame `index`, holding `len` bytes, ready for the kernel.
    pub(crate) fn tx_submit(&self, index: u32, len: usize) {
        let base = self.tx_frame_base(index);
        self.word(base + PKT_SNAPLEN)
            .store(len as u32, Ordering::Relaxed);
        self.word(base + PKT_LEN)
            .store(len as u32, Ordering::Relaxed);
        // Release: the kernel must see the data and length before the status.
        self.word(base + PKT_STATUS)
            .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
    }

    /// Asks the kernel to send every submitted TX frame, without waiting.
    pub(crate) fn send(&self) -> io::Result<()> {
        super::fd::kick_tx(&self.fd)
    }

    /// Frames the kernel dropped for lack of ring space since the last call (reading resets
    /// the kernel's counters).
    pub(crate) fn take_kernel_drops(&self) -> u64 {
        super::fd::getsockopt::<TpacketStats>(&self.fd, SOL_PACKET, PACKET_STATISTICS)
            .map_or(0, |stats| u64::from(stats.drops))
    }
}

/// Binds packet socket `fd` to interface `ifindex` (named `name`) for frames of `protocol`.
fn bind(fd: &OwnedFd, name: &str, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value before we fill it.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map_err(|e| super::netdev::name_error(name, e))?;
    Ok(())
}

/// Joins (or, with `group: None`, creates) a `PACKET_FANOUT_CBPF` group and gives it
/// `program`; returns the group id.
fn join_fanout(
    fd: &OwnedFd,
    group: Option<u16>,
    program: &[(u16, u8, u8, u32)],
) -> io::Result<u16> {
    let arg = match group {
        Some(id) => u32::from(id) | PACKET_FANOUT_CBPF << 16,
        None => (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
    };
    setsockopt(fd, PACKET_FANOUT, &arg)
        .map_err(|e| io::Error::new(e.kind(), format!("PACKET_FANOUT (cBPF): {e}")))?;
    let id = match group {
        Some(id) => id,
        // The id the kernel picked (the low 16 bits; type and flags above).
        None => super::fd::getsockopt::<u32>(fd, SOL_PACKET, PACKET_FANOUT)? as u16,
    };
    let filter: Vec<SockFilter> = program
        .iter()
        .map(|&(code, jt, jf, k)| SockFilter { code, jt, jf, k })
        .collect();
    let fprog = SockFprog {
        len: filter.len() as u16,
        filter: filter.as_ptr(),
    };
    // The kernel copies the program during the call; `filter` outlives it.
    setsockopt(fd, PACKET_FANOUT_DATA, &fprog)
        .map_err(|e| io::Error::new(e.kind(), format!("PACKET_FANOUT_DATA (cBPF): {e}")))?;
    Ok(id)
}

/// A plain AF_PACKET socket that receives the ARP frames of one interface (no rings: ARP is
/// rare). Every context of a fanout port has one, so each learns every neighbour, as on a NIC
/// that gives broadcast frames to every queue.
pub(crate) struct ArpSocket {
    fd: OwnedFd,
}

impl ArpSocket {
    /// Opens it on interface `ifindex` (named `name`), non-blocking.
    pub(crate) fn open(name: &str, ifindex: u32) -> io::Result<ArpSocket> {
        // SAFETY: socket takes integers only and returns a new descriptor or -1.
        let fd = owned(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        })
        .map_err(|e| privilege_error("AF_PACKET socket", "CAP_NET_RAW", e))?;
        let _ = setsockopt(&fd, PACKET_IGNORE_OUTGOING, &1i32);
        bind(&fd, name, ifindex, ETH_P_ARP)?;
        Ok(ArpSocket { fd })
    }

    /// One received frame into `buf`: its length, or `None` when there is none.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        super::fd::read_nonblocking(&self.fd, buf).ok().flatten()
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_struct_sizes() {
        assert_eq!(std::mem::size_of::<TpacketReq>(), 16);
        assert_eq!(std::mem::size_of::<TpacketStats>(), 8);
    }

    #[test]
    fn frames_never_span_blocks() {
        // 15 frames of 68 KiB in each 1 MiB block; the 16th would cross into the next block.
        let g = Geometry {
            block_size: 1 << 20,
            block_nr: 4,
            frame_size: 68 * 1024,
        };
        assert!(g.fits());
        assert_eq!(g.frame_nr(), 60);
        assert_eq!(g.frame_offset(14), 14 * 68 * 1024);
        assert_eq!(g.frame_offset(15), 1 << 20);
        assert_eq!(g.frame_offset(59), 3 * (1 << 20) + 14 * 68 * 1024);
        let last_end = g.frame_offset(g.frame_nr() - 1) + g.frame_size as usize;
        assert!(last_end <= g.bytes());
        for bad in [100, 2 * (1 << 20)] {
            assert!(!Geometry {
                frame_size: bad,
                ..g
            }
            .fits());
        }
    }

    #[test]
    fn geometry_counts_frames() {
        let g = Geometry {
            block_size: 65536,
            block_nr: 8,
            frame_size: 2048,
        };
        assert_eq!(g.frame_nr(), 256);
        assert_eq!(g.bytes(), 512 * 1024);
    }
}
