//! The TAP backend: the stack is the far end of a Linux TAP interface.
//!
//! [`TapQueue::open`] attaches to the TAP device of a name (`IFF_TAP | IFF_NO_PI`), creating a
//! transient one if none exists, sets the link up and reads its MTU. Every `read(2)` on the
//! descriptor is one frame the kernel sent out of the interface; every `write(2)` is one frame
//! the kernel receives on it. The kernel side keeps its own MAC and IP address (for example
//! 198.18.11.1/24): the stack must use a *different* MAC and address (198.18.11.2/24) — it is
//! the host at the other end of the cable, not the interface.
//!
//! # Batching and wake-ups
//! [`PacketIo::rx_burst`] reads until `max` frames or EAGAIN; [`PacketIo::tx`] builds frames in
//! a batch of [`BURST`] recycled buffers and [`PacketIo::flush`] writes them (a full batch is
//! written at once). A TAP descriptor takes one frame per system call, so a frame costs one
//! `read` or `write` (about 1 µs). While the context loop is parked, an [`FdWaker`] helper
//! thread polls the descriptor and wakes it.
//!
//! # Checksum offload
//! Opened with `offload`, the device carries a virtio-net header ([`crate::vnet_hdr`],
//! `IFF_VNET_HDR` + `TUNSETOFFLOAD(TUN_F_CSUM)`) and the port reports both checksum caps:
//! - transmit: the stack leaves TCP checksums to the device (pseudo-header sum only) and each
//!   frame goes with `NEEDS_CSUM`; the kernel's TCP takes it as verified, a bridge or a real
//!   device behind it finishes it;
//! - receive: frames the kernel marks `NEEDS_CSUM` (its own, never on a wire) or `DATA_VALID`
//!   are not checked again; any other frame is verified here ([`crate::csum::verify_frame`])
//!   and dropped, counted, when wrong — the stack trusts this port's frames.
//!
//! # Several queues
//! [`TapQueue::open_multi`] attaches several descriptors to one device with `IFF_MULTI_QUEUE`,
//! one per context. The kernel picks a queue for each frame it sends out of the interface by
//! its own flow hash, remembering the queue a flow last arrived from us on
//! (`tun_automq_select_queue`), not by mTCP's RSS: the stack wraps the queues in
//! [`crate::steer`], which hands a frame that reached the wrong context to its owner. The
//! virtio-net header and the offloads are per device, so every queue has them.
//!
//! # Limits
//! No TSO on transmit; GSO super-frames received on the wrong queue of a multi-queue device
//! are too long for [`crate::steer`]'s buffers and are dropped (counted).
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use crate::csum::verify_frame;
use crate::fd_waker::FdWaker;
use crate::frame::{new_buf, FrameBuf, ETH_HEADER};
use crate::sys::{netdev, tap};
use crate::vnet_hdr;
use crate::{Caps, Notify, PacketIo, PortStats, BURST, MAX_FRAME};

/// Largest frame a TAP read may return (the kernel side's MTU can exceed ours): reading into a
/// buffer this large keeps oversized frames whole so they are dropped and counted, not cut.
const READ_BUF: usize = vnet_hdr::LEN + 65_536 + ETH_HEADER;

/// One queue of a TAP device. See the [module docs](self).
pub struct TapQueue {
    /// Dropped first: it polls `fd`, which must outlive it.
    waker: FdWaker,
    fd: OwnedFd,
    name: String,
    caps: Caps,
    /// Bytes of virtio-net header before each frame: [`vnet_hdr::LEN`] with offload, else 0.
    hdr_len: usize,
    read_buf: Box<[u8]>,
    batch: Vec<(FrameBuf, usize)>,
    spare: Vec<FrameBuf>,
    stats: PortStats,
}

impl std::fmt::Debug for TapQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapQueue")
            .field("name", &self.name)
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl TapQueue {
    /// Attaches to (or creates) TAP device `name` and brings its link up, as one queue: a
    /// single-queue device, or one queue of a device made with `multi_queue`. `mac` is the
    /// *stack's* address (not the interface's); `mtu` the stack's IP MTU, lowered to the
    /// interface's MTU when that is smaller; `offload` asks for checksum offload through the
    /// virtio-net header (see the [module docs](self)).
    ///
    /// Errors carry the reason and the name: see [`crate::sys::tap::open`]; EINVAL when the
    /// MTU doesn't fit a [`MAX_FRAME`] buffer.
    pub fn open(name: &str, mac: [u8; 6], mtu: usize, offload: bool) -> io::Result<TapQueue> {
        let fd = match tap::open(name, offload, false) {
            // Made with `multi_queue`: the kernel wants the flag even for one queue.
            Err(single) if single.kind() == io::ErrorKind::InvalidInput => {
                tap::open(name, offload, true).map_err(|multi| {
                    if multi.kind() == io::ErrorKind::InvalidInput {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("'{name}' exists but is not a TAP device (EINVAL)"),
                        )
                    } else {
                        multi
                    }
                })?
            }
            other => other?,
        };
        TapQueue::attached(fd, name, mac, mtu, offload)
    }

    /// `num_queues` queues of one multi-queue TAP device `name` (`IFF_MULTI_QUEUE`, created
    /// if absent), for as many contexts; the kernel spreads the frames it sends over them by
    /// its own flow hash, so a port of several queues needs [`crate::steer`]. With one queue
    /// this is [`TapQueue::open`].
    ///
    /// Errors: as [`TapQueue::open`]; EINVAL that says to make the device with `multi_queue`
    /// when `name` is a single-queue TAP (a persistent one made without it).
    pub fn open_multi(
        name: &str,
        mac: [u8; 6],
        mtu: usize,
        offload: bool,
        num_queues: usize,
    ) -> io::Result<Vec<TapQueue>> {
        if num_queues <= 1 {
            return Ok(vec![TapQueue::open(name, mac, mtu, offload)?]);
        }
        (0..num_queues)
            .map(|_| TapQueue::attached(tap::open(name, offload, true)?, name, mac, mtu, offload))
            .collect()
    }

    /// A queue over `fd`, attached to `name`: sets the link up and reads its MTU.
    fn attached(
        fd: OwnedFd,
        name: &str,
        mac: [u8; 6],
        mtu: usize,
        offload: bool,
    ) -> io::Result<TapQueue> {
        let hdr_len = if offload { vnet_hdr::LEN } else { 0 };
        netdev::set_up(name)
            .map_err(|e| netdev::privilege_error("set tap link up", "CAP_NET_ADMIN", e))?;
        let iface = netdev::interface(name)?;
        let mtu = mtu.min(iface.mtu);
        if mtu == 0 || hdr_len + mtu + ETH_HEADER > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("MTU {mtu} of '{name}' does not fit a {MAX_FRAME}-byte frame buffer"),
            ));
        }
        let waker = FdWaker::new(fd.as_raw_fd())?;
        Ok(TapQueue {
            waker,
            fd,
            name: name.to_owned(),
            caps: Caps {
                rx_checksum: offload,
                tx_checksum: offload,
                ..Caps::software(mac, mtu)
            },
            hdr_len,
            read_buf: vec![0u8; READ_BUF].into_boxed_slice(),
            batch: Vec::with_capacity(BURST),
            spare: (0..BURST).map(|_| new_buf()).collect(),
            stats: PortStats::default(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PacketIo for TapQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let limit = self.caps.mtu + ETH_HEADER;
        let mut delivered = 0;
        let mut reads = 0;
        while reads < max {
            match crate::sys::fd::read_nonblocking(&self.fd, &mut self.read_buf) {
                Ok(Some(read)) => {
                    reads += 1;
                    let len = read.saturating_sub(self.hdr_len);
                    let (hdr, frame) = self.read_buf[..read].split_at(self.hdr_len);
                    let gso = self.hdr_len > 0 && vnet_hdr::is_gso(hdr);
                    if len < ETH_HEADER || (len > limit && !gso) {
                        self.stats.drops += 1;
                        continue;
                    }
                    if self.hdr_len > 0 && !vnet_hdr::checksum_trusted(hdr) && !verify_frame(frame)
                    {
                        self.stats.drops += 1;
                        continue;
                    }
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += len as u64;
                    delivered += 1;
                    on_frame(frame);
                }
                Ok(None) => {
                    self.waker.rearm();
                    break;
                }
                // A device gone away (EBADFD, EIO): report nothing; the loop's park timeout
                // keeps it from spinning, since the waker stays disarmed.
                Err(_) => break,
            }
        }
        delivered
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        if self.batch.len() == BURST {
            self.flush();
        }
        let cap = len.min(self.caps.mtu + ETH_HEADER);
        let mut buf = self.spare.pop().unwrap_or_else(new_buf);
        let (hdr, frame) = buf.split_at_mut(self.hdr_len);
        let n = fill(&mut frame[..cap]).min(cap);
        if n < ETH_HEADER {
            self.spare.push(buf);
            self.stats.drops += 1;
            return false;
        }
        if self.hdr_len > 0 {
            vnet_hdr::write_tx(hdr, &frame[..n]);
        }
        self.batch.push((buf, self.hdr_len + n));
        true
    }

    fn flush(&mut self) {
        for (buf, len) in self.batch.drain(..) {
            match crate::sys::fd::write_frame(&self.fd, &buf[..len]) {
                Ok(_) => {
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += (len - self.hdr_len) as u64;
                }
                Err(_) => self.stats.drops += 1,
            }
            self.spare.push(buf);
        }
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        self.waker.set_notify(notify, &self.name);
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
