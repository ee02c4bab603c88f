//! The `mtcp.conf` keys: names, the per-key rule that turns text into a field, and the
//! canonical text of each field (so `set(k, get(k))` round-trips).
use super::values::{
    check_station_mac, format_mac, parse_cc, parse_hex_u64, parse_in_range, parse_ipv4, parse_mac,
    parse_names, parse_signed, parse_unsigned, parse_xdp_mode,
};
use super::{Config, ConfigError};

/// The most contexts one stack runs: as many as a 64-bit `core_mask` can place.
pub(super) const MAX_CORES: u64 = 64;
/// mTCP's minimum socket buffer (config.c rejects smaller `rcvbuf`/`sndbuf`).
pub(super) const MIN_BUF: u64 = 64;
/// The largest useful socket buffer: a scaled TCP window is at most 2^30 bytes (RFC 7323 §2.3).
pub(super) const MAX_BUF: u64 = 1 << 30;
/// Pools larger than this are surely a typo: they would preallocate gigabytes per context.
pub(super) const MAX_POOL: u64 = 1 << 24;
/// mTCP keeps timeouts as `int` milliseconds, so no timeout can exceed `i32::MAX` ms.
pub(super) const MAX_TIMER_SECS: u64 = i32::MAX as u64 / 1000;
/// The smallest MTU every IPv4 host must handle (RFC 791, "Fragmentation") …
pub(super) const MIN_MTU: u64 = 68;
/// … and the common jumbo-frame ceiling.
pub(super) const MAX_MTU: u64 = 9000;
/// Linux's `tcp_retries2` has no bound; beyond 255 the retry count is surely a typo (with a
/// 60 s RTO cap, 255 retries already take over four hours).
pub(super) const MAX_RETRIES: u64 = 255;
/// Linux's `MAX_TCP_SYNCNT`: `tcp_syn_retries` is 1–127.
pub(super) const MAX_SYN_RETRIES: u64 = 127;
/// Linux's `TCP_RTO_MAX` ceiling for `tcp_rto_max_ms` (120 s), also the cap on the other RTO keys.
pub(super) const MAX_RTO_MS: u64 = 120_000;
/// Linux's floor for `tcp_rto_max_ms` (1 s; RFC 6298 §2.5 asks for at least 60 s).
pub(super) const MIN_RTO_MAX_MS: u64 = 1000;
/// RFC 9293 §3.8.6.3: an ACK must not be delayed more than 0.5 s.
pub(super) const MAX_DELACK_MS: u64 = 500;
/// Quick ACKs per run beyond this are surely a typo (Linux's `TCP_MAX_QUICKACKS` is 16).
pub(super) const MAX_QUICKACKS: u64 = 65_535;

/// One `mtcp.conf` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Io,
    NumCores,
    CoreMask,
    NumMemCh,
    Port,
    MaxConcurrency,
    MaxNumBuffers,
    Rcvbuf,
    Sndbuf,
    TcpTimeout,
    TcpTimewait,
    StatPrint,
    Multiprocess,
    Addr,
    Gateway,
    Mac,
    Mtu,
    Mode,
    Cc,
    TcpSyncookies,
    TcpHystart,
    TcpPacing,
    ChecksumOffload,
    DpdkEalArgs,
    XdpMode,
    XdpZerocopy,
    TcpTimestamps,
    TcpWindowScaling,
    TcpSack,
    TcpRecovery,
    TcpFrto,
    TcpPrr,
    TcpRetries2,
    TcpSynRetries,
    TcpChallengeAckLimit,
    TcpRtoMinMs,
    TcpRtoMaxMs,
    TcpRtoInitialMs,
    TcpDelackMs,
    TcpQuickack,
    Arp,
    Route,
    ArpConf,
    RouteConf,
}

/// Every key, in the order of [`NAMES`].
pub(super) const ALL: &[Key] = &[
    Key::Io,
    Key::NumCores,
    Key::CoreMask,
    Key::NumMemCh,
    Key::Port,
    Key::MaxConcurrency,
    Key::MaxNumBuffers,
    Key::Rcvbuf,
    Key::Sndbuf,
    Key::TcpTimeout,
    Key::TcpTimewait,
    Key::StatPrint,
    Key::Multiprocess,
    Key::Addr,
    Key::Gateway,
    Key::Mac,
    Key::Mtu,
    Key::Mode,
    Key::Cc,
    Key::TcpSyncookies,
    Key::TcpHystart,
    Key::TcpPacing,
    Key::ChecksumOffload,
    Key::DpdkEalArgs,
    Key::XdpMode,
    Key::XdpZerocopy,
    Key::TcpTimestamps,
    Key::TcpWindowScaling,
    Key::TcpSack,
    Key::TcpRecovery,
    Key::TcpFrto,
    Key::TcpPrr,
    Key::TcpRetries2,
    Key::TcpSynRetries,
    Key::TcpChallengeAckLimit,
    Key::TcpRtoMinMs,
    Key::TcpRtoMaxMs,
    Key::TcpRtoInitialMs,
    Key::TcpDelackMs,
    Key::TcpQuickack,
    Key::Arp,
    Key::Route,
    Key::ArpConf,
    Key::RouteConf,
];

/// The spelling of every key (mTCP's first, then ours).
pub(super) const NAMES: &[&str] = &[
    "io",
    "num_cores",
    "core_mask",
    "num_mem_ch",
    "port",
    "max_concurrency",
    "max_num_buffers",
    "rcvbuf",
    "sndbuf",
    "tcp_timeout",
    "tcp_timewait",
    "stat_print",
    "multiprocess",
    "addr",
    "gateway",
    "mac",
    "mtu",
    "mode",
    "cc",
    "tcp_syncookies",
    "tcp_hystart",
    "tcp_pacing",
    "checksum_offload",
    "dpdk_eal_args",
    "xdp_mode",
    "xdp_zerocopy",
    "tcp_timestamps",
    "tcp_window_scaling",
    "tcp_sack",
    "tcp_recovery",
    "tcp_frto",
    "tcp_prr",
    "tcp_retries2",
    "tcp_syn_retries",
    "tcp_challenge_ack_limit",
    "tcp_rto_min_ms",
    "tcp_rto_max_ms",
    "tcp_rto_initial_ms",
    "tcp_delack_ms",
    "tcp_quickack",
    "arp",
    "route",
    "arp_conf",
    "route_conf",
];

/// Keys accepted (and checked) for mTCP compatibility whose values are not used.
pub(super) const IGNORED: &[&str] = &["num_mem_ch", "multiprocess"];

impl Key {
    pub(super) fn from_name(name: &str) -> Option<Key> {
        NAMES.iter().position(|&n| n == name).map(|i| ALL[i])
    }

    pub(super) fn name(self) -> &'static str {
        NAMES[ALL.iter().position(|&k| k == self).unwrap_or(0)]
    }
}

/// Sets a key whose value is self-contained (every key but `arp`, `route`, `arp_conf`,
/// `route_conf`, which `conf_file::apply` handles). Errors carry only a message.
pub(super) fn set(config: &mut Config, key: Key, value: &str) -> Result<(), ConfigError> {
    let optional = |value: &str| (!value.is_empty()).then_some(());
    match key {
        Key::Io => config.io = value.parse()?,
        Key::NumCores => config.num_cores = parse_in_range(value, 1, MAX_CORES, " cores")? as usize,
        Key::CoreMask => {
            config.core_mask = match optional(value) {
                // mTCP: a mask of 0 means "identity", the same as no mask.
                Some(()) => Some(parse_hex_u64(value)?).filter(|&m| m != 0),
                None => None,
            }
        }
        Key::NumMemCh => {
            if optional(value).is_some() {
                parse_unsigned(value)?;
            }
        }
        Key::Port => config.port = parse_names(value)?,
        Key::MaxConcurrency => {
            config.max_concurrency = parse_in_range(value, 1, MAX_POOL, " sockets")? as usize
        }
        Key::MaxNumBuffers => {
            config.max_num_buffers = parse_in_range(value, 1, MAX_POOL, " buffers")? as usize
        }
        Key::Rcvbuf => config.rcvbuf = parse_in_range(value, MIN_BUF, MAX_BUF, " bytes")? as usize,
        Key::Sndbuf => config.sndbuf = parse_in_range(value, MIN_BUF, MAX_BUF, " bytes")? as usize,
        Key::TcpTimeout => {
            let secs = parse_signed(value)?;
            if secs > MAX_TIMER_SECS as i64 {
                return Err(ConfigError::new(format!(
                    "must be at most {MAX_TIMER_SECS} seconds (or <= 0 to disable), found {secs}"
                )));
            }
            config.tcp_timeout = secs;
        }
        Key::TcpTimewait => {
            config.tcp_timewait = parse_in_range(value, 0, MAX_TIMER_SECS, " seconds")?
        }
        Key::StatPrint => config.stat_print = parse_names(value)?,
        Key::Multiprocess => {
            if optional(value).is_some() {
                check_multiprocess(value)?;
            }
        }
        Key::Addr => {
            config.addr = match optional(value) {
                Some(()) => Some(value.parse()?),
                None => None,
            }
        }
        Key::Gateway => {
            config.gateway = match optional(value) {
                Some(()) => Some(parse_ipv4(value)?),
                None => None,
            }
        }
        Key::Mac => {
            config.mac = match optional(value) {
                Some(()) => {
                    let mac = parse_mac(value)?;
                    check_station_mac(&mac)?;
                    Some(mac)
                }
                None => None,
            }
        }
        Key::Mtu => config.mtu = parse_in_range(value, MIN_MTU, MAX_MTU, " bytes")? as usize,
        Key::Mode => config.mode = value.parse()?,
        Key::Cc => config.cc = parse_cc(value)?,
        Key::TcpSyncookies => config.tcp_syncookies = parse_in_range(value, 0, 2, "")? as u8,
        Key::TcpHystart => config.tcp_hystart = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpPacing => config.tcp_pacing = parse_in_range(value, 0, 1, "")? == 1,
        Key::ChecksumOffload => config.checksum_offload = parse_in_range(value, 0, 1, "")? == 1,
        // Free text for the EAL; kept on one line, with runs of whitespace made single spaces.
        Key::DpdkEalArgs => {
            config.dpdk_eal_args = value.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        Key::XdpMode => config.xdp_mode = parse_xdp_mode(value)?,
        Key::XdpZerocopy => config.xdp_zerocopy = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpTimestamps => config.tcp_timestamps = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpWindowScaling => config.tcp_window_scaling = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpSack => config.tcp_sack = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpRecovery => config.tcp_recovery = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpFrto => config.tcp_frto = parse_in_range(value, 0, 2, "")? as u8,
        Key::TcpPrr => config.tcp_prr = parse_in_range(value, 0, 1, "")? == 1,
        Key::TcpRetries2 => {
            config.tcp_retries2 = parse_in_range(value, 0, MAX_RETRIES, " retransmissions")? as u32
        }
        Key::TcpSynRetries => {
            config.tcp_syn_retries =
                parse_in_range(value, 1, MAX_SYN_RETRIES, " retransmissions")? as u32
        }
        Key::TcpChallengeAckLimit => {
            config.tcp_challenge_ack_limit =
                parse_in_range(value, 0, i32::MAX as u64, " per second")? as u32
        }
        Key::TcpRtoMinMs => config.tcp_rto_min_ms = parse_in_range(value, 1, MAX_RTO_MS, " ms")?,
        Key::TcpRtoMaxMs => {
            config.tcp_rto_max_ms = parse_in_range(value, MIN_RTO_MAX_MS, MAX_RTO_MS, " ms")?
        }
        Key::TcpRtoInitialMs => {
            config.tcp_rto_initial_ms = parse_in_range(value, 1, MAX_RTO_MS, " ms")?
        }
        Key::TcpDelackMs => config.tcp_delack_ms = parse_in_range(value, 1, MAX_DELACK_MS, " ms")?,
        Key::TcpQuickack => {
            config.tcp_quickack = parse_in_range(value, 0, MAX_QUICKACKS, " ACKs")? as u32
        }
        Key::Arp | Key::Route | Key::ArpConf | Key::RouteConf => {
            return Err(ConfigError::new(
                "internal: table keys are applied by conf_file",
            ));
        }
    }
    Ok(())
}

/// `multiprocess = 0|1`, or the older `multiprocess = <core> master|slave`.
fn check_multiprocess(value: &str) -> Result<(), ConfigError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let ok = match fields[..] {
        [n] => parse_unsigned(n).is_ok(),
        [n, role] => parse_unsigned(n).is_ok() && matches!(role, "master" | "slave"),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "expected 0, 1 or '<core> master|slave', found '{value}'"
        )))
    }
}

/// The canonical text of a key's value; `""` when unset (or ignored).
pub(super) fn get(config: &Config, key: Key) -> String {
    fn join<T: ToString>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
        items
            .into_iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(sep)
    }
    fn opt<T: ToString>(value: Option<T>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }
    match key {
        Key::Io => config.io.name().to_string(),
        Key::NumCores => config.num_cores.to_string(),
        Key::CoreMask => opt(config.core_mask.map(|m| format!("{m:#x}"))),
        Key::NumMemCh | Key::Multiprocess => String::new(),
        Key::Port => config.port.join(" "),
        Key::MaxConcurrency => config.max_concurrency.to_string(),
        Key::MaxNumBuffers => config.max_num_buffers.to_string(),
        Key::Rcvbuf => config.rcvbuf.to_string(),
        Key::Sndbuf => config.sndbuf.to_string(),
        Key::TcpTimeout => config.tcp_timeout.to_string(),
        Key::TcpTimewait => config.tcp_timewait.to_string(),
        Key::StatPrint => config.stat_print.join(" "),
        Key::Addr => opt(config.addr),
        Key::Gateway => opt(config.gateway),
        Key::Mac => opt(config.mac.as_ref().map(format_mac)),
        Key::Mtu => config.mtu.to_string(),
        Key::Mode => config.mode.name().to_string(),
        Key::Cc => config.cc.clone(),
        Key::TcpSyncookies => config.tcp_syncookies.to_string(),
        Key::TcpHystart => u8::from(config.tcp_hystart).to_string(),
        Key::TcpPacing => u8::from(config.tcp_pacing).to_string(),
        Key::ChecksumOffload => u8::from(config.checksum_offload).to_string(),
        Key::DpdkEalArgs => config.dpdk_eal_args.clone(),
        Key::XdpMode => config.xdp_mode.clone(),
        Key::XdpZerocopy => u8::from(config.xdp_zerocopy).to_string(),
        Key::TcpTimestamps => u8::from(config.tcp_timestamps).to_string(),
        Key::TcpWindowScaling => u8::from(config.tcp_window_scaling).to_string(),
        Key::TcpSack => u8::from(config.tcp_sack).to_string(),
        Key::TcpRecovery => u8::from(config.tcp_recovery).to_string(),
        Key::TcpFrto => config.tcp_frto.to_string(),
        Key::TcpPrr => u8::from(config.tcp_prr).to_string(),
        Key::TcpRetries2 => config.tcp_retries2.to_string(),
        Key::TcpSynRetries => config.tcp_syn_retries.to_string(),
        Key::TcpChallengeAckLimit => config.tcp_challenge_ack_limit.to_string(),
        Key::TcpRtoMinMs => config.tcp_rto_min_ms.to_string(),
        Key::TcpRtoMaxMs => config.tcp_rto_max_ms.to_string(),
        Key::TcpRtoInitialMs => config.tcp_rto_initial_ms.to_string(),
        Key::TcpDelackMs => config.tcp_delack_ms.to_string(),
        Key::TcpQuickack => config.tcp_quickack.to_string(),
        Key::Arp => join(&config.arp, ", "),
        Key::Route => join(&config.routes, ", "),
        Key::ArpConf => opt(config.arp_conf.as_ref().map(|p| p.display())),
        Key::RouteConf => opt(config.route_conf.as_ref().map(|p| p.display())),
    }
}

/// The message for an unknown key, with a suggestion when one key is a small edit away.
pub(super) fn unknown_key_message(name: &str) -> String {
    if name.starts_with("onvm_") {
        return format!("'{name}' belongs to mTCP's openNetVM module, which is not supported");
    }
    let nearest = NAMES
        .iter()
        .map(|&known| (edit_distance(name, known), known))
        .min()
        .filter(|&(d, _)| d <= 2);
    match nearest {
        Some((_, known)) => format!("unknown key '{name}' (did you mean '{known}'?)"),
        None => format!("unknown key '{name}'; known keys: {}", NAMES.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}
