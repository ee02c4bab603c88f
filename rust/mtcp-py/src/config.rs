//! `_mtcp.RawConfig`: the runtime's `mtcp::Config`, parsed and validated by Rust. The typed
//! Python face (`mtcp.Config`, every key a keyword) is `python/mtcp/config.py`.
use std::net::Ipv4Addr;
use std::path::PathBuf;

use mtcp::config::{ArpEntry, Route};
use mtcp::{Config, Ipv4Cidr};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::config_call;

/// A stack configuration (mTCP's `mtcp.conf` plus this project's keys).
#[pyclass(module = "mtcp._mtcp", name = "RawConfig", eq)]
#[derive(Clone, PartialEq)]
pub struct RawConfig {
    pub(crate) inner: Config,
}

fn cidr(addr: &str, prefix_len: u8) -> PyResult<Ipv4Cidr> {
    let addr: Ipv4Addr = addr.parse().map_err(|_| {
        PyValueError::new_err(format!("{addr:?} is not a dotted-quad IPv4 address"))
    })?;
    if prefix_len > 32 {
        return Err(PyValueError::new_err(format!(
            "prefix length {prefix_len} is not in 0..=32"
        )));
    }
    Ok(Ipv4Cidr { addr, prefix_len })
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[pymethods]
impl RawConfig {
    /// mTCP's defaults.
    #[new]
    fn new() -> Self {
        RawConfig {
            inner: Config::default(),
        }
    }

    /// Reads an `mtcp.conf` and the `arp.conf`/`route.conf` it names.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        config_call(py, "load_config", || Config::load(&path)).map(|inner| RawConfig { inner })
    }

    /// Parses `mtcp.conf` text; `file` names it in messages and anchors relative paths.
    #[staticmethod]
    #[pyo3(signature = (text, file=None))]
    fn parse_str(py: Python<'_>, text: &str, file: Option<PathBuf>) -> PyResult<Self> {
        config_call(py, "parse_config", || {
            Config::parse_str(text, file.as_deref())
        })
        .map(|inner| RawConfig { inner })
    }

    /// Sets one key from its text form, as a line of `mtcp.conf` would.
    fn set(&mut self, py: Python<'_>, key: &str, value: &str) -> PyResult<()> {
        let inner = &mut self.inner;
        config_call(py, "setconf", || inner.set(key, value))
    }

    /// The text form of one key's value; `None` for an unknown key.
    fn get(&self, py: Python<'_>, key: &str) -> PyResult<Option<String>> {
        let inner = &self.inner;
        config_call(py, "getconf", || Ok(inner.get(key)))
    }

    /// Checks the cross-field rules; raises `mtcp.ConfigError`.
    fn validate(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        config_call(py, "validate_config", || inner.validate())
    }

    /// Replaces the static ARP table: `[(addr, prefix_len, mac_bytes)]`.
    fn set_arp(&mut self, entries: Vec<(String, u8, Vec<u8>)>) -> PyResult<()> {
        let mut arp = Vec::with_capacity(entries.len());
        for (addr, prefix_len, mac) in entries {
            let mac: [u8; 6] = mac
                .try_into()
                .map_err(|_| PyValueError::new_err("a MAC address has 6 bytes"))?;
            arp.push(ArpEntry {
                dest: cidr(&addr, prefix_len)?,
                mac,
            });
        }
        self.inner.arp = arp;
        Ok(())
    }

    /// Replaces the routing table: `[(addr, prefix_len, iface, gateway_or_None)]`.
    fn set_routes(&mut self, routes: Vec<(String, u8, String, Option<String>)>) -> PyResult<()> {
        let mut table = Vec::with_capacity(routes.len());
        for (addr, prefix_len, iface, gateway) in routes {
            let gateway = match gateway {
                Some(gw) => Some(cidr(&gw, 32)?.addr),
                None => None,
            };
            table.push(Route {
                dest: cidr(&addr, prefix_len)?,
                iface,
                gateway,
            });
        }
        self.inner.routes = table;
        Ok(())
    }

    /// Every field as a typed Python value.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.inner;
        let d = PyDict::new(py);
        d.set_item("io", c.io.name())?;
        d.set_item("num_cores", c.num_cores)?;
        d.set_item("core_mask", c.core_mask)?;
        d.set_item("port", c.port.clone())?;
        d.set_item("max_concurrency", c.max_concurrency)?;
        d.set_item("max_num_buffers", c.max_num_buffers)?;
        d.set_item("rcvbuf", c.rcvbuf)?;
        d.set_item("sndbuf", c.sndbuf)?;
        d.set_item("tcp_timeout", c.tcp_timeout)?;
        d.set_item("tcp_timewait", c.tcp_timewait)?;
        d.set_item("stat_print", c.stat_print.clone())?;
        d.set_item("addr", c.addr.map(|a| a.to_string()))?;
        d.set_item("gateway", c.gateway.map(|g| g.to_string()))?;
        d.set_item("mac", c.mac.map(mac_text))?;
        d.set_item("mtu", c.mtu)?;
        d.set_item(
            "mode",
            match c.mode {
                mtcp::RunMode::Threaded => "threaded",
                mtcp::RunMode::Inline => "inline",
            },
        )?;
        let arp: Vec<(String, String)> = c
            .arp
            .iter()
            .map(|e| (e.dest.to_string(), mac_text(e.mac)))
            .collect();
        d.set_item("arp", arp)?;
        let routes: Vec<(String, String, Option<String>)> = c
            .routes
            .iter()
            .map(|r| {
                (
                    r.dest.to_string(),
                    r.iface.clone(),
                    r.gateway.map(|g| g.to_string()),
                )
            })
            .collect();
        d.set_item("routes", routes)?;
        d.set_item("cc", c.cc.as_str())?;
        d.set_item("tcp_syncookies", c.tcp_syncookies)?;
        // Switches as Linux sysctls are: 0/1 ints, which `Config(**to_dict())` accepts.
        d.set_item("tcp_timestamps", u8::from(c.tcp_timestamps))?;
        d.set_item("tcp_window_scaling", u8::from(c.tcp_window_scaling))?;
        d.set_item("tcp_sack", u8::from(c.tcp_sack))?;
        d.set_item("tcp_recovery", u8::from(c.tcp_recovery))?;
        d.set_item("tcp_frto", c.tcp_frto)?;
        d.set_item("tcp_prr", u8::from(c.tcp_prr))?;
        d.set_item("tcp_retries2", c.tcp_retries2)?;
        d.set_item("tcp_syn_retries", c.tcp_syn_retries)?;
        d.set_item("tcp_challenge_ack_limit", c.tcp_challenge_ack_limit)?;
        d.set_item("tcp_rto_min_ms", c.tcp_rto_min_ms)?;
        d.set_item("tcp_rto_max_ms", c.tcp_rto_max_ms)?;
        d.set_item("tcp_rto_initial_ms", c.tcp_rto_initial_ms)?;
        d.set_item("tcp_delack_ms", c.tcp_delack_ms)?;
        d.set_item("tcp_quickack", c.tcp_quickack)?;
        d.set_item("tcp_hystart", u8::from(c.tcp_hystart))?;
        d.set_item("tcp_pacing", u8::from(c.tcp_pacing))?;
        d.set_item("checksum_offload", u8::from(c.checksum_offload))?;
        d.set_item("dpdk_eal_args", c.dpdk_eal_args.as_str())?;
        d.set_item("xdp_mode", c.xdp_mode.as_str())?;
        d.set_item("xdp_zerocopy", u8::from(c.xdp_zerocopy))?;
        d.set_item(
            "arp_conf",
            c.arp_conf.as_ref().map(|p| p.display().to_string()),
        )?;
        d.set_item(
            "route_conf",
            c.route_conf.as_ref().map(|p| p.display().to_string()),
        )?;
        d.set_item("source", c.source.as_ref().map(|p| p.display().to_string()))?;
        Ok(d)
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        self.clone()
    }

    fn __repr__(&self) -> String {
        format!("RawConfig({:?})", self.inner)
    }
}

/// `parse_config(path) -> dict`: reads an `mtcp.conf` and returns its fields.
#[pyfunction]
pub fn parse_config<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    RawConfig::load(py, path)?.to_dict(py)
}

impl RawConfig {
    /// `validate()` for Rust callers.
    pub(crate) fn validate_inner(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        config_call(py, "validate_config", || inner.validate())
    }
}
