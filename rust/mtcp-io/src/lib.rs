//! # mtcp-io — moving frames
//!
//! Every backend implements [`PacketIo`]: a burst of received frames is handed to a callback,
//! frames to send are written straight into the backend's buffers and flushed in bursts. This
//! crate knows nothing of TCP; it moves Ethernet frames. All `unsafe` of mtcp lives here, in
//! `sys` modules, each block with a `SAFETY:` comment.
//!
//! | backend | module | privileges |
//! |---|---|---|
//! | in-memory hub, real time | [`memory`] | none |
//! | simulated network, virtual time | [`sim`] | none |
//! | TAP device | [`tap`] | root or CAP_NET_ADMIN |
//! | AF_PACKET, TPACKET_V2 rings | [`afpacket`] | root or CAP_NET_RAW |
//! | AF_XDP (XSK rings, UMEM, own XDP program) | [`afxdp`] | root, or CAP_NET_ADMIN + CAP_NET_RAW + CAP_BPF |
//! | DPDK ethdev (cargo feature `dpdk`) | `dpdk` | root (EAL: hugepages or `--no-huge`, devices) |
//!
//! A context's engine holds its queue as a [`Port`]: the in-memory link by its own type (its
//! frame callbacks inline), every other backend boxed behind [`PacketIo`].
//!
//! [`steer`] wraps the queues of a multi-queue port whose own steering is not mTCP's RSS
//! (multi-queue TAP, AF_XDP, DPDK vdevs) and hands each frame to the context that owns it.
pub mod afpacket;
pub mod afxdp;
mod csum;
#[cfg(feature = "dpdk")]
pub mod dpdk;
mod fd_waker;
mod frame;
pub mod memory;
pub mod pcap;
mod port;
pub mod rss;
mod rss_cbpf;
pub mod sim;
pub mod steer;
pub mod sys;
pub mod tap;
mod vnet_hdr;

use std::sync::Arc;

pub use port::Port;

/// Frames a burst moves at most (mTCP and DPDK use 32–64).
pub const BURST: usize = 64;

/// Largest Ethernet frame a 2 KiB backend buffer holds (1500-byte MTU + 14-byte header + slack):
/// the size of every buffer of TAP, AF_PACKET, AF_XDP, DPDK, the simulator and software
/// steering, and of the in-memory link's buffers up to a 1,994-byte MTU.
pub const MAX_FRAME: usize = 2048;

/// Largest IP MTU a backend carries: the in-memory link's jumbo frames, 9,000 bytes (the usual
/// jumbo size on DPDK and AF_XDP NICs), whose buffers are sized for their station's MTU
/// ([`Caps::max_frame`]). The other backends keep [`MAX_FRAME`]-byte buffers.
pub const MAX_MTU: usize = 9000;

/// Takes a burst of received frames in two passes, for [`Port::rx_burst_staged`]: `look`
/// sees every frame of the burst before `handle` sees the first, so a receiver can start the
/// memory accesses each frame will need (its connection's state, by prefetching) while the
/// frames before it are handled (mTCP and IX process bursts in stages for the same reason).
/// `look` is a hint pass: it must not change what `handle` does.
pub trait BurstReceiver {
    /// Whether `look` is worth its cost now (asked once per burst before any `look`): a
    /// receiver whose state all fits in the cache has no misses to start early.
    fn wants_look(&self) -> bool {
        true
    }
    /// Frame `index` of the burst (0, 1, … in arrival order), before any frame of it is
    /// handled. Called only when the burst holds more than one frame and the port can show a
    /// burst before handing it over (the in-memory link); the frame is not checked yet.
    fn look(&mut self, index: usize, frame: &[u8]);
    /// Frame `index` of the burst, in arrival order, as `PacketIo::rx_burst`'s callback (a
    /// frame the port drops, for a bad checksum, is skipped with its index).
    fn handle(&mut self, index: usize, frame: &[u8]);
}

/// Something to wake when frames arrive (the context's loop thread, parked while idle).
pub trait Notify: Send + Sync {
    /// Called by a backend after it queued frames for a sleeping receiver.
    fn notify(&self);
}

/// What a backend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caps {
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// IP MTU (1500 on Ethernet).
    pub mtu: usize,
    /// Bytes of the port's transmit buffers: the largest `len` [`PacketIo::tx`] takes.
    /// [`MAX_FRAME`] on 2 KiB backends; more on an in-memory link with jumbo frames. Always at
    /// least `mtu + 54`: the frame (`mtu` + 14-byte Ethernet header) and the 40 bytes the TCP
    /// layer may write past a full segment (it wants MSS + 60 bytes after the IP header).
    pub max_frame: usize,
    /// The port vouches for the IPv4, TCP, UDP and ICMP checksums of every frame it delivers
    /// (checked by the device or by the backend, or sent by the local kernel and never on a
    /// wire): the stack doesn't check them again.
    pub rx_checksum: bool,
    /// The port finishes TCP checksums on transmit: the stack writes only the pseudo-header
    /// sum (Linux's `CHECKSUM_PARTIAL` convention) and computes IPv4 and ICMP checksums itself.
    pub tx_checksum: bool,
    /// Frames are only found by polling: nothing wakes a sleeping receiver when one arrives
    /// at once (DPDK; its helper thread does, but only every `POLL_INTERVAL`). A waiting loop
    /// keeps polling a while longer before it sleeps.
    pub polled: bool,
}

impl Caps {
    /// Caps of a plain software port ([`MAX_FRAME`]-byte buffers).
    pub fn software(mac: [u8; 6], mtu: usize) -> Caps {
        Caps {
            mac,
            mtu,
            max_frame: MAX_FRAME,
            rx_checksum: false,
            tx_checksum: false,
            polled: false,
        }
    }
}

/// Counters every backend keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames dropped because a queue was full.
    pub drops: u64,
    /// Frames that arrived on this queue but belonged to another queue's context, found by
    /// software steering ([`steer`]) and handed over to it (or dropped, counted in `drops`,
    /// when its ring was full).
    pub steered: u64,
}

/// One queue of a network port: the burst interface every backend implements.
pub trait PacketIo: Send {
    /// Takes up to `max` received frames, calling `on_frame` with each; returns how many.
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize;

    /// Builds one frame of at most `len` bytes in a transmit buffer: `fill` writes it and
    /// returns its real length. Frames wait for [`PacketIo::flush`]. Returns false (and drops
    /// the frame) when no transmit buffer is free.
    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool;

    /// Sends every frame built since the last flush.
    fn flush(&mut self);

    /// What this port offers.
    fn caps(&self) -> Caps;

    /// Registers who to wake when frames arrive.
    fn set_notify(&mut self, notify: Arc<dyn Notify>);

    /// Counters.
    fn stats(&self) -> PortStats;

    /// Whether a received frame may be waiting: `false` only when [`PacketIo::rx_burst`]
    /// would certainly return 0 now, so a poll can skip it. Backends without a cheap check
    /// keep this default.
    fn has_pending(&self) -> bool {
        true
    }
}
