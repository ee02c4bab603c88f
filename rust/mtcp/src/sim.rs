//! The simulated network (API.md §4): hosts on one Ethernet segment with seeded impairments
//! and a virtual clock. Deterministic: the same seed and the same calls give the same frames,
//! byte for byte. Nothing moves except inside [`Network::step`], [`Network::run_until`] and
//! [`Network::run_for`].
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use mtcp_io::sim::SimFabric;
pub use mtcp_io::sim::{Impairments, SimStats};
use mtcp_io::Port;
use mtcp_proto::{Duration, Instant};

use crate::clock::Clock;
use crate::config::{IoKind, Ipv4Cidr};
use crate::{Config, Stack};

/// Steps taken at one instant before `run_until` concludes nothing can progress.
const MAX_STEPS_WITHOUT_TIME: u32 = 1_000_000;

struct NetworkInner {
    fabric: SimFabric,
    seed: u64,
    hosts: Mutex<Vec<Stack>>,
}

/// A simulated Ethernet segment joining hosts. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<NetworkInner>,
}

impl Network {
    /// A network with the given seed and impairments (the same on every link and direction
    /// unless changed with [`Network::fabric`]'s per-direction settings).
    pub fn new(seed: u64, impairments: Impairments) -> Network {
        Network {
            inner: Arc::new(NetworkInner {
                fabric: SimFabric::new(seed, impairments),
                seed,
                hosts: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Adds a host with address `addr` (prefix /15 unless `config.addr` gives another prefix):
    /// a stack whose contexts are driven by this network.
    pub fn add_host(&self, addr: Ipv4Addr, config: Config) -> io::Result<Stack> {
        let mut config = config;
        let prefix_len = config.addr.map_or(15, |a| a.prefix_len);
        config.addr = Some(Ipv4Cidr { addr, prefix_len });
        config.io = IoKind::Sim;
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut hosts = self.inner.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if hosts.iter().any(|h| h.addr() == addr) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        }
        let ports = self
            .inner
            .fabric
            .attach(config.effective_mac(), config.num_cores);
        let queues = ports
            .into_iter()
            .map(|p| Port::Boxed(Box::new(p)))
            .collect();
        let seed = self.inner.seed ^ (hosts.len() as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let stack = Stack::from_parts(
            config,
            queues,
            Clock::Virtual(self.inner.fabric.clone()),
            seed,
        );
        hosts.push(stack.clone());
        Ok(stack)
    }

    fn contexts(&self) -> Vec<Arc<crate::context::ContextInner>> {
        let hosts = self.inner.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.iter().flat_map(Stack::contexts).collect()
    }

    /// The next instant something happens: a frame arrives, a timer is due, or a context has
    /// work queued by an API call (now).
    fn next_event(&self, contexts: &[Arc<crate::context::ContextInner>]) -> Option<Instant> {
        let now = self.now();
        let mut next = self.inner.fabric.next_event().map(Instant::from_micros);
        for ctx in contexts {
            let due = ctx.with_engine(|engine| {
                if engine.core.has_work() {
                    Some(now)
                } else {
                    engine.core.next_deadline().map(|d| d.max(now))
                }
            });
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    fn advance(&self, t: Instant, contexts: &[Arc<crate::context::ContextInner>]) {
        self.inner.fabric.advance_to(t.total_micros());
        for ctx in contexts {
            ctx.with_engine(|engine| {
                engine.poll(t);
                engine.core.take_wakeup();
            });
        }
    }

    /// Advances to the next event and processes it; false when nothing is pending at all.
    pub fn step(&self) -> bool {
        let contexts = self.contexts();
        let stepped = match self.next_event(&contexts) {
            Some(t) => {
                self.advance(t, &contexts);
                true
            }
            None => false,
        };
        // Frames the contexts sent after the clock last moved are in the capture file too.
        self.inner.fabric.flush_capture();
        stepped
    }

    /// Runs until `until()` is true (checked before each step) or `max` of virtual time has
    /// passed; returns whether `until` became true.
    pub fn run_until(&self, max: Duration, until: &mut dyn FnMut() -> bool) -> bool {
        let done = self.drive(max, until);
        // Frames the contexts sent after the clock last moved are in the capture file too.
        self.inner.fabric.flush_capture();
        done
    }

    fn drive(&self, max: Duration, until: &mut dyn FnMut() -> bool) -> bool {
        let end = self.now() + max;
        let mut last = self.now();
        let mut same_time = 0u32;
        loop {
            if until() {
                return true;
            }
            let contexts = self.contexts();
            match self.next_event(&contexts) {
                Some(t) if t <= end => {
                    if t == last {
                        same_time += 1;
                        if same_time > MAX_STEPS_WITHOUT_TIME {
                            return until();
                        }
                    } else {
                        same_time = 0;
                        last = t;
                    }
                    self.advance(t, &contexts);
                }
                _ => {
                    self.advance(end, &contexts);
                    return until();
                }
            }
        }
    }

    /// Advances virtual time by `d`, processing everything due.
    pub fn run_for(&self, d: Duration) {
        self.run_until(d, &mut || false);
    }

    /// Changes the impairments from now on (e.g. `loss = 1.0`: a cut cable).
    pub fn configure(&self, impairments: Impairments) {
        self.inner.fabric.configure(impairments);
    }

    /// The current impairments.
    pub fn impairments(&self) -> Impairments {
        self.inner.fabric.impairments()
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.inner.fabric.now())
    }

    /// Writes every frame from now on to a pcap file at `path`.
    pub fn capture(&self, path: &Path) -> io::Result<()> {
        self.inner.fabric.capture(path)
    }

    /// Counters of the segment (frames sent, lost, duplicated, …).
    pub fn stats(&self) -> SimStats {
        self.inner.fabric.stats()
    }

    /// The underlying fabric, for per-direction impairments and scripted drops.
    pub fn fabric(&self) -> &SimFabric {
        &self.inner.fabric
    }
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.inner.seed)
            .field("now", &self.now())
            .finish()
    }
}
