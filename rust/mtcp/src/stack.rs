//! The stack: configuration, one port with its queues, addresses and routes; it creates one
//! context per core, each taking one queue of the port.
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use mtcp_io::sys::combine::Combiner;
use mtcp_io::{Caps, Notify, PacketIo, Port, PortStats};
use mtcp_proto::Errno;

use crate::clock::Clock;
use crate::config::{IoKind, Ipv4Cidr, RunMode};
use crate::context::{Context, ContextInner, Mode};
use crate::engine::{tcp_config_from, Core, Engine, NetConfig};
use crate::wake::Parker;
use crate::Config;

/// The address a memory-link host gets when the configuration names none.
pub const DEFAULT_ADDR: Ipv4Cidr = Ipv4Cidr {
    addr: Ipv4Addr::new(198, 18, 0, 1),
    prefix_len: 15,
};

/// Opens the kernel-device port of `config` (`io = tap | afpacket | afxdp`, `port = <ifname>`):
/// one queue per core (TAP: one queue of a multi-queue TAP per core; AF_XDP: one receive queue
/// of the device per core; both steered in software, [`mtcp_io::steer`]), the MTU lowered to
/// the interface's, and, for AF_PACKET and AF_XDP, the interface's MAC
/// unless `mac` is set (a TAP stack is the far end of the cable: it keeps its own MAC). Sends
/// one gratuitous ARP (RFC 5227 §3 announcement) so the neighbours learn the address at once.
///
/// `addr` is required: the stack needs an address the kernel does not own on that interface,
/// or the kernel's TCP answers the stack's segments with RSTs.
fn kernel_port(config: &mut Config) -> io::Result<Vec<Box<dyn PacketIo>>> {
    let kind = config.io.name();
    let port = match config.port.as_slice() {
        [one] if one != "all" => one.clone(),
        _ => {
            return Err(invalid(format!(
                "io = {kind} drives exactly one interface: set port = <ifname>"
            )))
        }
    };
    let Some(addr) = config.addr else {
        return Err(invalid(format!(
            "io = {kind} needs addr = <ip>/<prefix>: an address the kernel does not have on \
             {port} (e.g. 198.18.10.2/24 with the kernel on 198.18.10.1)"
        )));
    };
    let mut queues: Vec<Box<dyn PacketIo>> = if config.io == IoKind::Tap {
        // Attach (or create) first: a TAP that doesn't exist yet is made by the open. Several
        // contexts: one queue each on a multi-queue TAP, steered in software (the kernel
        // spreads flows by its own hash).
        let queues = mtcp_io::tap::TapQueue::open_multi(
            &port,
            config.effective_mac(),
            config.mtu,
            config.checksum_offload,
            config.num_cores,
        )?;
        if let Some(first) = queues.first() {
            config.mtu = first.caps().mtu;
        }
        boxed(queues, Steering::Software)
    } else {
        let iface = mtcp_io::sys::netdev::interface(&port)?;
        config.mtu = config.mtu.min(iface.mtu);
        let mac = *config.mac.get_or_insert(iface.mac);
        if config.io == IoKind::AfXdp {
            // One XSK per device receive queue; the device's steering (a veth's peer's
            // transmit queue, a NIC's own Toeplitz key) is not mTCP's RSS: corrected here.
            let queues = mtcp_io::afxdp::open(
                &port,
                mac,
                config.mtu,
                config.num_cores,
                xdp_options(config)?,
            )?;
            boxed(queues, Steering::Software)
        } else {
            // The fanout program already steers by mTCP's RSS in the kernel.
            let offload = config.checksum_offload;
            let queues =
                mtcp_io::afpacket::open(&port, mac, config.mtu, config.num_cores, offload)?;
            boxed(queues, Steering::Device)
        }
    };
    if let Some(first) = queues.first_mut() {
        announce(first.as_mut(), config.effective_mac(), addr.addr);
    }
    Ok(queues)
}

/// Opens the DPDK port of `config` (`io = dpdk`, `port = <ethdev name or id>`, EAL arguments
/// from `dpdk_eal_args`): one queue pair per core, the MAC and MTU from the device unless
/// `mac`/a lower `mtu` is set, and a gratuitous ARP as [`kernel_port`] sends. `addr` is
/// required (a DPDK port has no kernel address to read).
#[cfg(feature = "dpdk")]
fn dpdk_port(config: &mut Config) -> io::Result<Vec<Box<dyn PacketIo>>> {
    let port = match config.port.as_slice() {
        [one] if one != "all" => one.clone(),
        _ => {
            return Err(invalid(
                "io = dpdk drives exactly one port: set port = <DPDK port name or id> (e.g. \
                 net_af_packet0 for --vdev=net_af_packet0,iface=veth0)",
            ))
        }
    };
    let Some(addr) = config.addr else {
        return Err(invalid(format!(
            "io = dpdk needs addr = <ip>/<prefix> for port {port} (e.g. 198.18.10.2/24)"
        )));
    };
    if config.dpdk_eal_args.trim().is_empty() {
        return Err(invalid(
            "io = dpdk needs dpdk_eal_args = <EAL arguments> (e.g. --no-pci --no-huge -m 256 \
             --vdev=net_af_packet0,iface=veth0)",
        ));
    }
    let queues = mtcp_io::dpdk::open(
        &port,
        &config.dpdk_eal_args,
        config.mac,
        config.mtu,
        config.num_cores,
    )?;
    // Vdevs with several queues (net_tap queues=N, net_af_packet qpairs=N) ignore our RSS key,
    // and a NIC may have no RSS: corrected in software (one table hash per frame).
    let mut queues = boxed(queues, Steering::Software);
    if let Some(first) = queues.first_mut() {
        let caps = first.caps();
        config.mtu = caps.mtu;
        config.mac = Some(caps.mac);
        announce(first.as_mut(), caps.mac, addr.addr);
    }
    Ok(queues)
}

/// Who puts each received frame on the queue of the context that owns its flow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Steering {
    /// The device or the kernel already steers by mTCP's RSS (AF_PACKET's fanout program).
    Device,
    /// The device spreads flows its own way: with several queues, [`mtcp_io::steer`] hands a
    /// frame that reached the wrong context to its owner.
    Software,
}

/// The queues of a port as the contexts take them, wrapped in software steering when
/// `steering` asks for it and there are several.
fn boxed<Q: PacketIo + 'static>(queues: Vec<Q>, steering: Steering) -> Vec<Box<dyn PacketIo>> {
    if steering == Steering::Software && queues.len() > 1 {
        mtcp_io::steer::wrap(queues)
            .into_iter()
            .map(|q| Box::new(q) as Box<dyn PacketIo>)
            .collect()
    } else {
        queues
            .into_iter()
            .map(|q| Box::new(q) as Box<dyn PacketIo>)
            .collect()
    }
}

/// `io = dpdk` in a build without the `dpdk` feature: a clear error, not a panic.
#[cfg(not(feature = "dpdk"))]
fn dpdk_port(_config: &mut Config) -> io::Result<Vec<Box<dyn PacketIo>>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "io = dpdk is not available: this build of mtcp was made without the cargo feature \
         `dpdk` (build with --features mtcp/dpdk, or the Python package with \
         MATURIN_PEP517_ARGS=\"--features dpdk\", on a machine with libdpdk-dev)",
    ))
}

/// AF_XDP options from the configuration (`xdp_mode`, `xdp_zerocopy`, `checksum_offload`);
/// the environment variables `MTCP_XDP_MODE = auto | drv | skb` and `MTCP_XDP_ZEROCOPY = 0 | 1`,
/// when set, override the first two (handy for one run without editing mtcp.conf).
fn xdp_options(config: &Config) -> io::Result<mtcp_io::afxdp::Options> {
    let mode = std::env::var("MTCP_XDP_MODE").unwrap_or_else(|_| config.xdp_mode.clone());
    let zerocopy = match std::env::var("MTCP_XDP_ZEROCOPY") {
        Ok(value) => matches!(value.trim(), "1" | "yes" | "on" | "true"),
        Err(_) => config.xdp_zerocopy,
    };
    Ok(mtcp_io::afxdp::Options {
        mode: mode.trim().parse()?,
        zerocopy,
        checksum_offload: config.checksum_offload,
    })
}

/// Sends a gratuitous ARP request for `ip` from `mac` (sender and target address both `ip`,
/// broadcast), as RFC 5227 §3 "announcement" describes.
fn announce(io: &mut dyn PacketIo, mac: [u8; 6], ip: Ipv4Addr) {
    use mtcp_proto::wire::{
        ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame,
    };
    const LEN: usize = 14 + ArpRepr::BUFFER_LEN;
    io.tx(60, &mut |buf: &mut [u8]| {
        // Ethernet's minimum frame is 60 bytes before the FCS: pad with zeros.
        let Some(buf) = buf.get_mut(..60) else {
            return 0;
        };
        buf.fill(0);
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..LEN]);
        frame.set_dst_addr(EthernetAddress::BROADCAST);
        frame.set_src_addr(EthernetAddress(mac));
        frame.set_ethertype(EtherType::Arp);
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(mac),
            source_protocol_addr: ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: ip,
        }
        .emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        60
    });
    io.flush();
}

/// A port queue that is gone (after its context was destroyed).
pub(crate) struct NullIo;

impl PacketIo for NullIo {
    fn rx_burst(&mut self, _max: usize, _on_frame: &mut dyn FnMut(&[u8])) -> usize {
        0
    }
    fn tx(&mut self, _len: usize, _fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        false
    }
    fn flush(&mut self) {}
    fn caps(&self) -> Caps {
        Caps::software([0; 6], 1500)
    }
    fn set_notify(&mut self, _notify: Arc<dyn Notify>) {}
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

pub(crate) struct StackInner {
    pub(crate) config: Config,
    pub(crate) net: NetConfig,
    /// One queue per core until a context takes it.
    queues: Mutex<Vec<Option<Port>>>,
    /// Contexts live until destroyed (as in mTCP) or until the stack goes away: dropping the
    /// last handle of a context does not take its host off the network.
    contexts: Mutex<Vec<Arc<ContextInner>>>,
    pub(crate) clock: Clock,
    seed: u64,
}

/// A TCP/IP stack on one port. Cheap to clone; clones are the same stack.
#[derive(Clone)]
pub struct Stack {
    pub(crate) inner: Arc<StackInner>,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

impl Stack {
    /// Builds a stack and attaches its port (`io = memory` joins the in-memory hub named by `port`;
    /// `io = tap | afpacket | afxdp` opens the kernel interface named by `port`, and needs `addr`;
    /// `io = dpdk` opens the DPDK port named by `port`, starting the EAL with `dpdk_eal_args` if
    /// this process has not, and needs `addr` too — its errors are `mtcp_io::dpdk::open`'s).
    /// Errors: the configuration's own (`InvalidInput`), EADDRINUSE when the hub has a host with
    /// the same MAC, the interface's (NotFound for a missing interface, PermissionDenied without
    /// the privilege, ResourceBusy for a TAP held elsewhere, an AF_XDP queue still bound elsewhere
    /// or an XDP program someone else attached; InvalidInput for more AF_XDP contexts than the
    /// device has receive queues), Unsupported for a backend not built into this version (`dpdk`
    /// without the cargo feature `dpdk`).
    pub fn new(config: Config) -> io::Result<Stack> {
        let mut config = config;
        if config.addr.is_none() && config.io == IoKind::Memory {
            config.addr = Some(DEFAULT_ADDR);
        }
        config.validate().map_err(|e| invalid(e.to_string()))?;
        let mac = config.effective_mac();
        let queues: Vec<Port> = match config.io {
            IoKind::Memory => {
                let port = config
                    .port
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "mtcp0".into());
                let (cores, mtu, offload) = (config.num_cores, config.mtu, config.checksum_offload);
                mtcp_io::memory::attach_with_offload(&port, mac, cores, mtu, offload)?
                    .into_iter()
                    .map(Port::Memory)
                    .collect()
            }
            IoKind::Sim => {
                return Err(invalid(
                    "io = sim hosts are made by mtcp::sim::Network::add_host",
                ));
            }
            IoKind::Tap | IoKind::AfPacket | IoKind::AfXdp => kernel_port(&mut config)?
                .into_iter()
                .map(Port::Boxed)
                .collect(),
            IoKind::Dpdk => dpdk_port(&mut config)?
                .into_iter()
                .map(Port::Boxed)
                .collect(),
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        Ok(Stack::from_parts(config, queues, Clock::real(), seed))
    }

    pub(crate) fn from_parts(config: Config, queues: Vec<Port>, clock: Clock, seed: u64) -> Stack {
        let addr = config.addr.unwrap_or(DEFAULT_ADDR);
        let net = NetConfig {
            ip: addr.addr,
            prefix_len: addr.prefix_len,
            mac: config.effective_mac(),
            routes: config
                .routes
                .iter()
                .map(|r| (r.dest.addr, r.dest.prefix_len, r.gateway))
                .collect(),
            gateway: config.gateway,
        };
        Stack {
            inner: Arc::new(StackInner {
                config,
                net,
                queues: Mutex::new(queues.into_iter().map(Some).collect()),
                contexts: Mutex::new(Vec::new()),
                clock,
                seed,
            }),
        }
    }

    /// The configuration this stack runs with.
    pub fn config(&self) -> Config {
        self.inner.config.clone()
    }

    /// This host's IPv4 address.
    pub fn addr(&self) -> Ipv4Addr {
        self.inner.net.ip
    }

    /// `mtcp_create_context`: the context of `core` (0 ≤ core < `num_cores`), with its own
    /// socket pool of `max_concurrency` descriptors. EINVAL for a core out of range; EEXIST
    /// while that core's context exists.
    pub fn create_context(&self, core: usize) -> io::Result<Context> {
        let cfg = &self.inner.config;
        if core >= cfg.num_cores {
            return Err(io::Error::from_raw_os_error(Errno::EINVAL.raw()));
        }
        let io = {
            let mut queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
            queues[core]
                .take()
                .ok_or_else(|| io::Error::from_raw_os_error(Errno::EEXIST.raw()))?
        };
        let mode = match (cfg.io, cfg.mode) {
            (IoKind::Sim, _) => Mode::Sim,
            (_, RunMode::Inline) => Mode::Inline,
            (_, RunMode::Threaded) => Mode::Threaded,
        };
        let now = self.inner.clock.now();
        let mut core_state = Core::new(
            core,
            self.inner.net.clone(),
            tcp_config_from(cfg),
            cfg.max_concurrency,
            self.inner.seed ^ (core as u64 + 1).wrapping_mul(0x9e37_79b9),
            now,
        );
        core_state.set_port_caps(io.caps());
        for entry in &cfg.arp {
            if entry.dest.prefix_len == 32 {
                core_state.arp.add_static(entry.dest.addr, entry.mac);
            }
        }
        if cfg.num_cores > 1 {
            core_state.rss = Some(crate::engine::RssFilter {
                queue: core,
                num_queues: cfg.num_cores,
            });
        }
        let app_wake = Arc::new(Parker::default());
        let loop_wake = Arc::new(Parker::default());
        let mut io = io;
        let busy_poll = io.caps().polled;
        match mode {
            Mode::Threaded => io.set_notify(loop_wake.clone()),
            Mode::Inline => io.set_notify(app_wake.clone()),
            Mode::Sim => {}
        }
        let stack = Arc::downgrade(&self.inner);
        let inner = Arc::new(ContextInner {
            core,
            mode,
            engine: Combiner::new(Engine::new(io, core_state)),
            clock: self.inner.clock.clone(),
            app_wake,
            loop_wake: loop_wake.clone(),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            num_queues: cfg.num_cores,
            busy_poll,
            on_destroy: Mutex::new(Some(Box::new(move |io: Port| {
                if let Some(stack) = stack.upgrade() {
                    let mut queues = stack.queues.lock().unwrap_or_else(|e| e.into_inner());
                    queues[core] = Some(io);
                }
            }))),
        });
        if mode == Mode::Threaded {
            let weak = Arc::downgrade(&inner);
            let cpu = self.cpu_of(core);
            let handle = std::thread::Builder::new()
                .name(format!("mtcp-ctx{core}"))
                .spawn(move || {
                    // Best effort: a machine with fewer CPUs than contexts still runs.
                    let _ = mtcp_io::sys::affinity::pin_current_thread(cpu);
                    ContextInner::run_loop(weak, loop_wake);
                })?;
            *inner.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
        let mut contexts = self
            .inner
            .contexts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        contexts.retain(|c| !c.stop.load(std::sync::atomic::Ordering::Acquire));
        contexts.push(inner.clone());
        Ok(Context { inner })
    }

    /// The CPU a context runs on: the core-th set bit of `core_mask`, else `core` modulo the
    /// CPUs available.
    fn cpu_of(&self, core: usize) -> usize {
        let cpus = mtcp_io::sys::affinity::available_cpus();
        match self.inner.config.core_mask {
            Some(mask) => {
                (0..64)
                    .filter(|b| mask >> b & 1 == 1)
                    .nth(core)
                    .unwrap_or(core)
                    % cpus.max(1)
            }
            None => core % cpus.max(1),
        }
    }

    /// Live contexts of this stack.
    pub(crate) fn contexts(&self) -> Vec<Arc<ContextInner>> {
        let contexts = self
            .inner
            .contexts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        contexts
            .iter()
            .filter(|c| !c.stop.load(std::sync::atomic::Ordering::Acquire))
            .cloned()
            .collect()
    }

    /// `mtcp_destroy`: destroys every context of this stack and releases its port (a TAP
    /// device, an AF_PACKET socket or an AF_XDP socket and its XDP program are released here,
    /// not when the last handle goes away, so the interface can be opened again at once; an
    /// AF_XDP queue may still be held by the kernel for up to a second, which the next open
    /// waits out). No context can be created afterwards.
    pub fn destroy(&self) {
        for ctx in self.contexts() {
            ctx.shutdown();
        }
        let mut queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.iter_mut().for_each(|q| *q = None);
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("io", &self.inner.config.io)
            .field("addr", &self.inner.net.ip)
            .field("num_cores", &self.inner.config.num_cores)
            .finish()
    }
}
