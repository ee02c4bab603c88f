//! Cross-field rules ([`Config::validate`]). Fields are public, so every per-key rule is also
//! checked again here by sending each value's text form back through its setter.
use std::net::Ipv4Addr;

use super::keys::{self, Key};
use super::tables::{default_not_last, misplaced_default_route, MAX_ROUTES};
use super::values::check_name;
use super::{Config, ConfigError, IoKind};

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    check_each_key(config)?;
    check_port(config)?;
    check_addresses(config)?;
    check_core_mask(config)?;
    check_routes(config)?;
    check_rto_bounds(config)?;
    Ok(())
}

fn error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(message).with_key(key)
}

/// RFC 6298 §2.4–2.5: the RTO floor may not exceed its ceiling (each key is range-checked on
/// its own; the pair only here, so a file may give them in either order).
fn check_rto_bounds(config: &Config) -> Result<(), ConfigError> {
    if config.tcp_rto_min_ms > config.tcp_rto_max_ms {
        return Err(error(
            "tcp_rto_min_ms",
            format!(
                "must not exceed tcp_rto_max_ms ({} ms), found {} ms",
                config.tcp_rto_max_ms, config.tcp_rto_min_ms
            ),
        ));
    }
    Ok(())
}

/// The per-key rules (ranges, names, MAC kind) on the current values.
fn check_each_key(config: &Config) -> Result<(), ConfigError> {
    let mut scratch = Config::default();
    for &key in keys::ALL.iter() {
        if matches!(key, Key::Arp | Key::Route | Key::ArpConf | Key::RouteConf) {
            continue;
        }
        // A name holding a space would split in its text form; check names directly.
        let names = match key {
            Key::Port => Some(&config.port),
            Key::StatPrint => Some(&config.stat_print),
            _ => None,
        };
        if let Some(names) = names {
            for name in names {
                check_name(name).map_err(|e| e.with_key(key.name()))?;
            }
            continue;
        }
        if key == Key::Addr {
            if let Some(addr) = config.addr {
                if addr.prefix_len > 32 {
                    return Err(error(
                        "addr",
                        format!("prefix length {} is over 32", addr.prefix_len),
                    ));
                }
            }
        }
        keys::set(&mut scratch, key, &keys::get(config, key))
            .map_err(|e| e.with_key(key.name()))?;
    }
    for route in &config.routes {
        check_name(&route.iface).map_err(|e| e.with_key("route"))?;
    }
    Ok(())
}

/// Every backend but `sim` (where the network names the port) needs a port; `stat_print`
/// names ports.
fn check_port(config: &Config) -> Result<(), ConfigError> {
    if config.port.is_empty() && config.io != IoKind::Sim {
        return Err(error(
            "port",
            format!(
                "at least one port is required for io = {}",
                config.io.name()
            ),
        ));
    }
    for name in &config.stat_print {
        if !is_port(config, name) {
            return Err(error(
                "stat_print",
                format!(
                    "'{name}' is not one of the ports ({})",
                    config.port.join(" ")
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a configured port (`port = all` admits any name).
fn is_port(config: &Config, name: &str) -> bool {
    config.port.iter().any(|p| p == name || p == "all")
}

/// A usable host address, and gateways on the local network. A missing `addr` is fine: the
/// kernel backends read the interface's, and `memory` stacks default to `mtcp::DEFAULT_ADDR`.
fn check_addresses(config: &Config) -> Result<(), ConfigError> {
    if let Some(addr) = config.addr {
        let ip = addr.addr;
        if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
            return Err(error("addr", format!("{ip} cannot be a host's address")));
        }
    }
    let route_gateway = config
        .routes
        .iter()
        .find(|r| r.dest.prefix_len == 0)
        .and_then(|r| r.gateway);
    for (key, gw) in [("gateway", config.gateway), ("route", route_gateway)] {
        let Some(gw) = gw else { continue };
        check_gateway(config, key, gw)?;
    }
    if let (Some(gw), Some(route_gw)) = (config.gateway, route_gateway) {
        if gw != route_gw {
            return Err(error(
                "gateway",
                format!("gateway {gw} disagrees with the default route's gateway {route_gw}"),
            ));
        }
    }
    Ok(())
}

/// A next hop must be on the local network (it is reached by ARP) and not this host.
fn check_gateway(config: &Config, key: &str, gw: Ipv4Addr) -> Result<(), ConfigError> {
    if gw.is_unspecified() || gw.is_multicast() || gw.is_broadcast() {
        return Err(error(key, format!("{gw} cannot be a gateway")));
    }
    if let Some(addr) = config.addr {
        if gw == addr.addr {
            return Err(error(
                key,
                format!("the gateway {gw} is this host's own address"),
            ));
        }
        if !addr.contains(gw) {
            return Err(error(
                key,
                format!(
                    "the gateway {gw} is outside this host's network {}/{}",
                    addr.network(),
                    addr.prefix_len
                ),
            ));
        }
    }
    Ok(())
}

/// Context i runs on the i-th set bit of `core_mask`, so it needs `num_cores` bits.
fn check_core_mask(config: &Config) -> Result<(), ConfigError> {
    if let Some(mask) = config.core_mask {
        if (mask.count_ones() as usize) < config.num_cores {
            return Err(error(
                "core_mask",
                format!(
                    "{mask:#x} selects {} CPUs but num_cores is {}",
                    mask.count_ones(),
                    config.num_cores
                ),
            ));
        }
    }
    Ok(())
}

/// mTCP's route.conf rules, and route interfaces must be ports.
fn check_routes(config: &Config) -> Result<(), ConfigError> {
    let routes = &config.routes;
    if routes.len() > MAX_ROUTES {
        return Err(error(
            "route",
            format!(
                "{} routes are more than the limit of {MAX_ROUTES}",
                routes.len()
            ),
        ));
    }
    if misplaced_default_route(routes).is_some() {
        return Err(default_not_last().with_key("route"));
    }
    for route in routes {
        if route.dest.prefix_len > 32 {
            return Err(error(
                "route",
                format!("prefix length {} is over 32", route.dest.prefix_len),
            ));
        }
        if route.dest.prefix_len == 0 && route.gateway.is_none() {
            return Err(error(
                "route",
                format!("the default route on {} has no gateway", route.iface),
            ));
        }
        if !is_port(config, &route.iface) && config.io != IoKind::Sim {
            return Err(error(
                "route",
                format!(
                    "route {route}: '{}' is not one of the ports ({})",
                    route.iface,
                    config.port.join(" ")
                ),
            ));
        }
    }
    for entry in &config.arp {
        if entry.dest.prefix_len > 32 {
            return Err(error(
                "arp",
                format!("prefix length {} is over 32", entry.dest.prefix_len),
            ));
        }
    }
    Ok(())
}
