//! AF_PACKET sockets with memory-mapped TPACKET_V3 rings (packet(7),
//! Documentation/networking/packet_mmap.rst): one socket bound to one interface, an RX ring of
//! blocks the kernel fills and retires, and a TX ring of fixed frames we fill and the kernel
//! sends on `sendto`.
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
const TPACKET_V3: libc::c_int = 2;
const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

/// Block and frame status bits (include/uapi/linux/if_packet.h).
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_WRONG_FORMAT: u32 = 4;
/// RX: the frame's TCP/UDP checksum is unfinished (sent locally with checksum offload).
pub(crate) const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// RX: the frame's checksums were verified (by the device, or the kernel on the way).
pub(crate) const TP_STATUS_CSUM_VALID: u32 = 1 << 7;

/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where a TX frame's data starts.
pub(crate) const TX_DATA_OFFSET: usize = 48;

/// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then `tpacket_hdr_v1`).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// Offsets in `struct tpacket3_hdr`.
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
const PKT_HEADER: usize = 48;

/// One received frame in the RX ring (see [`PacketSocket::rx_packet`]).
pub(crate) struct RxPacket<'a> {
    /// The frame's bytes, writable in place.
    pub(crate) frame: &'a mut [u8],
    /// Offset of the next packet's header in the block (0: none).
    pub(crate) next: u32,
    /// The frame's length on the wire (more than `frame.len()` when it was cut).
    pub(crate) wire_len: u32,
    /// `tp_status` (`TP_STATUS_*` bits).
    pub(crate) status: u32,
    /// The virtio-net header the kernel wrote just before the frame (with
    /// [`PacketSocket::has_vnet_hdr`]; empty otherwise).
    pub(crate) vnet_hdr: &'a [u8],
}

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Default)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

/// The shape of one ring: `block_nr` blocks of `block_size` bytes (a multiple of the page
/// size), cut into frames of `frame_size` bytes (a multiple of 16).
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
    fn frame_nr(&self) -> u32 {
        (self.block_size / self.frame_size) * self.block_nr
    }
    fn bytes(&self) -> usize {
        self.block_size as usize * self.block_nr as usize
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
    /// Opens a socket on interface `ifindex` (named `name`, for messages) with the two rings;
    /// `retire_ms` is how long the kernel keeps a partly filled RX block before handing it over
    /// (the receive latency bound under light load). With `vnet_hdr`, asks for a virtio-net
    /// header before each frame (`PACKET_VNET_HDR`; best effort, see [`Self::has_vnet_hdr`]).
    /// `receive` says which frames it takes.
    pub(crate) fn open(
        name: &str,
        ifindex: u32,
        rx: Geometry,
        tx: Geometry,
        retire_ms: u32,
        vnet_hdr: bool,
        receive: Receive<'_>,
    ) -> io::Result<PacketSocket> {
        // Protocol 0: receive nothing until bound to the interface below.
        // SAFETY: socket takes integers only and returns a new descriptor or -1.
        let fd =
            owned(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })
                .map_err(|e| privilege_error("AF_PACKET socket", "CAP_NET_RAW", e))?;
        setsockopt(&fd, PACKET_VERSION, &TPACKET_V3)?;
        // Best effort: older kernels lack these; the stack works without them.
        let _ = setsockopt(&fd, PACKET_QDISC_BYPASS, &1i32);
        let _ = setsockopt(&fd, PACKET_IGNORE_OUTGOING, &1i32);
        // Before the rings: the kernel refuses it (EBUSY) once they exist.
        let vnet_hdr = vnet_hdr && setsockopt(&fd, PACKET_VNET_HDR, &1i32).is_ok();
        let rx_req = TpacketReq3 {
            block_size: rx.block_size,
            block_nr: rx.block_nr,
            frame_size: rx.frame_size,
            frame_nr: rx.frame_nr(),
            retire_blk_tov: retire_ms,
            ..TpacketReq3::default()
        };
        setsockopt(&fd, PACKET_RX_RING, &rx_req)?;
        // The kernel wants the V3-only fields zero for a TX ring.
        let tx_req = TpacketReq3 {
            block_size: tx.block_size,
            block_nr: tx.block_nr,
            frame_size: tx.frame_size,
            frame_nr: tx.frame_nr(),
            ..TpacketReq3::default()
        };
        setsockopt(&fd, PACKET_TX_RING, &tx_req)?;
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
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value before we fill it.
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

    pub(crate) fn rx_blocks(&self) -> u32 {
        self.rx.block_nr
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
        debug_assert!(offset % 4 == 0 && offset + 4 <= self.map.len);
        // SAFETY: every caller passes a 4-aligned offset inside the mapping (block and frame
        // starts are page- or 16-aligned, field offsets multiples of 4, bounds checked);
        // the mapping lives as long as `self`; AtomicU32 has u32's layout, and the kernel
        // only accesses these words atomically-sized.
        unsafe { &*self.map.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        self.word(offset).load(Ordering::Relaxed)
    }

    fn rx_block_base(&self, block: u32) -> usize {
        block as usize * self.rx.block_size as usize
    }

    /// Whether RX block `block` belongs to user space (filled and retired by the kernel).
    pub(crate) fn rx_block_ready(&self, block: u32) -> bool {
        self.word(self.rx_block_base(block) + BLOCK_STATUS)
            .load(Ordering::Acquire)
            & TP_STATUS_USER
            != 0
    }

    /// Packets in a ready block, and the offset of the first one within it.
    pub(crate) fn rx_block_header(&self, block: u32) -> (u32, u32) {
        let base = self.rx_block_base(block);
        (
            self.read_u32(base + BLOCK_NUM_PKTS),
            self.read_u32(base + BLOCK_FIRST_PKT),
        )
    }

    /// The frame whose `tpacket3_hdr` is at `offset` within ready block `block`, writable (the
    /// block is ours until [`Self::rx_release`]), with the offset of the next packet's header
    /// (0: none), its length on the wire and its `tp_status`. `None` when the kernel's offsets
    /// don't fit the block.
    pub(crate) fn rx_packet(&mut self, block: u32, offset: u32) -> Option<RxPacket<'_>> {
        let block_size = self.rx.block_size as usize;
        let offset = offset as usize;
        if offset % 4 != 0 || offset + PKT_HEADER > block_size {
            return None;
        }
        let hdr = self.rx_block_base(block) + offset;
        let next = self.read_u32(hdr + PKT_NEXT_OFFSET);
        let snaplen = self.read_u32(hdr + PKT_SNAPLEN) as usize;
        let wire_len = self.read_u32(hdr + PKT_LEN);
        let status = self.read_u32(hdr + PKT_STATUS);
        // tp_mac is the first u16 of this word (tp_net the second), in native order.
        let word = self.read_u32(hdr + PKT_MAC).to_ne_bytes();
        let mac = usize::from(u16::from_ne_bytes([word[0], word[1]]));
        if offset + mac + snaplen > block_size {
            return None;
        }
        // SAFETY: [hdr + mac, hdr + mac + snaplen) lies inside this block (checked above),
        // which belongs to user space until `rx_release` (the kernel does not touch it before
        // then); the mapping is PROT_WRITE; the slice borrows `self` mutably, so no other slice
        // of the mapping exists meanwhile, and the caller releases the block only after it
        // stopped using the slice.
        let frame = unsafe {
            std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(hdr + mac), snaplen)
        };
        // With PACKET_VNET_HDR the kernel puts the header right before the frame, after the
        // packet header (tpacket_rcv: `h.raw + macoff - sizeof(struct virtio_net_hdr)`).
        let vnet_len = if self.vnet_hdr && mac >= PKT_HEADER + crate::vnet_hdr::LEN {
            crate::vnet_hdr::LEN
        } else {
            0
        };
        // SAFETY: [hdr + mac − vnet_len, hdr + mac) lies inside the same block, after the
        // packet header (checked just above), and does not overlap `frame`; user space owns
        // the block until `rx_release`, as for `frame`.
        let vnet_hdr = unsafe {
            std::slice::from_raw_parts(self.map.base.as_ptr().add(hdr + mac - vnet_len), vnet_len)
        };
        let next = if next == 0 { 0 } else { offset as u32 + next };
        Some(RxPacket {
            frame,
            next,
            wire_len,
            status,
            vnet_hdr,
        })
    }

    /// Gives RX block `block` back to the kernel.
    pub(crate) fn rx_release(&self, block: u32) {
        self.word(self.rx_block_base(block) + BLOCK_STATUS)
            .store(TP_STATUS_KERNEL, Ordering::Release);
    }

    fn tx_frame_base(&self, index: u32) -> usize {
        self.rx.bytes() + index as usize * self.tx.frame_size as usize
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
        // SAFETY: the range is inside the TX ring (index < tx frame count, start + len ends at
        // the frame's end); the frame's status is AVAILABLE so the kernel doesn't read it, and
        // `&mut self` makes this the only slice into it.
        unsafe { std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(start), len) }
    }

    /// Marks TX frame `index`, holding `len` bytes, ready for the kernel.
    pub(crate) fn tx_submit(&self, index: u32, len: usize) {
        let base = self.tx_frame_base(index);
        self.word(base + PKT_NEXT_OFFSET)
            .store(0, Ordering::Relaxed);
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
        // SAFETY: a send with no buffer and no address: it only kicks the TX ring.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Frames the kernel dropped for lack of ring space since the last call (reading resets
    /// the kernel's counters).
    pub(crate) fn take_kernel_drops(&self) -> u64 {
        let mut stats = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `stats` is writable for `len` bytes and `len` is a valid in/out length.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&mut stats as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            u64::from(stats.drops)
        } else {
            0
        }
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
        None => {
            let mut value: u32 = 0;
            let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
            // SAFETY: `value` is writable for `len` bytes and `len` is a valid in/out length.
            check(unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    SOL_PACKET,
                    PACKET_FANOUT,
                    (&mut value as *mut u32).cast(),
                    &mut len,
                )
            })?;
            value as u16
        }
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
        assert_eq!(std::mem::size_of::<TpacketReq3>(), 28);
        assert_eq!(std::mem::size_of::<TpacketStatsV3>(), 12);
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
