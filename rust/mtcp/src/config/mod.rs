//! Configuration: mTCP's `mtcp.conf`, with the `arp.conf` and `route.conf` it names, plus
//! mtcp's own keys (`io = memory|sim|tap|afpacket|afxdp|dpdk`, `addr`, `gateway`, …).
//!
//! CONTRACT: the `Config` fields and the signatures of `Config::{load, parse_str, set, get}` and
//! `ConfigError` are used by the runtime and the Python layer; the parser is the config
//! helper's to write.
//!
//! The submodules split the work by concept:
//! - `values`: the text form of one value (numbers, [`Ipv4Cidr`], MACs, [`IoKind`], …);
//! - `keys`: the table of `mtcp.conf` keys, each with its setter and getter;
//! - `conf_file`: `mtcp.conf` lines and how a batch of assignments is applied;
//! - `tables`: the `arp.conf` and `route.conf` formats;
//! - `validate`: cross-field rules.
//!
//! `docs/configuration.md` describes every key for users.
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

mod conf_file;
mod keys;
mod tables;
mod validate;
mod values;

#[cfg(test)]
mod tests;

pub use values::{format_mac, parse_mac};

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
    /// Every backend, in the order the documentation lists them.
    pub const ALL: [IoKind; 6] = [
        IoKind::Memory,
        IoKind::Sim,
        IoKind::Tap,
        IoKind::AfPacket,
        IoKind::AfXdp,
        IoKind::Dpdk,
    ];

    /// Whether this build has the backend: `dpdk` only with the cargo feature `dpdk`.
    pub fn is_built(self) -> bool {
        self != IoKind::Dpdk || cfg!(feature = "dpdk")
    }

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

impl RunMode {
    /// The `mode =` spelling.
    pub fn name(self) -> &'static str {
        match self {
            RunMode::Threaded => "threaded",
            RunMode::Inline => "inline",
        }
    }
}

/// An IPv4 address with a prefix length, e.g. `198.18.0.1/24`.
///
/// Parses from `a.b.c.d/len` or a bare `a.b.c.d` (meaning `/32`); host bits are kept, so the
/// same type holds a host's address-and-network (`addr`) and a route's destination.
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
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len.min(32) as u32)
        }
    }
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
    /// The network address (host bits cleared), e.g. `198.18.0.0` for `198.18.0.1/24`.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// One static ARP entry (`arp.conf`: `198.18.0.2/32 aa:bb:cc:dd:ee:ff`).
///
/// Parses from and displays as that line form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpEntry {
    /// The IP (or network) the entry answers for.
    pub dest: Ipv4Cidr,
    /// The hardware address.
    pub mac: [u8; 6],
}

/// One route (`route.conf`: `198.18.1.0/24 veth0`; a `/0` entry is the default gateway).
///
/// Parses from and displays as that line form; our extension `<dest> <iface> via <gateway>`
/// gives a non-default route a next hop.
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
    /// `cc`: congestion control, `reno`, `newreno` (default, RFC 6582) or `cubic` (RFC 9438).
    pub cc: String,
    /// `tcp_syncookies`: SYN cookies (RFC 4987 §3.6) as Linux's `net.ipv4.tcp_syncookies`:
    /// 0 never, 1 when a listener's SYN queue is full (default), 2 for every SYN.
    pub tcp_syncookies: u8,
    /// `tcp_hystart`: HyStart++ (RFC 9406) in the initial slow start, `1` (default, as
    /// Linux's CUBIC HyStart) or `0`.
    pub tcp_hystart: bool,
    /// `tcp_pacing`: pace data segments at 2× (slow start) or 1.2× (congestion avoidance)
    /// cwnd / SRTT, as Linux's fq pacing; `0` (default) or `1`.
    pub tcp_pacing: bool,
    /// `checksum_offload`: let a port that can (TAP and AF_PACKET through the virtio-net
    /// header) finish TCP checksums on transmit and vouch for them on receive; `1` (default)
    /// or `0` for software checksums everywhere, like `ethtool -K <if> tx off rx off`.
    pub checksum_offload: bool,
    /// `dpdk_eal_args`: the DPDK EAL's arguments for `io = dpdk`, split on whitespace (e.g.
    /// `--no-pci --no-huge -m 256 --vdev=net_af_packet0,iface=veth0`). Default empty.
    pub dpdk_eal_args: String,
    /// `xdp_mode`: where `io = afxdp` runs its XDP program: `auto` (default: native when the
    /// driver has it, else generic), `drv` (native only) or `skb` (generic only). The
    /// environment variable `MTCP_XDP_MODE`, when set, overrides it.
    pub xdp_mode: String,
    /// `xdp_zerocopy`: `1` asks `io = afxdp` for `XDP_ZEROCOPY` first (copy mode when the
    /// driver has none); `0` (default) copy mode. `MTCP_XDP_ZEROCOPY`, when set, overrides it.
    pub xdp_zerocopy: bool,
    /// `tcp_timestamps`: offer timestamps (RFC 7323 §3), as Linux's
    /// `net.ipv4.tcp_timestamps`; `1` (default) or `0`.
    pub tcp_timestamps: bool,
    /// `tcp_window_scaling`: offer window scaling (RFC 7323 §2), as Linux's
    /// `net.ipv4.tcp_window_scaling`; `1` (default) or `0`.
    pub tcp_window_scaling: bool,
    /// `tcp_sack`: offer SACK (RFC 2018), as Linux's `net.ipv4.tcp_sack`; `1` (default) or `0`.
    pub tcp_sack: bool,
    /// `tcp_recovery`: RACK-TLP loss detection (RFC 8985) when SACK is negotiated, as bit 1
    /// of Linux's `net.ipv4.tcp_recovery`; `1` (default) or `0` (RFC 6675 DupThresh only).
    pub tcp_recovery: bool,
    /// `tcp_frto`: F-RTO (RFC 5682: §3 with SACK, §2 without) detection of spurious
    /// retransmission timeouts, whose window reduction is then undone (RFC 4015), as Linux's
    /// `net.ipv4.tcp_frto`: `0` off, `1` or `2` (default, Linux's value) on.
    pub tcp_frto: u8,
    /// `tcp_prr`: Proportional Rate Reduction (RFC 6937) in fast recovery, `1` (default; Linux
    /// always uses it) or `0` (cwnd drops to ssthresh at once with SACK, RFC 6675; NewReno's
    /// window inflation without, RFC 6582).
    pub tcp_prr: bool,
    /// `tcp_retries2`: RTO expiries without progress before a connection fails with ETIMEDOUT
    /// (RFC 1122 §4.2.3.5 R2; Linux's `net.ipv4.tcp_retries2`, a count here). Default 15.
    pub tcp_retries2: u32,
    /// `tcp_syn_retries`: SYN (and SYN-ACK) retransmissions before `connect` fails with
    /// ETIMEDOUT (Linux's `net.ipv4.tcp_syn_retries`, 1–127). Default 6.
    pub tcp_syn_retries: u32,
    /// `tcp_challenge_ack_limit`: challenge ACKs per second per connection (RFC 5961 §7);
    /// `0` means no limit. Default 10.
    pub tcp_challenge_ack_limit: u32,
    /// `tcp_rto_min_ms`: lower bound on the RTO in ms (RFC 6298 §2.4). Default 200, as Linux.
    pub tcp_rto_min_ms: u64,
    /// `tcp_rto_max_ms`: upper bound on the RTO in ms (RFC 6298 §2.5; Linux's
    /// `net.ipv4.tcp_rto_max_ms`, 1000–120000). Default 60000.
    pub tcp_rto_max_ms: u64,
    /// `tcp_rto_initial_ms`: RTO before the first RTT sample, in ms (RFC 6298 §2.1). Default 1000.
    pub tcp_rto_initial_ms: u64,
    /// `tcp_delack_ms`: longest an ACK of in-order data is delayed, in ms (RFC 5681 §4.2,
    /// at most 500). Default 40, as Linux's `TCP_DELACK_MIN`.
    pub tcp_delack_ms: u64,
    /// `tcp_quickack`: most ACKs sent at once when data starts to arrive (Linux's quickack
    /// mode, `TCP_MAX_QUICKACKS`); `0` turns it off. Default 16.
    pub tcp_quickack: u32,
    /// Static ARP entries (from `arp.conf`, or `arp = ip/prefix mac` lines).
    pub arp: Vec<ArpEntry>,
    /// Routes (from `route.conf`, or `route = ip/prefix iface` lines).
    pub routes: Vec<Route>,
    /// `arp_conf`: the ARP table file that was read, if any (explicit or found by default).
    pub arp_conf: Option<PathBuf>,
    /// `route_conf`: the route table file that was read, if any (explicit or found by default).
    pub route_conf: Option<PathBuf>,
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
            cc: "newreno".to_string(),
            tcp_syncookies: 1,
            tcp_hystart: true,
            tcp_pacing: false,
            checksum_offload: true,
            dpdk_eal_args: String::new(),
            xdp_mode: "auto".to_string(),
            xdp_zerocopy: false,
            tcp_timestamps: true,
            tcp_window_scaling: true,
            tcp_sack: true,
            tcp_recovery: true,
            tcp_frto: 2,
            tcp_prr: true,
            tcp_retries2: 15,
            tcp_syn_retries: 6,
            tcp_challenge_ack_limit: 10,
            tcp_rto_min_ms: 200,
            tcp_rto_max_ms: 60_000,
            tcp_rto_initial_ms: 1000,
            tcp_delack_ms: 40,
            tcp_quickack: 16,
            arp: Vec::new(),
            routes: Vec::new(),
            arp_conf: None,
            route_conf: None,
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

impl ConfigError {
    /// An error with only a message; add the place with the `with_*` methods.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: None,
            line: None,
            key: None,
            message: message.into(),
        }
    }
    /// Names the key at fault, unless one is already named.
    pub fn with_key(mut self, key: &str) -> ConfigError {
        self.key.get_or_insert_with(|| key.to_string());
        self
    }
    /// Names the file, unless one is already named (an error inside `arp.conf` keeps its file).
    pub fn with_file(mut self, file: Option<&Path>) -> ConfigError {
        if self.file.is_none() {
            self.file = file.map(Path::to_path_buf);
        }
        self
    }
    /// Names the 1-based line, unless one is already named.
    pub fn with_line(mut self, line: Option<usize>) -> ConfigError {
        if self.line.is_none() {
            self.line = line;
        }
        self
    }
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
    ///
    /// Without `arp_conf`/`route_conf` keys, the tables are looked for as
    /// `<dir>/config/arp.conf`, then `<dir>/arp.conf` (likewise `route.conf`), where `<dir>` is
    /// the directory of `path`; a missing default table is fine (dynamic ARP, connected route
    /// only). Does not call [`Config::validate`].
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = conf_file::read_text(path)?;
        Config::parse_str(&text, Some(path))
    }

    /// Parses `mtcp.conf` text; `file` is where it came from: it names the file in errors, and
    /// relative `arp_conf`/`route_conf` paths (and the default tables, which are only looked
    /// for when `file` is given) resolve against its directory. With `file = None`, explicit
    /// table paths resolve against the current directory. Does not call [`Config::validate`].
    pub fn parse_str(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = Config {
            source: file.map(Path::to_path_buf),
            ..Config::default()
        };
        let assignments = conf_file::parse_lines(text, file)?;
        let batch = conf_file::Batch {
            file,
            search_default_tables: file.is_some(),
            mirror_buffers: true,
        };
        conf_file::apply(&mut config, &assignments, &batch)?;
        Ok(config)
    }

    /// Sets one key from its text form, as a line of `mtcp.conf` would.
    ///
    /// Like mTCP's `mtcp_setconf`, one assignment changes one key: `rcvbuf` does not copy into
    /// `sndbuf` here (use [`Config::update`] for file semantics). An empty value resets an
    /// optional key (`addr`, `gateway`, `mac`, `core_mask`, lists, table files) to unset.
    /// `arp_conf`/`route_conf` read the named file now (relative to the directory of
    /// [`Config::source`], else the current directory) and replace `arp`/`routes`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let batch = conf_file::Batch {
            file: None,
            search_default_tables: false,
            mirror_buffers: false,
        };
        conf_file::apply(
            self,
            &[conf_file::Assignment::new(key, value, None)],
            &batch,
        )
    }

    /// Applies several assignments as one `mtcp.conf` would: if exactly one of
    /// `rcvbuf`/`sndbuf` is among them the other copies it, and repeated `arp`/`route`
    /// assignments append. Used for keyword arguments (`mtcp.Config(io="memory", …)`).
    /// Stops at the first error; earlier assignments stay applied.
    pub fn update<'a, I>(&mut self, pairs: I) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let assignments: Vec<_> = pairs
            .into_iter()
            .map(|(k, v)| conf_file::Assignment::new(k, v, None))
            .collect();
        let batch = conf_file::Batch {
            file: None,
            search_default_tables: false,
            mirror_buffers: true,
        };
        conf_file::apply(self, &assignments, &batch)
    }

    /// The text form of one key's value (`None` for an unknown key).
    ///
    /// `set(key, get(key))` round-trips for every key. An unset optional value reads as `""`;
    /// so do the accepted-but-ignored keys `num_mem_ch` and `multiprocess`.
    pub fn get(&self, key: &str) -> Option<String> {
        keys::Key::from_name(key).map(|k| keys::get(self, k))
    }

    /// Every key `set`, `get` and `mtcp.conf` accept, in the documented order.
    pub fn keys() -> &'static [&'static str] {
        keys::NAMES
    }

    /// The keys accepted for mTCP compatibility whose values are checked but not used
    /// (`num_mem_ch`, `multiprocess`).
    pub fn ignored_keys() -> &'static [&'static str] {
        keys::IGNORED
    }

    /// This configuration as `mtcp.conf` text: every stored key with a value, and the ARP
    /// entries and routes inline (`arp =`/`route =` lines) instead of naming table files.
    /// Parsing the text gives back this configuration, apart from `arp_conf`, `route_conf` and
    /// `source` (and an empty `port`/`stat_print`, which a file cannot spell).
    pub fn to_conf_string(&self) -> String {
        conf_file::render(self)
    }

    /// Checks cross-field rules (buffer minimums, num_cores ≥ 1, addresses present for the
    /// backend, …).
    ///
    /// Every per-key rule is checked again (fields are public), then: `port` is needed unless
    /// `io = sim`; `addr`, if given, is a unicast address (a missing one is allowed: the
    /// runtime reads the interface's, or uses `DEFAULT_ADDR` for `memory`); `gateway` and the
    /// default route's gateway must be inside `addr`'s network and agree; `core_mask` needs `num_cores` bits;
    /// `stat_print` and route interfaces must be ports; route.conf's rules (≤ 64 routes, one
    /// default route, last, with a gateway).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self).map_err(|e| e.with_file(self.source.as_deref()))
    }

    /// The hardware address: `mac`, or `02:00:` followed by the four bytes of `addr`.
    pub fn effective_mac(&self) -> [u8; 6] {
        if let Some(mac) = self.mac {
            return mac;
        }
        let ip = self.addr.map(|c| c.addr.octets()).unwrap_or([0, 0, 0, 0]);
        [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
    }

    /// The default next hop: `gateway`, else the gateway of the default (`/0`) route.
    pub fn default_gateway(&self) -> Option<Ipv4Addr> {
        self.gateway.or_else(|| {
            self.routes
                .iter()
                .find(|r| r.dest.prefix_len == 0)
                .and_then(|r| r.gateway)
        })
    }
}
