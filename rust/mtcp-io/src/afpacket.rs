//! The AF_PACKET backend: frames of a kernel interface (a veth end, a NIC) through
//! memory-mapped TPACKET_V2 rings, without the kernel's IP stack in the way.
//!
//! Each queue is one `AF_PACKET` socket bound to the interface (`ETH_P_ALL`) with
//! - an RX ring of fixed frames, each handed over by the kernel as soon as it is written (its
//!   `tp_status` turns to `TP_STATUS_USER`; the receive latency is the wake-up's, tens of µs).
//!   With the virtio-net header (checksum offload, below) it is [`RX_GSO_FRAMES`] frames of
//!   [`RX_GSO_FRAME_SIZE`] bytes, so a 64 KiB GSO super-frame fits one whole; without it
//!   [`RX_FRAMES`] × 2 KiB (super-frames are dropped then anyway). TPACKET_V3, used before,
//!   hands over whole blocks only when full or after a retire timeout of ≥ 1 ms, which capped
//!   a lone request/response at about 1,000 per second;
//! - a TX ring of [`TX_FRAMES`] × 2 KiB frames, filled in place by [`PacketIo::tx`] and sent by
//!   one `sendto` per [`PacketIo::flush`];
//! - `PACKET_QDISC_BYPASS` (frames go straight to the driver; tcpdump on the *sending* interface
//!   then doesn't see them — capture on the peer) and `PACKET_IGNORE_OUTGOING` (the kernel's own
//!   transmissions on the interface are not received).
//!
//! # Addresses
//! The stack uses the interface's MAC and an IPv4 address the kernel does **not** have on that
//! interface; otherwise the kernel's TCP answers segments meant for the stack with RSTs.
//!
//! # Several contexts
//! With `num_queues > 1` the queues' sockets form one `PACKET_FANOUT_CBPF` group bound to IPv4
//! frames: the kernel runs a classic BPF program ([`crate::rss_cbpf`]) on each frame and hands
//! it to the one socket whose queue [`crate::rss::steer_frame`] picks — the same Toeplitz hash
//! with mTCP's key as the in-memory link and a NIC's RSS, so `mtcp_init_rss` port choice holds
//! and each frame is copied once. Kernel `PACKET_FANOUT_HASH` is not used: its hash is not the
//! one the runtime picks client ports by. ARP must reach every context (each keeps its own
//! neighbour cache), so each queue also has a small ring-less socket bound to ARP frames
//! ([`ArpSocket`]), drained first by `rx_burst`; its descriptor wakes a parked loop too.
//!
//! # Checksums
//! Frames the local kernel sent through a peer with transmit checksum offload on arrive with
//! the TCP/UDP checksum unfinished (`TP_STATUS_CSUMNOTREADY`).
//! - With `offload` (the default, `checksum_offload = 1`), the socket has `PACKET_VNET_HDR` and
//!   the port reports both checksum caps. Transmit: the stack leaves TCP checksums to the
//!   device and each frame goes with a virtio-net `NEEDS_CSUM` header ([`crate::vnet_hdr`]);
//!   a veth passes that to the peer kernel, which takes it as verified, as it does between
//!   containers. Receive: frames marked `CSUMNOTREADY` (never on a wire) or `CSUM_VALID` are
//!   not checked again; the rest are verified here ([`crate::csum::verify_frame`]) and dropped,
//!   counted, when wrong. A frame whose header says GSO (a peer with TSO/GSO on) is taken
//!   whole, larger than the MTU: the stack handles it as one big in-window segment.
//! - Without it, `rx_burst` completes unfinished checksums in the ring ([`crate::csum`]) and
//!   the stack checks and computes every checksum itself.
//!
//! # Wake-ups
//! While the context loop is parked an [`FdWaker`] helper thread polls the socket (readable
//! once the kernel has written a frame we have not released) and wakes it.
use std::cell::Cell;
use std::io;
use std::sync::Arc;

use crate::csum::{complete_l4_checksum, verify_frame};
use crate::fd_waker::FdWaker;
use crate::frame::ETH_HEADER;
use crate::rss_cbpf;
use crate::sys::afpacket::{
    ArpSocket, Geometry, PacketSocket, Receive, RxFrame, TP_STATUS_CSUMNOTREADY,
    TP_STATUS_CSUM_VALID,
};
use crate::sys::netdev;
use crate::vnet_hdr;
use crate::{Caps, Notify, PacketIo, PortStats, MAX_FRAME};

/// RX ring frames without the virtio-net header (of 2 KiB each: 2 MiB per queue).
pub const RX_FRAMES: u32 = 1024;
/// RX ring frames with the virtio-net header (of [`RX_GSO_FRAME_SIZE`] each: 16 MiB per
/// queue, 15 frames in each 1 MiB block).
pub const RX_GSO_FRAMES: u32 = 240;
/// Bytes per RX frame with the virtio-net header: the frame header and the virtio-net header
/// (the kernel puts the frame 76 bytes in) plus a GSO super-frame (the peer's `gso_max_size`,
/// 64 KiB on a veth, plus the Ethernet header), rounded up to 68 KiB.
pub const RX_GSO_FRAME_SIZE: u32 = 68 * 1024;
/// TX ring frames (of 2 KiB each: 512 KiB per queue).
pub const TX_FRAMES: u32 = 256;

const BLOCK_SIZE: u32 = 64 * 1024;
/// Blocks of the GSO-sized RX ring: a power of two (the kernel allocates a block in pages of
/// 2^order), so 1 MiB holds 15 frames with 64 KiB to spare where 68 KiB blocks would each
/// take 128 KiB.
const RX_GSO_BLOCK_SIZE: u32 = 1024 * 1024;
const FRAME_SIZE: u32 = MAX_FRAME as u32;

/// One queue of an AF_PACKET port. See the [module docs](self).
pub struct AfPacketQueue {
    /// Dropped first: it polls the socket, which must outlive it.
    waker: FdWaker,
    sock: PacketSocket,
    /// With several queues: this queue's socket for ARP frames (see the module docs).
    arp: Option<ArpSocket>,
    arp_buf: Box<[u8]>,
    name: String,
    index: usize,
    caps: Caps,
    /// Bytes of virtio-net header before each TX frame: [`vnet_hdr::LEN`] or 0.
    hdr_len: usize,
    /// The next RX frame to read (the kernel fills the ring in order).
    rx_head: u32,
    tx_head: u32,
    tx_pending: u32,
    stats: PortStats,
    kernel_drops: Cell<u64>,
}

impl std::fmt::Debug for AfPacketQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketQueue")
            .field("name", &self.name)
            .field("queue", &self.index)
            .finish_non_exhaustive()
    }
}

/// Opens `num_queues` queues on interface `name`, with the stack's MAC `mac` (normally the
/// interface's own, [`netdev::interface`]) and IP MTU `mtu` (lowered to the interface's);
/// `offload` asks for checksum offload (see the [module docs](self)).
///
/// Errors: NotFound naming the interface (ENODEV), PermissionDenied saying root or
/// CAP_NET_RAW is needed, InvalidInput for 0 queues or an MTU that doesn't fit 2 KiB frames.
pub fn open(
    name: &str,
    mac: [u8; 6],
    mtu: usize,
    num_queues: usize,
    offload: bool,
) -> io::Result<Vec<AfPacketQueue>> {
    let iface = netdev::interface(name)?;
    let mtu = mtu.min(iface.mtu);
    let rx = Geometry {
        block_size: BLOCK_SIZE,
        block_nr: RX_FRAMES / (BLOCK_SIZE / FRAME_SIZE),
        frame_size: FRAME_SIZE,
    };
    let rx_gso = Geometry {
        block_size: RX_GSO_BLOCK_SIZE,
        block_nr: RX_GSO_FRAMES / (RX_GSO_BLOCK_SIZE / RX_GSO_FRAME_SIZE),
        frame_size: RX_GSO_FRAME_SIZE,
    };
    let tx = Geometry {
        block_size: BLOCK_SIZE,
        block_nr: TX_FRAMES / (BLOCK_SIZE / FRAME_SIZE),
        frame_size: FRAME_SIZE,
    };
    if num_queues == 0
        || mtu == 0
        || vnet_hdr::LEN + mtu + ETH_HEADER
            > FRAME_SIZE as usize - crate::sys::afpacket::TX_DATA_OFFSET
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("afpacket on '{name}': {num_queues} queues with MTU {mtu} is not possible"),
        ));
    }
    let program = rss_cbpf::fanout_program();
    let mut group = None;
    (0..num_queues)
        .map(|index| {
            let receive = if num_queues > 1 {
                Receive::Ipv4Fanout {
                    group,
                    program: &program,
                }
            } else {
                Receive::All
            };
            let sock = PacketSocket::open(name, iface.index, rx, rx_gso, tx, offload, receive)?;
            group = sock.fanout_group();
            let arp = if num_queues > 1 {
                Some(ArpSocket::open(name, iface.index)?)
            } else {
                None
            };
            let offload = sock.has_vnet_hdr();
            let waker = FdWaker::watching(sock.raw_fd(), arp.as_ref().map(|a| a.raw_fd()))?;
            Ok(AfPacketQueue {
                waker,
                sock,
                arp,
                arp_buf: vec![0u8; MAX_FRAME].into_boxed_slice(),
                name: name.to_owned(),
                index,
                caps: Caps {
                    rx_checksum: offload,
                    tx_checksum: offload,
                    ..Caps::software(mac, mtu)
                },
                hdr_len: if offload { vnet_hdr::LEN } else { 0 },
                rx_head: 0,
                tx_head: 0,
                tx_pending: 0,
                stats: PortStats::default(),
                kernel_drops: Cell::new(0),
            })
        })
        .collect()
}

impl AfPacketQueue {
    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This queue's index (the context it serves).
    pub fn queue_index(&self) -> usize {
        self.index
    }

    /// Checks ready RX frame `index` (at most `limit` bytes unless GSO) and its checksums and
    /// hands it to `on_frame`; false when it was dropped (counted).
    fn take_rx_frame(&mut self, index: u32, limit: usize, on_frame: &mut dyn FnMut(&[u8])) -> bool {
        let Some(RxFrame {
            frame,
            wire_len,
            status,
            vnet_hdr,
        }) = self.sock.rx_frame(index)
        else {
            // Offsets that don't fit the frame.
            self.stats.drops += 1;
            return false;
        };
        let gso = vnet_hdr::is_gso(vnet_hdr);
        if frame.len() < ETH_HEADER
            || (frame.len() > limit && !gso)
            || wire_len as usize != frame.len()
        {
            self.stats.drops += 1;
            return false;
        }
        let vouched = status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID) != 0;
        let good = if self.caps.rx_checksum {
            // The stack won't check: vouch here for what the kernel didn't.
            vouched || verify_frame(frame)
        } else {
            // Sent by this host's kernel with checksum offload: only the pseudo-header sum is
            // there. Finish it (what Linux's TCP takes as verified), or drop what can't be.
            status & TP_STATUS_CSUMNOTREADY == 0 || complete_l4_checksum(frame).is_ok()
        };
        if !good {
            self.stats.drops += 1;
            return false;
        }
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += frame.len() as u64;
        on_frame(frame);
        true
    }
}

impl PacketIo for AfPacketQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let limit = self.caps.mtu + ETH_HEADER;
        let mut seen = 0;
        let mut delivered = 0;
        if let Some(arp) = &self.arp {
            while seen < max {
                let Some(len) = arp.recv(&mut self.arp_buf) else {
                    break;
                };
                seen += 1;
                if (ETH_HEADER..=limit).contains(&len) {
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += len as u64;
                    delivered += 1;
                    on_frame(&self.arp_buf[..len]);
                } else {
                    self.stats.drops += 1;
                }
            }
        }
        while seen < max {
            let index = self.rx_head;
            if !self.sock.rx_frame_ready(index) {
                self.waker.rearm();
                break;
            }
            seen += 1;
            if self.take_rx_frame(index, limit, on_frame) {
                delivered += 1;
            }
            // After `on_frame`: the stack has read the frame in place.
            self.sock.rx_release(index);
            self.rx_head = (index + 1) % self.sock.rx_frames();
        }
        delivered
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        let index = self.tx_head;
        let free = match self.sock.tx_frame_free(index) {
            Some(rejected) => Some(rejected),
            None => {
                // The ring is full of frames not yet sent: kick the kernel, then look again.
                self.flush();
                self.sock.tx_frame_free(index)
            }
        };
        match free {
            None => {
                self.stats.drops += 1;
                return false;
            }
            Some(true) => self.stats.drops += 1,
            Some(false) => {}
        }
        let hdr_len = self.hdr_len;
        let (hdr, data) = self.sock.tx_data(index).split_at_mut(hdr_len);
        let cap = len.min(self.caps.mtu + ETH_HEADER).min(data.len());
        let n = fill(&mut data[..cap]).min(cap);
        if n < ETH_HEADER {
            self.stats.drops += 1;
            return false;
        }
        if hdr_len > 0 {
            vnet_hdr::write_tx(hdr, &data[..n]);
        }
        self.sock.tx_submit(index, hdr_len + n);
        self.tx_head = (index + 1) % self.sock.tx_frames();
        self.tx_pending += 1;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += n as u64;
        true
    }

    fn flush(&mut self) {
        if self.tx_pending > 0 {
            // Frames the kernel could not take stay SEND_REQUEST and go with the next kick.
            let _ = self.sock.send();
            self.tx_pending = 0;
        }
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        self.waker.set_notify(notify, &self.name);
    }

    fn stats(&self) -> PortStats {
        self.kernel_drops
            .set(self.kernel_drops.get() + self.sock.take_kernel_drops());
        PortStats {
            drops: self.stats.drops + self.kernel_drops.get(),
            ..self.stats
        }
    }
}
