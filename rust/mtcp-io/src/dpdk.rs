//! The DPDK backend (cargo feature `dpdk`): one ethdev port, one RX/TX queue pair per context,
//! mbufs from a pool per NUMA socket, bursts of [`BURST`] frames each way.
//!
//! # EAL
//! DPDK's Environment Abstraction Layer is initialised once per process, by the first
//! [`open`], with the arguments of `mtcp.conf`'s `dpdk_eal_args` (split on whitespace; e.g.
//! `--no-pci --no-huge -m 256 --vdev=net_af_packet0,iface=veth0`). A later `open` with the same
//! arguments reuses it; with other arguments it fails with a message saying so (DPDK cannot
//! initialise twice). The EAL logs to stderr, and the calling thread's CPU affinity is
//! restored after `rte_eal_init` (which pins its caller to the main lcore).
//!
//! # Ports
//! `port` names an ethdev (`net_af_packet0`, `net_tap0`, a PCI address such as
//! `0000:01:00.0`) or gives its id (`0`). Each port is opened by one stack at a time; the last
//! queue dropped stops and closes it and removes its device. A vdev of `dpdk_eal_args` closed
//! that way is created again (`rte_dev_probe`) when opened again in the same process.
//!
//! # Queues and flows
//! Queue *i* serves context *i*. With more than one queue, a port that offers RSS over
//! IPv4/TCP with a 40-byte key is configured with mTCP's symmetric key
//! ([`rss::SYMMETRIC_KEY`]), so replies hash to the queue their request left from (what
//! `mtcp_init_rss` relies on). Not every device honours it (`net_tap` and `net_af_packet`
//! spread their queues by the kernel's own hash) and some have no RSS at all, so the stack
//! wraps the queues of a multi-queue DPDK port in [`crate::steer`], which hands a frame that
//! reached the wrong queue to its owner (one table hash per frame when the device got it
//! right).
//!
//! # Checksums
//! When the device reports `RTE_ETH_TX_OFFLOAD_TCP_CKSUM`, [`Caps::tx_checksum`] is set: the
//! stack leaves the pseudo-header sum in TCP segments and each IPv4/TCP mbuf is flagged
//! `RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM` for the device to finish. `net_af_packet`
//! has no such offload (checksums are computed in software by the stack); `net_tap` has it.
//! On receive, frames the device flags with a bad IPv4 or L4 checksum are dropped when it
//! offers RX checksum offload; the stack still verifies the others ([`Caps::rx_checksum`] is
//! off), since DPDK reports "unknown" for frames it did not check and the burst interface has
//! no per-frame flag.
//!
//! # Wake-ups
//! DPDK ports are polled; there is no descriptor to sleep on. While the context loop is parked
//! a small helper thread calls [`Notify::notify`] every [`POLL_INTERVAL`] once `rx_burst` found
//! nothing, so an idle stack notices a frame within that time (and a busy one never parks).
//! The queues say so ([`Caps::polled`]): a waiting loop then polls for a while
//! (`mtcp`'s busy-poll window, 1 ms) before it parks, so a reply that comes within that time is
//! seen at once rather than at the next tick.
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::frame::ETH_HEADER;
use crate::rss;
use crate::sys::dpdk::{self as sys, MbufArray, Pool, PortSetup};
use crate::{Caps, Notify, PacketIo, PortStats, BURST, MAX_FRAME};

/// Receive descriptors per queue (the device may adjust it).
pub const RX_DESC: u16 = 1024;
/// Transmit descriptors per queue (the device may adjust it).
pub const TX_DESC: u16 = 1024;
/// Mbufs in each per-socket pool (2^n - 1 is the most efficient size for a DPDK ring).
pub const POOL_MBUFS: u32 = 16_383;
/// Per-lcore cache of each pool.
const POOL_CACHE: u32 = 256;
/// Headroom DPDK keeps before a frame (`RTE_PKTMBUF_HEADROOM`).
const HEADROOM: usize = 128;
/// How often the helper thread wakes a parked loop to poll the port.
pub const POLL_INTERVAL: Duration = Duration::from_micros(200);
/// Transmit attempts per flush before the frames the device did not take are dropped.
const TX_RETRIES: usize = 4;

/// The EAL's state in this process: the arguments it was initialised with (or why it could
/// not be), the ports in use, and the mbuf pools by NUMA socket.
struct Process {
    eal: Option<Result<Vec<String>, String>>,
    ports_in_use: Vec<u16>,
    pools: Vec<(i32, Pool)>,
}

static PROCESS: Mutex<Process> = Mutex::new(Process {
    eal: None,
    ports_in_use: Vec::new(),
    pools: Vec::new(),
});

fn dpdk_error(kind: io::ErrorKind, what: String, errnum: i32) -> io::Error {
    io::Error::new(
        kind,
        format!("{what}: {} (errno {errnum})", sys::strerror(errnum)),
    )
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Splits `dpdk_eal_args` into the EAL's argv (with `mtcp` as argv[0]).
pub fn eal_argv(eal_args: &str) -> Vec<String> {
    std::iter::once("mtcp")
        .chain(eal_args.split_whitespace())
        .map(str::to_owned)
        .collect()
}

/// Initialises the EAL with `eal_args` unless this process already did with the same ones.
fn ensure_eal(process: &mut Process, eal_args: &str) -> io::Result<()> {
    let argv = eal_argv(eal_args);
    match &process.eal {
        Some(Ok(done)) if *done == argv => return Ok(()),
        Some(Ok(done)) => {
            return Err(invalid(format!(
                "the DPDK EAL of this process was initialised with '{}'; it cannot be \
                 initialised again with '{}' (one EAL per process: give every DPDK stack of \
                 a process the same dpdk_eal_args)",
                done[1..].join(" "),
                eal_args.trim()
            )))
        }
        Some(Err(msg)) => return Err(io::Error::other(msg.clone())),
        None => {}
    }
    if let Err(errnum) = sys::eal_init(&argv) {
        let msg = format!(
            "DPDK EAL initialisation with '{}' failed: {} (errno {errnum}; EAL messages are on \
             stderr; DPDK cannot retry in this process)",
            eal_args.trim(),
            sys::strerror(errnum)
        );
        process.eal = Some(Err(msg.clone()));
        let kind = if errnum == libc::EACCES || errnum == libc::EPERM {
            io::ErrorKind::PermissionDenied
        } else {
            io::ErrorKind::Other
        };
        return Err(io::Error::new(kind, msg));
    }
    process.eal = Some(Ok(argv));
    Ok(())
}

/// The `--vdev` device arguments of `argv` for device `name` (`net_af_packet0,iface=veth0`).
fn vdev_args<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let mut args = argv.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        let devargs = match arg.strip_prefix("--vdev") {
            Some("") => args.next()?,
            Some(rest) => match rest.strip_prefix('=') {
                Some(v) => v,
                None => continue,
            },
            None => continue,
        };
        if devargs.split(',').next() == Some(name) {
            return Some(devargs);
        }
    }
    None
}

/// The port id of `port` (a name or a number), probing its vdev again if a stack of this
/// process closed it.
fn resolve_port(process: &Process, port: &str) -> io::Result<u16> {
    if let Ok(id) = sys::port_by_name(port) {
        return Ok(id);
    }
    if let Ok(id) = port.parse::<u16>() {
        if sys::port_valid(id) {
            return Ok(id);
        }
    }
    let argv = match &process.eal {
        Some(Ok(argv)) => argv.as_slice(),
        _ => &[],
    };
    if let Some(devargs) = vdev_args(argv, port) {
        // Closed by an earlier stack of this process, or its probe at EAL start failed (e.g.
        // net_af_packet's interface is missing): create it now.
        let probed = sys::dev_probe(devargs);
        if let Ok(id) = sys::port_by_name(port) {
            return Ok(id);
        }
        let why = match probed {
            Err(errnum) => format!("{} (errno {errnum})", sys::strerror(errnum)),
            Ok(()) => "no port appeared".to_owned(),
        };
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "DPDK port '{port}' not found: creating it from --vdev={devargs} failed: {why} \
                 (does the device or interface it names exist, in this network namespace? \
                 EAL messages are on stderr)"
            ),
        ));
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "DPDK port '{port}' not found: name an ethdev the EAL created (e.g. a \
             --vdev=net_af_packet0,iface=<ifname> of dpdk_eal_args is port net_af_packet0) or \
             give a port id"
        ),
    ))
}

/// The mbuf pool of NUMA socket `socket` (created on first use; pools live as long as the
/// process).
fn pool_for(process: &mut Process, socket: i32) -> io::Result<Pool> {
    if let Some(&(_, pool)) = process.pools.iter().find(|(s, _)| *s == socket) {
        return Ok(pool);
    }
    let name = format!("mtcp_mbufs_s{}", socket.max(-1));
    let data_room = (HEADROOM + MAX_FRAME) as u16;
    let pool = Pool::create(&name, POOL_MBUFS, POOL_CACHE, data_room, socket).map_err(|e| {
        dpdk_error(
            io::ErrorKind::OutOfMemory,
            format!(
                "DPDK mbuf pool of {POOL_MBUFS} mbufs on socket {socket}: give the EAL more \
                 memory (-m)"
            ),
            e,
        )
    })?;
    process.pools.push((socket, pool));
    Ok(pool)
}

/// An open port: closed (stopped, released, its device removed) when its last queue drops.
struct Port {
    id: u16,
    name: String,
}

impl Drop for Port {
    fn drop(&mut self) {
        let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        // A failed close leaves nothing to undo; the port is not reused either way.
        let _ = sys::port_close(self.id);
        process.ports_in_use.retain(|&p| p != self.id);
    }
}

/// Opens `port` (see the [module docs](self)) with `num_queues` queue pairs, initialising the
/// EAL with `eal_args` first if this process has not. The MAC is the device's unless `mac` is
/// given; the MTU is `mtu` lowered to the device's (and to what a 2 KiB mbuf holds).
///
/// Errors: NotFound for an unknown port, ResourceBusy for a port another stack of this process
/// holds, InvalidInput for EAL arguments other than the first stack's, for 0 queues or more
/// queues than the device has, PermissionDenied/Other when the EAL does
/// not come up (its messages are on stderr), OutOfMemory when the pool cannot be made.
pub fn open(
    port: &str,
    eal_args: &str,
    mac: Option<[u8; 6]>,
    mtu: usize,
    num_queues: usize,
) -> io::Result<Vec<DpdkQueue>> {
    let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    ensure_eal(&mut process, eal_args)?;
    let id = resolve_port(&process, port)?;
    if process.ports_in_use.contains(&id) {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("DPDK port '{port}' is already used by another stack of this process"),
        ));
    }
    let info = sys::port_info(id)
        .map_err(|e| dpdk_error(io::ErrorKind::Other, format!("DPDK port '{port}' info"), e))?;
    let driver = info.driver();
    let max_queues = usize::from(info.max_rx_queues.min(info.max_tx_queues));
    if num_queues == 0 || num_queues > max_queues {
        return Err(invalid(format!(
            "DPDK port '{port}' ({driver}) has {max_queues} queue pairs; num_cores = \
             {num_queues} needs one per context"
        )));
    }
    let bits = sys::offload_bits();
    // Without RSS (or with a device that ignores our key) frames still reach every queue;
    // the stack's software steering (crate::steer) puts them right.
    let rss_ok = info.flow_type_rss_offloads & bits.rss_tcp4 != 0
        && usize::from(info.hash_key_size) == rss::SYMMETRIC_KEY.len();
    let tx_checksum = info.tx_offload_capa & bits.tx_tcp_cksum != 0;
    let rx_check = bits.rx_ipv4_cksum | bits.rx_tcp_cksum;
    let rx_checksum = info.rx_offload_capa & rx_check == rx_check;
    let setup = PortSetup {
        queues: num_queues as u16,
        rx_desc: RX_DESC,
        tx_desc: TX_DESC,
        rx_offloads: if rx_checksum { rx_check } else { 0 },
        tx_offloads: if tx_checksum { bits.tx_tcp_cksum } else { 0 },
        rss: (num_queues > 1 && rss_ok).then_some((&rss::SYMMETRIC_KEY[..], bits.rss_tcp4)),
    };
    let pool = pool_for(&mut process, info.socket_id)?;
    sys::port_start(id, &setup, pool).map_err(|e| {
        dpdk_error(
            io::ErrorKind::Other,
            format!("DPDK port '{port}' ({driver}): configure and start with {num_queues} queues"),
            e,
        )
    })?;
    process.ports_in_use.push(id);
    drop(process);
    let shared = Arc::new(Port {
        id,
        name: port.to_owned(),
    });
    let mtu = mtu
        .min(usize::from(info.mtu).max(68))
        .min(MAX_FRAME - ETH_HEADER);
    let caps = Caps {
        tx_checksum,
        polled: true,
        ..Caps::software(mac.unwrap_or(info.mac), mtu)
    };
    Ok((0..num_queues)
        .map(|q| DpdkQueue {
            waker: PollWaker::default(),
            rx: MbufArray::default(),
            tx: MbufArray::default(),
            spare: MbufArray::default(),
            pool,
            queue: q as u16,
            caps,
            drop_bad_checksum: rx_checksum,
            stats: PortStats::default(),
            port: Arc::clone(&shared),
        })
        .collect())
}

/// One RX/TX queue pair of a DPDK port. See the [module docs](self).
pub struct DpdkQueue {
    /// Dropped first: its thread only calls `notify`.
    waker: PollWaker,
    /// Frames received in the current burst (freed before `rx_burst` returns).
    rx: MbufArray,
    /// Frames built and waiting for `flush`.
    tx: MbufArray,
    /// Fresh mbufs, taken from the pool a burst at a time.
    spare: MbufArray,
    pool: Pool,
    queue: u16,
    caps: Caps,
    drop_bad_checksum: bool,
    stats: PortStats,
    /// Last field: the port closes after this queue's mbufs went back to the pool.
    port: Arc<Port>,
}

impl std::fmt::Debug for DpdkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkQueue")
            .field("port", &self.port.name)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl DpdkQueue {
    /// The port's name as given to [`open`].
    pub fn name(&self) -> &str {
        &self.port.name
    }

    /// The DPDK port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// This queue's index (the context it serves).
    pub fn queue_index(&self) -> usize {
        usize::from(self.queue)
    }
}

/// Where the IPv4 header of an IPv4/TCP frame ends: `Some(ihl)` for an unfragmented TCP
/// segment in IPv4 in Ethernet, which the device may checksum.
fn tcp_ipv4_header_len(frame: &[u8]) -> Option<usize> {
    let ip = frame.get(ETH_HEADER..ETH_HEADER + 20)?;
    if frame[12..14] != [0x08, 0x00] || ip[0] >> 4 != 4 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    (ihl >= 20 && !fragment && frame.len() >= ETH_HEADER + ihl + 20).then_some(ihl)
}

impl PacketIo for DpdkQueue {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        let got = self.rx.rx_burst(self.port.id, self.queue, max.min(BURST));
        if got == 0 {
            self.waker.arm();
            return 0;
        }
        let limit = self.caps.mtu + ETH_HEADER;
        let mut delivered = 0;
        for i in 0..self.rx.len() {
            let frame = match self.rx.rx_frame(i) {
                Some(f)
                    if f.bytes.len() >= ETH_HEADER
                        && f.bytes.len() <= limit
                        && !(self.drop_bad_checksum && f.bad_checksum) =>
                {
                    f.bytes
                }
                _ => {
                    self.stats.drops += 1;
                    continue;
                }
            };
            self.stats.rx_frames += 1;
            self.stats.rx_bytes += frame.len() as u64;
            delivered += 1;
            on_frame(frame);
        }
        self.rx.free_all();
        delivered
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        if self.tx.is_full() {
            self.flush();
            if self.tx.is_full() {
                self.stats.drops += 1;
                return false;
            }
        }
        if self.spare.len() == 0 && !self.spare.alloc_all(self.pool) {
            self.stats.drops += 1;
            return false;
        }
        let Some(mut mbuf) = self.spare.pop() else {
            self.stats.drops += 1;
            return false;
        };
        let room = mbuf.room();
        let cap = len.min(self.caps.mtu + ETH_HEADER).min(room.len());
        let n = fill(&mut room[..cap]).min(cap);
        if n < ETH_HEADER {
            // Unused: back to the spares (cannot fail, one was just taken).
            let _ = self.spare.push(mbuf);
            self.stats.drops += 1;
            return false;
        }
        let offload = if self.caps.tx_checksum {
            tcp_ipv4_header_len(&mbuf.room()[..n]).map(|ihl| (ETH_HEADER as u16, ihl as u16))
        } else {
            None
        };
        mbuf.set_len(n as u16, offload);
        if self.tx.push(mbuf).is_err() {
            self.stats.drops += 1;
            return false;
        }
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += n as u64;
        true
    }

    fn flush(&mut self) {
        for _ in 0..TX_RETRIES {
            if self.tx.len() == 0 {
                return;
            }
            self.tx.tx_burst(self.port.id, self.queue);
        }
        // The device's ring stayed full: drop the rest rather than stall the loop.
        self.stats.drops += self.tx.len() as u64;
        self.tx.free_all();
    }

    fn caps(&self) -> Caps {
        self.caps
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        self.waker.start(notify, &self.port.name, self.queue);
    }

    fn stats(&self) -> PortStats {
        let mut stats = self.stats;
        if self.queue == 0 {
            // The device counts per port: report its drops once, on queue 0.
            stats.drops += sys::port_drops(self.port.id);
        }
        stats
    }
}

impl Drop for DpdkQueue {
    fn drop(&mut self) {
        self.flush();
    }
}

struct WakerShared {
    armed: AtomicBool,
    stop: AtomicBool,
}

/// The helper thread that wakes a parked loop every [`POLL_INTERVAL`] while armed.
#[derive(Default)]
struct PollWaker {
    shared: Option<Arc<WakerShared>>,
    thread: Option<JoinHandle<()>>,
}

impl PollWaker {
    fn start(&mut self, notify: Arc<dyn Notify>, port: &str, queue: u16) {
        self.stop();
        let shared = Arc::new(WakerShared {
            armed: AtomicBool::new(true),
            stop: AtomicBool::new(false),
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("mtcp-dpdk-{port}-{queue}"))
            .spawn(move || {
                while !theirs.stop.load(Ordering::Acquire) {
                    std::thread::sleep(POLL_INTERVAL);
                    if theirs.armed.swap(false, Ordering::AcqRel) {
                        notify.notify();
                    }
                }
            });
        // Without the thread the loop still polls at its idle timeout: slower, not broken.
        if let Ok(thread) = thread {
            self.shared = Some(shared);
            self.thread = Some(thread);
        }
    }

    fn arm(&self) {
        if let Some(shared) = &self.shared {
            shared.armed.store(true, Ordering::Release);
        }
    }

    fn stop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.stop.store(true, Ordering::Release);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PollWaker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eal_argv_splits_on_whitespace_after_argv0() {
        assert_eq!(
            eal_argv("  --no-pci --no-huge\t-m 256 "),
            ["mtcp", "--no-pci", "--no-huge", "-m", "256"]
        );
    }

    #[test]
    fn vdev_args_finds_both_spellings() {
        let argv = eal_argv("--no-pci --vdev=net_tap0,iface=t0 --vdev net_af_packet1,iface=v1");
        assert_eq!(vdev_args(&argv, "net_tap0"), Some("net_tap0,iface=t0"));
        assert_eq!(
            vdev_args(&argv, "net_af_packet1"),
            Some("net_af_packet1,iface=v1")
        );
        assert_eq!(vdev_args(&argv, "net_af_packet"), None);
    }

    #[test]
    fn tcp_offload_only_for_unfragmented_ipv4_tcp() {
        let mut frame = [0u8; 60];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x45;
        frame[23] = 6;
        assert_eq!(tcp_ipv4_header_len(&frame), Some(20));
        frame[23] = 17; // UDP
        assert_eq!(tcp_ipv4_header_len(&frame), None);
        frame[23] = 6;
        frame[20] = 0x20; // more fragments
        assert_eq!(tcp_ipv4_header_len(&frame), None);
        frame[20] = 0;
        frame[12..14].copy_from_slice(&[0x08, 0x06]); // ARP
        assert_eq!(tcp_ipv4_header_len(&frame), None);
    }
}
