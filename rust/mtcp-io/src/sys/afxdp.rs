//! AF_XDP sockets (Documentation/networking/af_xdp.rst): a UMEM of fixed frames registered with
//! the socket, the four single-producer/single-consumer rings shared with the kernel (fill and
//! completion for the UMEM, RX and TX for the socket), and the bind to one queue of one
//! interface.
//!
//! Everything that touches the shared mappings is here. Addresses and lengths the kernel hands
//! back are checked against the UMEM before a slice is made, so a bad descriptor can cost a
//! frame, never memory safety.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::fd::{check, owned};
use super::netdev::{ifreq_ioctl, privilege_error, IfReq};

const AF_XDP: libc::c_int = 44;
const SOL_XDP: libc::c_int = 283;
// Socket options (include/uapi/linux/if_xdp.h).
const XDP_MMAP_OFFSETS: libc::c_int = 1;
const XDP_RX_RING: libc::c_int = 2;
const XDP_TX_RING: libc::c_int = 3;
const XDP_UMEM_REG: libc::c_int = 4;
const XDP_UMEM_FILL_RING: libc::c_int = 5;
const XDP_UMEM_COMPLETION_RING: libc::c_int = 6;
const XDP_STATISTICS: libc::c_int = 7;
const XDP_OPTIONS: libc::c_int = 8;
const XDP_OPTIONS_ZEROCOPY: u32 = 1;
// Bind flags.
const XDP_COPY: u16 = 1 << 1;
const XDP_ZEROCOPY: u16 = 1 << 2;
const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;
/// Ring flag: the kernel wants a system call to make progress.
const XDP_RING_NEED_WAKEUP: u32 = 1;
/// `xdp_umem_reg.flags`: honour `tx_metadata_len` (Linux ≥ 6.11 wants the flag).
const XDP_UMEM_TX_METADATA_LEN: u32 = 1 << 2;
/// `xdp_desc.options`: a `struct xsk_tx_metadata` precedes the frame.
const XDP_TX_METADATA: u32 = 1 << 1;
/// `xsk_tx_metadata.flags`: the device finishes the L4 checksum (`request.csum_start/offset`).
const XDP_TXMD_FLAGS_CHECKSUM: u64 = 1 << 1;

/// Room for `struct xsk_tx_metadata` before each TX frame (24 bytes on Linux 6.18, a
/// multiple of 8 as the kernel requires; the kernel reads it at `frame − TX_METADATA_LEN`).
/// Documentation/networking/xsk-tx-metadata.rst.
pub(crate) const TX_METADATA_LEN: usize = 32;
// mmap offsets of the rings.
const XDP_PGOFF_RX_RING: libc::off_t = 0;
const XDP_PGOFF_TX_RING: libc::off_t = 0x8000_0000;
const XDP_UMEM_PGOFF_FILL_RING: libc::off_t = 0x1_0000_0000;
const XDP_UMEM_PGOFF_COMPLETION_RING: libc::off_t = 0x1_8000_0000;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// How often, and how long apart, a bind answered with EBUSY is tried again: the kernel frees
/// the previous socket's buffer pool on a queue asynchronously after `close`
/// (shared/netlab/FINDINGS.md §4: half of immediate re-binds failed, all after 1 s).
pub(crate) const BIND_ATTEMPTS: u32 = 25;
pub(crate) const BIND_RETRY: Duration = Duration::from_millis(100);

/// `struct xdp_umem_reg`.
#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

/// `struct xdp_ring_offset`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[repr(C)]
#[derive(Default)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

/// `struct sockaddr_xdp`.
#[repr(C)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

/// `struct xdp_desc`: a frame in the UMEM (RX and TX rings).
#[repr(C)]
#[derive(Clone, Copy)]
struct XdpDesc {
    addr: u64,
    len: u32,
    options: u32,
}

/// `struct xdp_statistics`: counters the kernel keeps per socket (never reset).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct XdpStatistics {
    /// Frames dropped for reasons other than a full ring or no fill buffer.
    pub(crate) rx_dropped: u64,
    /// Invalid descriptors on the fill ring.
    pub(crate) rx_invalid_descs: u64,
    /// Invalid descriptors on the TX ring.
    pub(crate) tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub(crate) rx_ring_full: u64,
    /// Times the fill ring was found empty.
    pub(crate) rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was found empty.
    pub(crate) tx_ring_empty_descs: u64,
}

/// `struct ethtool_channels`.
#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// Receive queues of interface `name` (`ETHTOOL_GCHANNELS`: rx + combined channels); `None`
/// when the driver doesn't say (the bind then tells).
pub(crate) fn rx_queues(name: &str) -> io::Result<Option<u32>> {
    // SAFETY: socket takes integers only and returns a new descriptor or -1.
    let sock =
        owned(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    let mut channels = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..EthtoolChannels::default()
    };
    let mut req = IfReq::new(name)?;
    // ifr_data: a pointer to the ethtool command, which lives across the ioctl below.
    let ptr = (&mut channels as *mut EthtoolChannels as usize).to_ne_bytes();
    req.data[..ptr.len()].copy_from_slice(&ptr);
    match ifreq_ioctl(&sock, SIOCETHTOOL, &mut req) {
        Ok(()) => Ok(Some(channels.rx_count.max(channels.combined_count).max(1))),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(super::netdev::name_error(name, e)),
    }
}

/// An anonymous or shared memory mapping, unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize, fd: Option<(RawFd, libc::off_t)>) -> io::Result<Mapping> {
        let (flags, raw, offset) = match fd {
            Some((raw, offset)) => (libc::MAP_SHARED | libc::MAP_POPULATE, raw, offset),
            None => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            ),
        };
        // SAFETY: a fresh mapping chosen by the kernel (no address hint), of `len` bytes; for a
        // ring, `raw` is an AF_XDP socket whose ring at `offset` was sized to cover `len`.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                raw,
                offset,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            base: NonNull::new(addr.cast()).ok_or_else(io::Error::last_os_error)?,
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, unmapped once, here.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// One ring shared with the kernel: producer and consumer indexes (free-running u32), a flags
/// word and `size` descriptors of `T`. We are the producer of fill and TX, the consumer of
/// completion and RX; `cached_*` are our copies of the indexes.
struct Ring<T> {
    map: Mapping,
    offsets: RingOffset,
    size: u32,
    /// Our side's index (not yet published while we work on a batch).
    local: u32,
    /// The kernel's side, as last read.
    remote: u32,
    _desc: std::marker::PhantomData<T>,
}

impl<T: Copy> Ring<T> {
    fn map(
        fd: &OwnedFd,
        offsets: RingOffset,
        size: u32,
        pgoff: libc::off_t,
    ) -> io::Result<Ring<T>> {
        let len = offsets.desc as usize + size as usize * std::mem::size_of::<T>();
        let map = Mapping::new(len, Some((fd.as_raw_fd(), pgoff)))?;
        let ring = Ring {
            map,
            offsets,
            size,
            local: 0,
            remote: 0,
            _desc: std::marker::PhantomData,
        };
        for off in [offsets.producer, offsets.consumer, offsets.flags] {
            if off as usize % 4 != 0 || off as usize + 4 > ring.map.len {
                return Err(io::Error::other(
                    "AF_XDP ring offsets from the kernel don't fit",
                ));
            }
        }
        Ok(ring)
    }

    fn word(&self, offset: u64) -> &AtomicU32 {
        // SAFETY: `offset` is one of the ring's producer/consumer/flags offsets, checked in
        // `map` to be 4-aligned and inside the mapping, which lives as long as `self`;
        // AtomicU32 has u32's layout, and the kernel accesses these words as whole u32s.
        unsafe {
            &*self
                .map
                .base
                .as_ptr()
                .add(offset as usize)
                .cast::<AtomicU32>()
        }
    }

    fn producer(&self) -> &AtomicU32 {
        self.word(self.offsets.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.word(self.offsets.consumer)
    }

    fn needs_wakeup(&self) -> bool {
        self.word(self.offsets.flags).load(Ordering::Relaxed) & XDP_RING_NEED_WAKEUP != 0
    }

    fn slot(&self, index: u32) -> *mut T {
        let i = (index & (self.size - 1)) as usize;
        // SAFETY: i < size, and the mapping holds `size` descriptors from `offsets.desc` (its
        // length was computed so in `map`).
        unsafe {
            self.map
                .base
                .as_ptr()
                .add(self.offsets.desc as usize)
                .cast::<T>()
                .add(i)
        }
    }

    fn read(&self, index: u32) -> T {
        // SAFETY: a slot of this ring (see `slot`); the kernel published it (index < its
        // producer, read with Acquire) and won't touch it until we move our consumer past it.
        unsafe { self.slot(index).read_volatile() }
    }

    fn write(&self, index: u32, value: T) {
        // SAFETY: a slot of this ring; as producer we own slots between the kernel's consumer
        // and our producer + free space, checked by the callers before writing.
        unsafe { self.slot(index).write_volatile(value) }
    }

    // --- as consumer (RX, completion)

    /// Entries ready to consume.
    fn ready(&mut self) -> u32 {
        if self.remote == self.local {
            self.remote = self.producer().load(Ordering::Acquire);
        }
        self.remote.wrapping_sub(self.local)
    }

    fn release(&self) {
        self.consumer().store(self.local, Ordering::Release);
    }

    // --- as producer (fill, TX)

    /// Free slots to produce into.
    fn free(&mut self) -> u32 {
        let free = self.size - self.local.wrapping_sub(self.remote);
        if free > 0 {
            return free;
        }
        self.remote = self.consumer().load(Ordering::Acquire);
        self.size - self.local.wrapping_sub(self.remote)
    }

    fn publish(&self) {
        self.producer().store(self.local, Ordering::Release);
    }

    /// Entries produced that the kernel has not consumed yet.
    fn outstanding(&mut self) -> u32 {
        self.remote = self.consumer().load(Ordering::Acquire);
        self.local.wrapping_sub(self.remote)
    }
}

/// Shape of a socket's UMEM and rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// UMEM frames (chunks).
    pub(crate) frames: u32,
    /// Bytes per frame: a power of two from 2048 to the page size.
    pub(crate) frame_size: u32,
    /// Entries of each ring: a power of two.
    pub(crate) ring_size: u32,
}

/// How the socket ended up bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindMode {
    /// The kernel copies frames between the driver and the UMEM.
    Copy,
    /// The driver reads and writes the UMEM directly.
    ZeroCopy,
}

/// An AF_XDP socket bound to one queue, with its UMEM and four rings. See the module docs.
pub(crate) struct XskSocket {
    // Field order = drop order: rings, then the socket, then the UMEM the socket pinned.
    fill: Ring<u64>,
    completion: Ring<u64>,
    rx: Ring<XdpDesc>,
    tx: Ring<XdpDesc>,
    fd: OwnedFd,
    umem: Mapping,
    geometry: Geometry,
    mode: BindMode,
    tx_metadata: bool,
}

// SAFETY: the mappings are owned by this value alone (no other handle to them exists in the
// process); moving it to another thread moves that exclusive ownership with it.
unsafe impl Send for XskSocket {}

fn setsockopt<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    super::fd::setsockopt(fd, SOL_XDP, name, value)
}

fn getsockopt<T: Default>(fd: &OwnedFd, name: libc::c_int) -> io::Result<T> {
    super::fd::getsockopt(fd, SOL_XDP, name)
}

impl XskSocket {
    /// Opens an AF_XDP socket with a fresh UMEM of `geometry` and binds it to queue `queue` of
    /// interface `ifindex` (named `name`, for messages). With `zerocopy` it asks for
    /// `XDP_ZEROCOPY` first and falls back to copy mode when the driver has none (EOPNOTSUPP);
    /// [`XskSocket::mode`] tells which it got. EBUSY at bind is retried [`BIND_ATTEMPTS`] times.
    /// With `tx_metadata` it reserves [`TX_METADATA_LEN`] bytes of TX metadata per frame, for
    /// checksum offload, when the kernel has it ([`XskSocket::has_tx_metadata`]).
    pub(crate) fn open(
        name: &str,
        ifindex: u32,
        queue: u32,
        geometry: Geometry,
        zerocopy: bool,
        tx_metadata: bool,
    ) -> io::Result<XskSocket> {
        // SAFETY: socket takes integers only and returns a new descriptor or -1.
        let fd = owned(unsafe { libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::EAFNOSUPPORT) {
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "AF_XDP sockets are not available: the kernel lacks CONFIG_XDP_SOCKETS",
                    )
                } else {
                    privilege_error("AF_XDP socket", "CAP_NET_RAW", e)
                }
            })?;
        let umem_len = geometry.frames as usize * geometry.frame_size as usize;
        let umem = Mapping::new(umem_len, None)?;
        let mut reg = UmemReg {
            addr: umem.base.as_ptr() as u64,
            len: umem_len as u64,
            chunk_size: geometry.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        let mut tx_metadata = tx_metadata;
        if tx_metadata {
            let with_metadata = UmemReg {
                flags: XDP_UMEM_TX_METADATA_LEN,
                tx_metadata_len: TX_METADATA_LEN as u32,
                ..reg
            };
            match setsockopt(&fd, XDP_UMEM_REG, &with_metadata) {
                Ok(()) => reg = with_metadata,
                // A kernel without TX metadata (before 6.11) rejects the flag: go without.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => tx_metadata = false,
                Err(e) => return Err(e),
            }
        }
        let registered = if reg.tx_metadata_len > 0 {
            Ok(())
        } else {
            setsockopt(&fd, XDP_UMEM_REG, &reg)
        };
        registered.map_err(|e| match e.raw_os_error() {
            Some(libc::ENOMEM) | Some(libc::ENOBUFS) => io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "AF_XDP UMEM of {} MiB could not be pinned: raise RLIMIT_MEMLOCK or grant \
                     CAP_IPC_LOCK ({e})",
                    umem_len >> 20
                ),
            ),
            _ => e,
        })?;
        let size = geometry.ring_size;
        for opt in [
            XDP_UMEM_FILL_RING,
            XDP_UMEM_COMPLETION_RING,
            XDP_RX_RING,
            XDP_TX_RING,
        ] {
            setsockopt(&fd, opt, &size)?;
        }
        let off: MmapOffsets = getsockopt(&fd, XDP_MMAP_OFFSETS)?;
        let fill = Ring::map(&fd, off.fr, size, XDP_UMEM_PGOFF_FILL_RING)?;
        let completion = Ring::map(&fd, off.cr, size, XDP_UMEM_PGOFF_COMPLETION_RING)?;
        let rx = Ring::map(&fd, off.rx, size, XDP_PGOFF_RX_RING)?;
        let tx = Ring::map(&fd, off.tx, size, XDP_PGOFF_TX_RING)?;
        let mut mode = if zerocopy {
            BindMode::ZeroCopy
        } else {
            BindMode::Copy
        };
        let mut attempt = 0;
        loop {
            let flags = XDP_USE_NEED_WAKEUP
                | match mode {
                    BindMode::Copy => XDP_COPY,
                    BindMode::ZeroCopy => XDP_ZEROCOPY,
                };
            match bind(&fd, ifindex, queue, flags) {
                Ok(()) => break,
                Err(e)
                    if e.raw_os_error() == Some(libc::EOPNOTSUPP) && mode == BindMode::ZeroCopy =>
                {
                    mode = BindMode::Copy;
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt + 1 < BIND_ATTEMPTS => {
                    attempt += 1;
                    std::thread::sleep(BIND_RETRY);
                }
                Err(e) => return Err(bind_error(name, queue, e)),
            }
        }
        // The kernel's word on zero-copy (XDP_OPTIONS, Linux ≥ 5.3); keep ours if it can't say.
        if let Ok(options) = getsockopt::<u32>(&fd, XDP_OPTIONS) {
            mode = if options & XDP_OPTIONS_ZEROCOPY != 0 {
                BindMode::ZeroCopy
            } else {
                BindMode::Copy
            };
        }
        Ok(XskSocket {
            fill,
            completion,
            rx,
            tx,
            fd,
            umem,
            geometry,
            mode,
            tx_metadata,
        })
    }

    /// Whether each TX frame may carry a TX metadata header ([`TX_METADATA_LEN`] bytes before
    /// it in its chunk).
    pub(crate) fn has_tx_metadata(&self) -> bool {
        self.tx_metadata
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn mode(&self) -> BindMode {
        self.mode
    }

    /// UMEM address of frame `index`.
    pub(crate) fn frame_addr(&self, index: u32) -> u64 {
        u64::from(index) * u64::from(self.geometry.frame_size)
    }

    /// The chunk an address of the UMEM lies in (aligned mode: chunks are frame-size aligned).
    fn chunk_of(&self, addr: u64) -> u64 {
        addr & !(u64::from(self.geometry.frame_size) - 1)
    }

    /// `len` bytes at UMEM address `addr`, if they lie within one frame.
    fn span(&self, addr: u64, len: usize) -> Option<usize> {
        let end = addr.checked_add(len as u64)?;
        let chunk_end = self.chunk_of(addr) + u64::from(self.geometry.frame_size);
        (end <= chunk_end && end as usize <= self.umem.len).then_some(addr as usize)
    }

    // --- receive

    /// Takes the next received frame: its chunk address (to give back with
    /// [`XskSocket::fill_push`]) and its bytes. The consumer index is published by
    /// [`XskSocket::rx_release`]. `Some((chunk, None))` for a descriptor outside the UMEM.
    pub(crate) fn rx_next(&mut self) -> Option<(u64, Option<&[u8]>)> {
        if self.rx.ready() == 0 {
            return None;
        }
        let desc = self.rx.read(self.rx.local);
        self.rx.local = self.rx.local.wrapping_add(1);
        let chunk = self.chunk_of(desc.addr);
        let Some(start) = self.span(desc.addr, desc.len as usize) else {
            return Some((chunk, None));
        };
        // SAFETY: [start, start + len) lies inside the UMEM mapping (checked by `span`); the
        // kernel wrote this frame and handed it to us on the RX ring, and it can't write the
        // chunk again before we put it back on the fill ring, which needs `&mut self` and so
        // ends this borrow.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.umem.base.as_ptr().add(start), desc.len as usize)
        };
        Some((chunk, Some(bytes)))
    }

    /// Publishes how far RX has been consumed.
    pub(crate) fn rx_release(&self) {
        self.rx.release();
    }

    /// Whether the RX ring holds frames we have not taken.
    pub(crate) fn rx_pending(&mut self) -> bool {
        self.rx.ready() > 0
    }

    /// Gives chunk `addr` to the kernel to receive into. False when the fill ring is full.
    pub(crate) fn fill_push(&mut self, addr: u64) -> bool {
        if self.fill.free() == 0 {
            return false;
        }
        self.fill.write(self.fill.local, addr);
        self.fill.local = self.fill.local.wrapping_add(1);
        true
    }

    /// Publishes the fill ring; wakes the driver if it asked (`XDP_USE_NEED_WAKEUP`).
    pub(crate) fn fill_publish(&mut self) {
        self.fill.publish();
        if self.mode == BindMode::ZeroCopy && self.fill.needs_wakeup() {
            // SAFETY: a zero-length receive with no buffer: it only makes the driver refill.
            unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
    }

    // --- transmit

    /// The bytes of the frame at chunk `addr`, to build a frame in (`None` outside the UMEM).
    pub(crate) fn tx_buffer(&mut self, addr: u64) -> Option<&mut [u8]> {
        let len = self.geometry.frame_size as usize;
        let start = self.span(addr, len)?;
        // SAFETY: the frame lies inside the UMEM (checked by `span`); it is on our free list,
        // so the kernel neither reads nor writes it, and `&mut self` makes this the only slice.
        Some(unsafe { std::slice::from_raw_parts_mut(self.umem.base.as_ptr().add(start), len) })
    }

    /// Queues the frame of `len` bytes at `addr` for sending; `metadata` when the
    /// [`TX_METADATA_LEN`] bytes before it hold a `struct xsk_tx_metadata` (see
    /// [`write_tx_checksum_metadata`]). False when the TX ring is full.
    pub(crate) fn tx_push(&mut self, addr: u64, len: u32, metadata: bool) -> bool {
        if self.tx.free() == 0 {
            return false;
        }
        self.tx.write(
            self.tx.local,
            XdpDesc {
                addr,
                len,
                options: if metadata && self.tx_metadata {
                    XDP_TX_METADATA
                } else {
                    0
                },
            },
        );
        self.tx.local = self.tx.local.wrapping_add(1);
        true
    }

    /// Publishes the TX ring and makes the kernel send it. In copy mode a `sendto` moves at
    /// most 32 frames (the kernel's TX batch), so it is repeated while the kernel consumes.
    /// Returns the frames still on the ring (to kick again later).
    pub(crate) fn tx_kick(&mut self) -> u32 {
        self.tx.publish();
        if self.mode == BindMode::ZeroCopy && !self.tx.needs_wakeup() {
            return 0;
        }
        let mut before = self.tx.outstanding();
        while before > 0 {
            if let Err(e) = super::fd::kick_tx(&self.fd) {
                let err = e.raw_os_error();
                // EAGAIN: the batch limit or a busy driver; EBUSY/ENOBUFS/ENETDOWN: retry on
                // the next flush (the frames stay on the ring).
                if err != Some(libc::EAGAIN) {
                    return before;
                }
            }
            let after = self.tx.outstanding();
            if after >= before {
                return after; // no progress: the next flush tries again
            }
            before = after;
        }
        0
    }

    /// Takes the chunk of the next frame the kernel finished sending.
    pub(crate) fn completion_next(&mut self) -> Option<u64> {
        if self.completion.ready() == 0 {
            return None;
        }
        let addr = self.completion.read(self.completion.local);
        self.completion.local = self.completion.local.wrapping_add(1);
        Some(self.chunk_of(addr))
    }

    /// Publishes how far the completion ring has been consumed.
    pub(crate) fn completion_release(&self) {
        self.completion.release();
    }

    /// The kernel's counters for this socket.
    pub(crate) fn statistics(&self) -> XdpStatistics {
        getsockopt(&self.fd, XDP_STATISTICS).unwrap_or_default()
    }
}

fn bind(fd: &OwnedFd, ifindex: u32, queue: u32, flags: u16) -> io::Result<()> {
    let addr = SockaddrXdp {
        family: AF_XDP as u16,
        flags,
        ifindex,
        queue_id: queue,
        shared_umem_fd: 0,
    };
    // SAFETY: `addr` is a valid sockaddr_xdp and the length passed is its size.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const SockaddrXdp).cast(),
            std::mem::size_of::<SockaddrXdp>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn bind_error(name: &str, queue: u32, err: io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(libc::EBUSY) => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "queue {queue} of '{name}' is busy: another AF_XDP socket is bound to it, still \
                 after {:.1} s of retries (EBUSY)",
                (BIND_ATTEMPTS - 1) as f64 * BIND_RETRY.as_secs_f64()
            ),
        ),
        Some(libc::EINVAL) => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' has no receive queue {queue} for AF_XDP (EINVAL)"),
        ),
        Some(libc::ENODEV) | Some(libc::ENXIO) => super::netdev::name_error(name, err),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            privilege_error("AF_XDP bind", "CAP_NET_RAW", err)
        }
        _ => io::Error::new(
            err.kind(),
            format!("AF_XDP bind to '{name}' queue {queue}: {err}"),
        ),
    }
}

/// Writes into `meta` (the [`TX_METADATA_LEN`] bytes before a TX frame) a
/// `struct xsk_tx_metadata` asking the device to finish the checksum that starts at byte
/// `csum_start` of the frame and is stored at `csum_start + csum_offset` (the
/// `CHECKSUM_PARTIAL` convention: the field holds the pseudo-header sum).
pub(crate) fn write_tx_checksum_metadata(meta: &mut [u8], csum_start: u16, csum_offset: u16) {
    meta[..TX_METADATA_LEN].fill(0);
    // The struct sits at the start of the reserved bytes: flags, then request.csum_start and
    // request.csum_offset, host byte order.
    meta[..8].copy_from_slice(&XDP_TXMD_FLAGS_CHECKSUM.to_ne_bytes());
    meta[8..10].copy_from_slice(&csum_start.to_ne_bytes());
    meta[10..12].copy_from_slice(&csum_offset.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_struct_sizes() {
        assert_eq!(std::mem::size_of::<UmemReg>(), 32);
        assert_eq!(std::mem::size_of::<MmapOffsets>(), 128);
        assert_eq!(std::mem::size_of::<SockaddrXdp>(), 16);
        assert_eq!(std::mem::size_of::<XdpDesc>(), 16);
        assert_eq!(std::mem::size_of::<XdpStatistics>(), 48);
        assert_eq!(std::mem::size_of::<EthtoolChannels>(), 36);
    }

    #[test]
    fn busy_error_says_what_holds_the_queue() {
        let e = bind_error("veth9", 0, io::Error::from_raw_os_error(libc::EBUSY));
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        assert!(e.to_string().contains("queue 0 of 'veth9'"), "{e}");
        let e = bind_error("veth9", 3, io::Error::from_raw_os_error(libc::EINVAL));
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn loopback_queue_count_is_known_or_unknown_never_an_error() {
        // lo has no ethtool channels: EOPNOTSUPP reads as "unknown".
        let q = rx_queues("lo").expect("lo exists in every namespace");
        assert!(q.is_none_or(|n| n >= 1));
        assert_eq!(
            rx_queues("mtcp-no-such0").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
