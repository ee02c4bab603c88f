//! The AF_XDP backend: frames of a kernel interface through XDP sockets (XSK), without the
//! kernel's network stack in the way.
//!
//! Each queue (one per context) is one AF_XDP socket bound to one receive queue of the
//! interface, with its own UMEM of [`FRAMES`] × [`FRAME_SIZE`] bytes: the first half of the
//! frames circulates between the fill ring and the RX ring, the second half between our free
//! list, the TX ring and the completion ring. All rings have [`RING_SIZE`] entries, so none can
//! overflow.
//!
//! An XDP program sends each frame of the interface to the socket of the queue it arrived on:
//! `bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS)`, assembled and loaded by
//! [`crate::sys::bpf`] (no libbpf, no clang) and attached with a `bpf_link`, so it is detached
//! when the last queue is dropped — or when the process dies. A link never replaces a program
//! someone else attached: that is an error that says so.
//!
//! # Modes
//! [`XdpMode::Auto`] attaches in native (driver) mode and falls back to generic (skb) mode when
//! the driver has no XDP. Frames are copied between the driver and the UMEM unless
//! [`Options::zerocopy`] asks for `XDP_ZEROCOPY` and the driver has it (veth has not:
//! `shared/netlab/FINDINGS.md` §4); [`AfXdpQueue::zerocopy`] tells what was obtained.
//!
//! # Checksum offload
//! With [`Options::checksum_offload`] and a kernel with AF_XDP TX metadata (Linux ≥ 6.11),
//! each send chunk starts with [`afxdp::TX_METADATA_LEN`] bytes for a `struct
//! xsk_tx_metadata`, and a TCP frame goes with `XDP_TXMD_FLAGS_CHECKSUM`: the stack writes the
//! pseudo-header sum only and the device finishes it (in copy mode the kernel marks the skb
//! `CHECKSUM_PARTIAL`, which a veth passes on to the peer's TCP as verified). The port then
//! reports `tx_checksum`. Receive has no such help (an XDP frame carries no checksum state),
//! so the stack verifies every received checksum.
//!
//! # Limits
//! - Generic mode drops GSO super-frames: the peer of a veth must send MTU-sized frames
//!   (TSO/GSO/USO off; the lab does it, and native mode on veth does it by itself).
//! - Several contexts need as many receive queues (a veth has one unless created with
//!   `numrxqueues`), and the device (a veth: the queue its peer sent on; a NIC: its own RSS key)
//!   decides which queue a flow reaches, not mTCP's Toeplitz key: the stack wraps the queues
//!   in [`crate::steer`], which hands a frame on the wrong queue to its owner. Frames of a
//!   queue without a socket go to the kernel (`XDP_PASS`).
//! - Right after a socket on the same queue was closed, the kernel may still hold the queue
//!   for up to about a second (EBUSY): the bind is retried for 2.4 s.
//!
//! # Wake-ups
//! While the context loop is parked an [`FdWaker`] helper thread polls the socket (readable
//! when the RX ring has frames) and wakes it.
use std::io;
use std::sync::Arc;

use crate::csum::{tcp_checksum_start, TCP_CHECKSUM_OFFSET};
use crate::fd_waker::FdWaker;
use crate::frame::ETH_HEADER;
use crate::sys::afxdp::{self, BindMode, Geometry, XskSocket};
use crate::sys::{bpf, netdev};
use crate::{Caps, Notify, PacketIo, PortStats};
use std::os::fd::OwnedFd;

/// UMEM frames per queue (8 MiB of 2 KiB frames): half for receiving, half for sending.
pub const FRAMES: u32 = 4096;
/// Bytes per UMEM frame. Received frames start [`XDP_HEADROOM`] bytes in.
pub const FRAME_SIZE: u32 = 2048;
/// Entries of each of the four rings.
pub const RING_SIZE: u32 = 2048;
/// Bytes the kernel leaves before a received frame in its chunk (`XDP_PACKET_HEADROOM`).
pub const XDP_HEADROOM: usize = 256;

// A 1500-byte MTU frame fits after the headroom; ring indexes wrap by masking; every receive
// chunk fits the fill ring and every send chunk the TX ring, so neither can overflow.
const _: () = assert!(1500 + ETH_HEADER <= FRAME_SIZE as usize - XDP_HEADROOM);
const _: () = assert!(RING_SIZE.is_power_of_two() && FRAME_SIZE.is_power_of_two());
const _: () = assert!(FRAMES / 2 <= RING_SIZE);

/// Where the XDP program runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Native mode when the driver has it, else generic.
    #[default]
    Auto,
    /// Native (driver) XDP only (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// Generic XDP, on the socket buffer (`XDP_FLAGS_SKB_MODE`): any device, slower.
    Generic,
}

impl std::str::FromStr for XdpMode {
    type Err = io::Error;
    fn from_str(text: &str) -> io::Result<XdpMode> {
        match text {
            "auto" | "" => Ok(XdpMode::Auto),
            "drv" | "native" => Ok(XdpMode::Native),
            "skb" | "generic" => Ok(XdpMode::Generic),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("XDP mode '{other}' is not one of auto, drv (native), skb (generic)"),
            )),
        }
    }
}

/// How to open an AF_XDP port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Where the XDP program runs.
    pub mode: XdpMode,
    /// Ask for zero-copy first (falls back to copy mode when the driver has none).
    pub zerocopy: bool,
    /// Leave TCP checksums to the device through AF_XDP TX metadata, where the kernel has it
    /// (see the [module docs](self)).
    pub checksum_offload: bool,
}

/// The XDP program, its XSKMAP and the link that attaches it: shared by the queues of a port,
/// detached when the last one is dropped.
struct Attachment {
    // Field order = drop order: the link first (detaches the program).
    _link: OwnedFd,
    _program: OwnedFd,
    _map: OwnedFd,
    native: bool,
}

/// One queue of an AF_XDP port. See the [module docs](self).
pub struct AfXdpQueue {
    /// Dropped first: it polls the socket, which must outlive it.
    waker: FdWaker,
    attachment: Arc<Attachment>,
    sock: XskSocket,
    name: String,
    queue: u32,
    caps: Caps,
    /// TX chunks neither on the TX ring nor awaiting completion.
    tx_free: Vec<u64>,
    tx_pending: u32,
    stats: PortStats,
}

impl std::fmt::Debug for AfXdpQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfXdpQueue")
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("native", &self.attachment.native)
            .field("zerocopy", &self.zerocopy())
            .finish_non_exhaustive()
    }
}

fn privilege(what: &str, e: io::Error) -> io::Error {
    netdev::privilege_error(
        what,
        "CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (or CAP_SYS_ADMIN)",
        e,
    )
}

/// Opens `num_queues` queues (receive queues 0..num_queues) on interface `name`, with the
/// stack's MAC `mac` (normally the interface's own) and IP MTU `mtu` (lowered to the
/// interface's).
///
/// Errors: NotFound naming the interface (ENODEV); PermissionDenied naming the capabilities;
/// InvalidInput when the device has fewer receive queues than `num_queues`, or the MTU does not
/// fit a frame; ResourceBusy when a queue stays held by another AF_XDP socket, or when an XDP
/// program is already attached to the interface (by another process or `ip link`);
/// Unsupported without AF_XDP in the kernel, or for [`XdpMode::Native`] on a driver without it.
pub fn open(
    name: &str,
    mac: [u8; 6],
    mtu: usize,
    num_queues: usize,
    options: Options,
) -> io::Result<Vec<AfXdpQueue>> {
    let iface = netdev::interface(name)?;
    let mtu = mtu.min(iface.mtu);
    if mtu == 0 || mtu + ETH_HEADER > FRAME_SIZE as usize - XDP_HEADROOM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "afxdp on '{name}': MTU {mtu} does not fit {FRAME_SIZE}-byte UMEM frames \
                 (at most {})",
                FRAME_SIZE as usize - XDP_HEADROOM - ETH_HEADER
            ),
        ));
    }
    let available = afxdp::rx_queues(name)?;
    if num_queues == 0 || available.is_some_and(|n| (n as usize) < num_queues) {
        let have = available.map_or("an unknown number of".to_string(), |n| n.to_string());
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "afxdp: '{name}' has {have} receive queue(s) and AF_XDP takes one queue per \
                 context: set num_cores to at most that (a veth has 1 unless created with \
                 numrxqueues)"
            ),
        ));
    }
    let map = bpf::create_xsk_map(num_queues as u32)
        .map_err(|e| privilege("BPF_MAP_CREATE (XSKMAP)", e))?;
    let program =
        bpf::load_redirect_program(&map).map_err(|e| privilege("BPF_PROG_LOAD (XDP)", e))?;
    let geometry = Geometry {
        frames: FRAMES,
        frame_size: FRAME_SIZE,
        ring_size: RING_SIZE,
    };
    let mut sockets = Vec::with_capacity(num_queues);
    for queue in 0..num_queues as u32 {
        let sock = XskSocket::open(
            name,
            iface.index,
            queue,
            geometry,
            options.zerocopy,
            options.checksum_offload,
        )?;
        bpf::set_xsk(&map, queue, sock.raw_fd()).map_err(|e| privilege("XSKMAP update", e))?;
        sockets.push((queue, sock));
    }
    let (link, native) = attach(name, iface.index, &program, options.mode)?;
    let attachment = Arc::new(Attachment {
        _link: link,
        _program: program,
        _map: map,
        native,
    });
    sockets
        .into_iter()
        .map(|(queue, mut sock)| {
            // Receive half of the UMEM goes to the kernel now; the other half is ours to send.
            for i in 0..FRAMES / 2 {
                let addr = sock.frame_addr(i);
                sock.fill_push(addr);
            }
            sock.fill_publish();
            let tx_free = (FRAMES / 2..FRAMES).map(|i| sock.frame_addr(i)).collect();
            let tx_checksum = sock.has_tx_metadata();
            Ok(AfXdpQueue {
                waker: FdWaker::new(sock.raw_fd())?,
                attachment: Arc::clone(&attachment),
                sock,
                name: name.to_owned(),
                queue,
                caps: Caps {
                    tx_checksum,
                    ..Caps::software(mac, mtu)
                },
                tx_free,
                tx_pending: 0,
                stats: PortStats::default(),
            })
        })
        .collect()
}

/// Attaches the program in the mode asked for; returns the link and whether it is native.
fn attach(
    name: &str,
    ifindex: u32,
    program: &OwnedFd,
    mode: XdpMode,
) -> io::Result<(OwnedFd, bool)> {
    let generic = || bpf::link_xdp(program, ifindex, bpf::XDP_FLAGS_SKB_MODE).map(|l| (l, false));
    let result = match mode {
        XdpMode::Generic => generic(),
        XdpMode::Native | XdpMode::Auto => {
            match bpf::link_xdp(program, ifindex, bpf::XDP_FLAGS_DRV_MODE) {
                Ok(link) => Ok((link, true)),
                // No native XDP in this driver: generic mode runs on any device.
                Err(e)
                    if mode == XdpMode::Auto
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
                        ) =>
                {
                    generic()
                }
                Err(e) => Err(e),
            }
        }
    };
    result.map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) | Some(libc::EEXIST) => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "an XDP program is already attached to '{name}' (by another process or `ip \
                 link`); mtcp does not replace it — detach it first (`ip link set dev {name} \
                 xdpgeneric off`, or `xdpdrv off` for a native one) ({e})"
            ),
        ),
        Some(libc::EOPNOTSUPP) => io::Error::new(
            io::ErrorKind::Unsupported,
            format!("'{name}': its driver has no native XDP; use the generic (skb) mode ({e})"),
        ),
        _ => privilege("XDP attach (BPF_LINK_CREATE)", e),
    })
}

impl AfXdpQueue {
    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The receive queue this socket is bound to (the context it serves).
    pub fn queue_index(&self) -> usize {
        self.queue as usize
    }

    /// Whether the driver reads and writes the UMEM directly (else the kernel copies).
    pub fn zerocopy(&self) -> bool {
        self.sock.mode() == BindMode::ZeroCopy
    }

    /// Whether the XDP program runs in the driver (native) rather than on socket buffers.
    pub fn native(&self) -> bool {
        self.attachment.native
    }

    /// Moves sent frames from the completion ring back to the free list.
    fn reap_completions(&mut self) {
        let mut any = false;
        while let Some(addr) = self.sock.completion_next() {
            self.tx_free.push(addr);
            any = true;
        }
        if any {
            self.sock.completion_release();
        }
    }
}

impl PacketIo for AfXdpQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let limit = self.caps.mtu + ETH_HEADER;
        let mut seen = 0;
        let mut delivered = 0;
        while seen < max {
            let Some((chunk, frame)) = self.sock.rx_next() else {
                break;
            };
            seen += 1;
            match frame {
                Some(frame) if frame.len() >= ETH_HEADER && frame.len() <= limit => {
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += frame.len() as u64;
                    delivered += 1;
                    on_frame(frame);
                }
                _ => self.stats.drops += 1,
            }
            // The fill ring has room for every receive chunk, so this can't fail.
            self.sock.fill_push(chunk);
        }
        if seen > 0 {
            self.sock.rx_release();
            self.sock.fill_publish();
        }
        if seen < max && !self.sock.rx_pending() {
            self.waker.rearm();
        }
        delivered
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        if self.tx_free.is_empty() {
            self.reap_completions();
            if self.tx_free.is_empty() {
                // Every send frame is in flight: kick the kernel, then look once more.
                self.flush();
                self.reap_completions();
            }
        }
        let Some(addr) = self.tx_free.pop() else {
            self.stats.drops += 1;
            return false;
        };
        // With TX metadata the frame starts after the room for it.
        let skip = if self.caps.tx_checksum {
            afxdp::TX_METADATA_LEN
        } else {
            0
        };
        let cap = len.min(self.caps.mtu + ETH_HEADER);
        let (n, metadata) = match self.sock.tx_buffer(addr) {
            Some(chunk) => {
                let (meta, data) = chunk.split_at_mut(skip);
                let cap = cap.min(data.len());
                let n = fill(&mut data[..cap]).min(cap);
                let start = (skip > 0).then(|| tcp_checksum_start(&data[..n])).flatten();
                if let Some(start) = start {
                    afxdp::write_tx_checksum_metadata(meta, start, TCP_CHECKSUM_OFFSET);
                }
                (n, start.is_some())
            }
            None => (0, false),
        };
        if n < ETH_HEADER || !self.sock.tx_push(addr + skip as u64, n as u32, metadata) {
            self.tx_free.push(addr);
            self.stats.drops += 1;
            return false;
        }
        self.tx_pending += 1;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += n as u64;
        true
    }

    fn flush(&mut self) {
        if self.tx_pending > 0 {
            // Frames the kernel could not take stay on the TX ring and go with the next kick.
            self.tx_pending = self.sock.tx_kick();
        }
        self.reap_completions();
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        self.waker.set_notify(notify, &self.name);
    }

    fn stats(&self) -> PortStats {
        let k = self.sock.statistics();
        PortStats {
            drops: self.stats.drops
                + k.rx_dropped
                + k.rx_ring_full
                + k.rx_invalid_descs
                + k.tx_invalid_descs,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interface_names_it() {
        let err = open(
            "mtcp-no-such0",
            [2, 0, 0, 0, 0, 1],
            1500,
            1,
            Options::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("mtcp-no-such0"), "{err}");
    }

    #[test]
    fn mtu_that_does_not_fit_a_frame_is_refused_before_anything_is_loaded() {
        // lo's MTU is 64 KiB, so 9000 stays 9000: too big for a 2 KiB frame after headroom.
        let err = open("lo", [2, 0, 0, 0, 0, 1], 9000, 1, Options::default()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("MTU 9000"), "{err}");
    }

    #[test]
    fn modes_parse_from_their_names() {
        assert_eq!("".parse::<XdpMode>().unwrap(), XdpMode::Auto);
        assert_eq!("drv".parse::<XdpMode>().unwrap(), XdpMode::Native);
        assert_eq!("skb".parse::<XdpMode>().unwrap(), XdpMode::Generic);
        assert_eq!("generic".parse::<XdpMode>().unwrap(), XdpMode::Generic);
        assert!("fast".parse::<XdpMode>().is_err());
    }
}
