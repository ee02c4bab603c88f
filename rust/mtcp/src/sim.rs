//! The simulated network: deterministic, seeded, virtual clock (API.md §4).
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

pub use mtcp_io::sim::Impairments;
use mtcp_proto::{Duration, Instant};

use crate::{Config, Stack};

/// A simulated Ethernet segment joining hosts. Nothing moves except inside `run`/`step`.
#[derive(Clone)]
pub struct Network {
    pub(crate) _todo: (),
}

#[allow(missing_docs)]
impl Network {
    pub fn new(seed: u64, impairments: Impairments) -> Network {
        let _ = (seed, impairments);
        todo!()
    }
    /// Adds a host with address `addr` (prefix /15 unless `config.addr` is set): a stack whose
    /// contexts run inline, driven by this network.
    pub fn add_host(&self, addr: Ipv4Addr, config: Config) -> io::Result<Stack> {
        let _ = (addr, config);
        todo!()
    }
    /// Advances to the next event (a frame delivery or a timer); false when nothing is pending.
    pub fn step(&self) -> bool {
        todo!()
    }
    /// Runs until `until()` is true (checked after each step) or `max` of virtual time passed;
    /// returns whether `until` became true.
    pub fn run_until(&self, max: Duration, until: &mut dyn FnMut() -> bool) -> bool {
        let _ = (max, until);
        todo!()
    }
    /// Advances virtual time by `d`, processing everything due.
    pub fn run_for(&self, d: Duration) {
        let _ = d;
        todo!()
    }
    pub fn configure(&self, impairments: Impairments) {
        let _ = impairments;
        todo!()
    }
    pub fn impairments(&self) -> Impairments {
        todo!()
    }
    pub fn now(&self) -> Instant {
        todo!()
    }
    /// Writes every frame from now on to a pcap file at `path`.
    pub fn capture(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        todo!()
    }
}
