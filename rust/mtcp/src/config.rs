//! Configuration: mTCP's `mtcp.conf`, with the `arp.conf` and `route.conf` it names, plus
//! mtcp's own keys (`io = memory|sim|tap|afpacket|afxdp|dpdk`, `addr`, `gateway`, …).
//!
//! CONTRACT: the `Config` fields and the signatures of `Config::{load, parse_str, set, get}` and
//! `ConfigError` are used by the runtime and the Python layer; the parser is the config
//! helper's to write.
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Which packet backend a stack uses (`io =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoKind {
    /// Stacks in one process wired by a shared port name, in real time (no privileges).
    Memory,
    /// A host in a [`crate::sim::Network`] (virtual time); set by `Network::add_host`.
    Sim,
    /// A TAP device.
    Tap,
    /// AF_PACKET with TPACKET_V3 rings.
    AfPacket,
    /// AF_XDP sockets.
    AfXdp,
    /// DPDK (cargo feature `dpdk`).
    Dpdk,
}

impl IoKind {
    /// The `io =` spelling.
    pub fn name(self) -> &'static str {
        match self {
            IoKind::Memory => "memory",
            IoKind::Sim => "sim",
            IoKind::Tap => "tap",
            IoKind::AfPacket => "afpacket",
            IoKind::AfXdp => "afxdp",
            IoKind::Dpdk => "dpdk",
        }
    }
}

/// Where a context's packet loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunMode {
    /// mTCP's model: a native thread per context, pinned to its core, running without the GIL.
    Threaded,
    /// Run-to-completion: the loop runs inside API calls (`epoll_wait`, `read`, `write`, …).
    Inline,
}

/// An IPv4 address with a prefix length, e.g. `198.18.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0–32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The netmask as a u32 in host order.
    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 { 0 } else { u32::MAX << (32 - self.prefix_len as u32) }
    }
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// One static ARP entry (`arp.conf`: `198.18.0.2/32 aa:bb:cc:dd:ee:ff`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpEntry {
    /// The IP (or network) the entry answers for.
    pub dest: Ipv4Cidr,
    /// The hardware address.
    pub mac: [u8; 6],
}

/// One route (`route.conf`: `198.18.1.0/24 veth0`; a `/0` entry is the default gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination network; prefix 0 is the default route.
    pub dest: Ipv4Cidr,
    /// Interface name.
    pub iface: String,
    /// Next hop; `None` for a connected route. A `/0` entry of route.conf names the gateway as
    /// its address, and the parser stores it here.
    pub gateway: Option<Ipv4Addr>,
}

/// A complete stack configuration. `Default` gives mTCP's defaults (config.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `io`: the backend. Default `memory`.
    pub io: IoKind,
    /// `num_cores`: contexts this stack may create. Default 1 (mTCP: must be given; we default it).
    pub num_cores: usize,
    /// `core_mask`: hex CPU mask mapping context i to the i-th set bit; `None` = identity.
    pub core_mask: Option<u64>,
    /// `port`: interface names (memory: the hub name; default `["mtcp0"]`).
    pub port: Vec<String>,
    /// `max_concurrency`: per-context socket pool size. Default 10000.
    pub max_concurrency: usize,
    /// `max_num_buffers`: per-context send/receive buffers. Default 10000.
    pub max_num_buffers: usize,
    /// `rcvbuf`: bytes per socket (≥ 64). Default 8192; copies `sndbuf` when only that is given.
    pub rcvbuf: usize,
    /// `sndbuf`: bytes per socket (≥ 64). Default 8192; copies `rcvbuf` when only that is given.
    pub sndbuf: usize,
    /// `tcp_timeout`: idle timeout in seconds; ≤ 0 disables it. Default 30.
    pub tcp_timeout: i64,
    /// `tcp_timewait`: TIME-WAIT length in seconds. Default 0.
    pub tcp_timewait: u64,
    /// `stat_print`: interfaces whose statistics are printed each second.
    pub stat_print: Vec<String>,
    /// `addr`: this host's address (for a port without a kernel address).
    pub addr: Option<Ipv4Cidr>,
    /// `gateway`: default next hop.
    pub gateway: Option<Ipv4Addr>,
    /// `mac`: hardware address; `None` derives a locally administered one from `addr`.
    pub mac: Option<[u8; 6]>,
    /// `mtu`: IP MTU. Default 1500.
    pub mtu: usize,
    /// `mode`: `threaded` (default) or `inline`.
    pub mode: RunMode,
    /// Static ARP entries (from `arp.conf`, or `arp = ip/prefix mac` lines).
    pub arp: Vec<ArpEntry>,
    /// Routes (from `route.conf`).
    pub routes: Vec<Route>,
    /// The file this was loaded from, if any (for messages).
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            io: IoKind::Memory,
            num_cores: 1,
            core_mask: None,
            port: vec!["mtcp0".to_string()],
            max_concurrency: 10000,
            max_num_buffers: 10000,
            rcvbuf: 8192,
            sndbuf: 8192,
            tcp_timeout: 30,
            tcp_timewait: 0,
            stat_print: Vec::new(),
            addr: None,
            gateway: None,
            mac: None,
            mtu: 1500,
            mode: RunMode::Threaded,
            arp: Vec::new(),
            routes: Vec::new(),
            source: None,
        }
    }
}

/// A bad configuration file or value: names the file, line and key where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, if the value came from one.
    pub file: Option<PathBuf>,
    /// 1-based line number in that file.
    pub line: Option<usize>,
    /// The key, if one is at fault.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads an `mtcp.conf` and the `arp.conf`/`route.conf` beside it (or named by it).
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let _ = path;
        todo!("config helper")
    }

    /// Parses `mtcp.conf` text; `base` is the directory relative paths resolve against.
    pub fn parse_str(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        let _ = (text, file);
        todo!("config helper")
    }

    /// Sets one key from its text form, as a line of `mtcp.conf` would.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let _ = (key, value);
        todo!("config helper")
    }

    /// The text form of one key's value (`None` for an unknown key).
    pub fn get(&self, key: &str) -> Option<String> {
        let _ = key;
        todo!("config helper")
    }

    /// Checks cross-field rules (buffer minimums, num_cores ≥ 1, addresses present for the
    /// backend, …).
    pub fn validate(&self) -> Result<(), ConfigError> {
        todo!("config helper")
    }

    /// The hardware address: `mac`, or `02:00:` followed by the four bytes of `addr`.
    pub fn effective_mac(&self) -> [u8; 6] {
        if let Some(mac) = self.mac {
            return mac;
        }
        let ip = self.addr.map(|c| c.addr.octets()).unwrap_or([0, 0, 0, 0]);
        [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
    }
}
