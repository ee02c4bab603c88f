//! The text form of single configuration values: whole numbers, hex masks, IPv4 addresses and
//! prefixes, MAC addresses, and the enum spellings. Every parser returns a [`ConfigError`] whose
//! message says what was expected; the caller adds the file, line and key.
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::{ArpEntry, ConfigError, IoKind, Ipv4Cidr, Route, RunMode};

/// A non-negative decimal number: ASCII digits only (no sign, no spaces, no `0x`).
pub(super) fn parse_unsigned(text: &str) -> Result<u64, ConfigError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        let hint = if text.starts_with('-') {
            " (negative values are not allowed)"
        } else {
            ""
        };
        return Err(ConfigError::new(format!(
            "expected a non-negative whole number, found '{text}'{hint}"
        )));
    }
    text.parse::<u64>()
        .map_err(|_| ConfigError::new(format!("'{text}' is too large")))
}

/// A decimal number with an optional leading `-`.
pub(super) fn parse_signed(text: &str) -> Result<i64, ConfigError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::new(format!(
            "expected a whole number, found '{text}'"
        )));
    }
    text.parse::<i64>()
        .map_err(|_| ConfigError::new(format!("'{text}' is out of range")))
}

/// A non-negative decimal number in `min..=max`; `unit` follows the range in the message.
pub(super) fn parse_in_range(
    text: &str,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<u64, ConfigError> {
    let n = parse_unsigned(text)?;
    if n < min || n > max {
        return Err(ConfigError::new(format!(
            "must be between {min} and {max}{unit}, found {n}"
        )));
    }
    Ok(n)
}

/// A hexadecimal number with or without `0x` (mTCP's `core_mask`), at most 64 bits.
pub(super) fn parse_hex_u64(text: &str) -> Result<u64, ConfigError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConfigError::new(format!(
            "expected a hexadecimal CPU mask like 0xff or ff, found '{text}'"
        )));
    }
    u64::from_str_radix(digits, 16)
        .map_err(|_| ConfigError::new(format!("'{text}' is wider than 64 bits")))
}

/// A dotted-quad IPv4 address.
pub(super) fn parse_ipv4(text: &str) -> Result<Ipv4Addr, ConfigError> {
    text.parse::<Ipv4Addr>().map_err(|_| {
        ConfigError::new(format!(
            "expected an IPv4 address like 198.18.0.1, found '{text}'"
        ))
    })
}

/// A name (interface, hub): no whitespace, and none of `,`, `#`, `=` (which the file and list
/// syntax use).
pub(super) fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new("expected a name, found nothing"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '#' | '='))
    {
        return Err(ConfigError::new(format!(
            "the name '{name}' contains {c:?}, which names may not contain"
        )));
    }
    Ok(())
}

/// A space-separated list of names (`port`, `stat_print`); empty text is an empty list.
pub(super) fn parse_names(text: &str) -> Result<Vec<String>, ConfigError> {
    text.split_whitespace()
        .map(|name| check_name(name).map(|()| name.to_string()))
        .collect()
}

/// A MAC address: six groups of one or two hex digits separated by `:` (or all by `-`),
/// e.g. `02:00:c6:12:00:01`.
pub fn parse_mac(text: &str) -> Result<[u8; 6], ConfigError> {
    let bad = || {
        ConfigError::new(format!(
            "expected a MAC address like 02:00:c6:12:00:01, found '{text}'"
        ))
    };
    let sep = if text.contains(':') { ':' } else { '-' };
    let mut mac = [0u8; 6];
    let mut groups = text.split(sep);
    for byte in mac.iter_mut() {
        let group = groups.next().ok_or_else(bad)?;
        if group.is_empty() || group.len() > 2 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *byte = u8::from_str_radix(group, 16).map_err(|_| bad())?;
    }
    if groups.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

/// The canonical text of a MAC address: lower-case, two digits per byte, `:`-separated.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// A station MAC (`mac =`): not all zeros and not a group address (IEEE 802-2014 §8.2: the
/// least significant bit of the first octet marks group addresses).
pub(super) fn check_station_mac(mac: &[u8; 6]) -> Result<(), ConfigError> {
    if mac == &[0; 6] {
        return Err(ConfigError::new(
            "00:00:00:00:00:00 is not a usable hardware address",
        ));
    }
    if mac[0] & 1 == 1 {
        return Err(ConfigError::new(format!(
            "{} is a multicast/broadcast address; a host needs a unicast one (first byte even)",
            format_mac(mac)
        )));
    }
    Ok(())
}

impl FromStr for Ipv4Cidr {
    type Err = ConfigError;

    /// `a.b.c.d/len` (len 0–32) or a bare `a.b.c.d`, meaning `/32`.
    fn from_str(text: &str) -> Result<Ipv4Cidr, ConfigError> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let addr = ip.parse::<Ipv4Addr>().map_err(|_| {
            ConfigError::new(format!(
                "expected an IPv4 address with optional prefix length like 198.18.0.1/24, \
                 but '{ip}' is not an IPv4 address"
            ))
        })?;
        let prefix_len = match prefix {
            None => 32,
            Some(p) => match parse_unsigned(p) {
                Ok(n) if n <= 32 => n as u8,
                Ok(n) => {
                    return Err(ConfigError::new(format!(
                        "prefix length {n} in '{text}' is out of range (0 to 32)"
                    )))
                }
                Err(_) => {
                    return Err(ConfigError::new(format!(
                        "expected a prefix length 0 to 32 after '/' in '{text}', found '{p}'"
                    )))
                }
            },
        };
        Ok(Ipv4Cidr { addr, prefix_len })
    }
}

impl std::fmt::Display for IoKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IoKind {
    type Err = ConfigError;

    /// The `io =` spellings (any case); `af_packet`/`af_xdp` are accepted too. mTCP's own
    /// modules `psio`, `netmap` and `onvm` are recognised and refused.
    fn from_str(text: &str) -> Result<IoKind, ConfigError> {
        let lower = text.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "af_packet" => Some(IoKind::AfPacket),
            "af_xdp" => Some(IoKind::AfXdp),
            name => IoKind::ALL.into_iter().find(|k| k.name() == name),
        };
        let valid = "memory, sim, tap, afpacket, afxdp, dpdk";
        match (kind, lower.as_str()) {
            (Some(kind), _) => Ok(kind),
            (None, "psio" | "netmap" | "onvm") => Err(ConfigError::new(format!(
                "mTCP's '{lower}' I/O module is not supported; use one of {valid}"
            ))),
            (None, _) => Err(ConfigError::new(format!(
                "unknown I/O backend '{text}'; expected one of {valid}"
            ))),
        }
    }
}

impl std::fmt::Display for RunMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RunMode {
    type Err = ConfigError;

    /// `threaded` or `inline` (any case).
    fn from_str(text: &str) -> Result<RunMode, ConfigError> {
        match text.to_ascii_lowercase().as_str() {
            "threaded" => Ok(RunMode::Threaded),
            "inline" => Ok(RunMode::Inline),
            _ => Err(ConfigError::new(format!(
                "unknown mode '{text}'; expected threaded or inline"
            ))),
        }
    }
}

/// The congestion-control names `cc =` accepts: Reno (RFC 5681), NewReno (RFC 6582),
/// CUBIC (RFC 9438) and BBR (v1, Linux's `tcp_bbr`; draft-ietf-ccwg-bbr).
pub(super) const CC_NAMES: [&str; 4] = ["reno", "newreno", "cubic", "bbr"];

/// A `cc =` value, lower-cased.
pub(super) fn parse_cc(text: &str) -> Result<String, ConfigError> {
    let lower = text.to_ascii_lowercase();
    if CC_NAMES.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(ConfigError::new(format!(
            "unknown congestion control '{text}'; expected reno, newreno, cubic or bbr"
        )))
    }
}

/// An `xdp_mode =` value: `auto`, `drv` (or `native`), `skb` (or `generic`), lower-cased.
pub(super) fn parse_xdp_mode(text: &str) -> Result<String, ConfigError> {
    let lower = text.to_ascii_lowercase();
    lower
        .parse::<mtcp_io::afxdp::XdpMode>()
        .map(|_| lower.clone())
        .map_err(|e| ConfigError::new(e.to_string()))
}

impl FromStr for ArpEntry {
    type Err = ConfigError;

    /// `<ip>[/<prefix>] <mac>`, as a line of arp.conf.
    fn from_str(text: &str) -> Result<ArpEntry, ConfigError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [dest, mac] = fields[..] else {
            return Err(ConfigError::new(format!(
                "expected '<ip>/<prefix> <mac>' like '198.18.0.2/32 02:00:c6:12:00:02', \
                 found '{text}'"
            )));
        };
        Ok(ArpEntry {
            dest: dest.parse()?,
            mac: parse_mac(mac)?,
        })
    }
}

impl std::fmt::Display for ArpEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.dest, format_mac(&self.mac))
    }
}

impl FromStr for Route {
    type Err = ConfigError;

    /// `<ip>/<prefix> <iface>`, as a line of route.conf; a `/0` entry is the default route and
    /// its address is the gateway. Extension: `<ip>/<prefix> <iface> via <gateway>`.
    fn from_str(text: &str) -> Result<Route, ConfigError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (dest, iface, via) = match fields[..] {
            [dest, iface] => (dest, iface, None),
            [dest, iface, "via", gw] => (dest, iface, Some(gw)),
            _ => {
                return Err(ConfigError::new(format!(
                    "expected '<ip>/<prefix> <interface>' like '198.18.1.0/24 mtcp0' \
                     (or '<gateway>/0 <interface>' for the default route), found '{text}'"
                )))
            }
        };
        let dest: Ipv4Cidr = dest.parse()?;
        check_name(iface)?;
        let iface = iface.to_string();
        if dest.prefix_len == 0 {
            if via.is_some() {
                return Err(ConfigError::new(format!(
                    "a /0 entry names its gateway as its address; 'via' is not allowed in \
                     '{text}'"
                )));
            }
            let any = Ipv4Cidr {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix_len: 0,
            };
            return Ok(Route {
                dest: any,
                iface,
                gateway: Some(dest.addr),
            });
        }
        let gateway = via.map(parse_ipv4).transpose()?;
        Ok(Route {
            dest,
            iface,
            gateway,
        })
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.dest.prefix_len, self.gateway) {
            (0, Some(gw)) => write!(f, "{gw}/0 {}", self.iface),
            (_, Some(gw)) => write!(f, "{} {} via {gw}", self.dest, self.iface),
            (_, None) => write!(f, "{} {}", self.dest, self.iface),
        }
    }
}
