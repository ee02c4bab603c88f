//! `_mtcp.Network`: the deterministic simulated network (API.md §4).
use std::net::Ipv4Addr;
use std::path::PathBuf;

use mtcp::sim::{Impairments, Network};
use mtcp_proto::Duration;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::RawConfig;
use crate::errors::{guarded, guarded_infallible};
use crate::stack::PyStack;

/// Virtual time advanced per uninterrupted slice of `run` without `until`; Python's signal
/// handlers run between slices so Ctrl-C stops a long simulation.
const RUN_SLICE_US: u64 = 10_000;
/// `until` callbacks between two signal checks.
const SIGNAL_CHECK_EVERY: u32 = 256;

/// A simulated Ethernet segment joining hosts, driven by `run`/`step` in virtual time.
#[pyclass(module = "mtcp._mtcp", name = "Network", frozen)]
pub struct PyNetwork {
    inner: Network,
}

fn probability(name: &str, p: f64) -> PyResult<f64> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(PyValueError::new_err(format!(
            "{name} must be a probability in [0, 1], not {p}"
        )))
    }
}

/// Impairment overrides given as keyword arguments; `None` keeps the base value.
#[derive(Default)]
struct Overrides {
    loss: Option<f64>,
    reorder: Option<f64>,
    duplicate: Option<f64>,
    corrupt: Option<f64>,
    delay_us: Option<u64>,
    jitter_us: Option<u64>,
    /// `Some(None)`: unlimited.
    rate_bps: Option<Option<u64>>,
    queue_bytes: Option<usize>,
    mtu: Option<usize>,
}

impl Overrides {
    /// `base` with the overrides applied, checked (fields the binding does not know, such as
    /// new runtime knobs, keep their `base` values).
    fn apply(self, base: Impairments) -> PyResult<Impairments> {
        let mut imp = base;
        if let Some(p) = self.loss {
            imp.loss = probability("loss", p)?;
        }
        if let Some(p) = self.reorder {
            imp.reorder = probability("reorder", p)?;
        }
        if let Some(p) = self.duplicate {
            imp.duplicate = probability("duplicate", p)?;
        }
        if let Some(p) = self.corrupt {
            imp.corrupt = probability("corrupt", p)?;
        }
        if let Some(v) = self.delay_us {
            imp.delay_us = v;
        }
        if let Some(v) = self.jitter_us {
            imp.jitter_us = v;
        }
        if let Some(rate) = self.rate_bps {
            if rate == Some(0) {
                return Err(PyValueError::new_err(
                    "rate_bps must be positive (None: unlimited)",
                ));
            }
            imp.rate_bps = rate;
        }
        if let Some(v) = self.queue_bytes {
            imp.queue_bytes = v;
        }
        if let Some(mtu) = self.mtu {
            if !(68..=65535).contains(&mtu) {
                return Err(PyValueError::new_err(format!(
                    "mtu must be in 68..=65535, not {mtu}"
                )));
            }
            imp.mtu = mtu;
        }
        Ok(imp)
    }
}

/// `rate_bps` keyword: absent (keep), `None` (unlimited) or an int.
fn rate_override(rate_bps: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Option<u64>>> {
    match rate_bps {
        None => Ok(None),
        Some(obj) if obj.is_none() => Ok(Some(None)),
        Some(obj) => Ok(Some(Some(obj.extract()?))),
    }
}

fn duration_ms(max_ms: f64) -> PyResult<Duration> {
    if !(max_ms.is_finite() && max_ms >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "max_ms must be a finite number >= 0, not {max_ms}"
        )));
    }
    // Saturating float→int conversion: absurdly long runs become "as long as possible".
    Ok(Duration::from_micros((max_ms * 1000.0).round() as u64))
}

#[pymethods]
impl PyNetwork {
    /// A network with the runtime's default impairments, changed by the given keywords.
    #[new]
    #[pyo3(signature = (seed=7, *, loss=None, reorder=None, duplicate=None, corrupt=None,
                        delay_us=None, jitter_us=None, rate_bps=None, queue_bytes=None, mtu=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        seed: u64,
        loss: Option<f64>,
        reorder: Option<f64>,
        duplicate: Option<f64>,
        corrupt: Option<f64>,
        delay_us: Option<u64>,
        jitter_us: Option<u64>,
        rate_bps: Option<&Bound<'_, PyAny>>,
        queue_bytes: Option<usize>,
        mtu: Option<usize>,
    ) -> PyResult<Self> {
        let overrides = Overrides {
            loss,
            reorder,
            duplicate,
            corrupt,
            delay_us,
            jitter_us,
            rate_bps: rate_override(rate_bps)?,
            queue_bytes,
            mtu,
        };
        let imp = overrides.apply(Impairments::default())?;
        guarded_infallible(py, "sim_network", move || Network::new(seed, imp))
            .map(|inner| PyNetwork { inner })
    }

    /// Adds a host at `addr` with `config` (its `io` is set to `sim` by the network).
    fn add_host(
        &self,
        py: Python<'_>,
        addr: &str,
        config: PyRef<'_, RawConfig>,
    ) -> PyResult<PyStack> {
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            PyValueError::new_err(format!("{addr:?} is not a dotted-quad IPv4 address"))
        })?;
        let config = config.inner.clone();
        let net = &self.inner;
        guarded(py, "sim_add_host", move || net.add_host(addr, config))
            .map(|inner| PyStack { inner })
    }

    /// Processes the next event; `False` when nothing is pending.
    fn step(&self, py: Python<'_>) -> PyResult<bool> {
        let net = &self.inner;
        guarded_infallible(py, "sim_step", || net.step())
    }

    /// Runs until `until()` is true or `max_ms` of virtual time passed; returns whether
    /// `until` became true (always `False` without `until`). An exception raised by `until`
    /// stops the run and propagates.
    #[pyo3(signature = (until=None, max_ms=10_000.0))]
    fn run(&self, py: Python<'_>, until: Option<Py<PyAny>>, max_ms: f64) -> PyResult<bool> {
        let max = duration_ms(max_ms)?;
        let net = &self.inner;
        let Some(until) = until else {
            let mut left = max.total_micros();
            while left > 0 {
                let slice = left.min(RUN_SLICE_US);
                guarded_infallible(py, "sim_run", || net.run_for(Duration::from_micros(slice)))?;
                left -= slice;
                py.check_signals()?;
            }
            return Ok(false);
        };
        if !until.bind(py).is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "until must be callable",
            ));
        }
        let mut failure: Option<PyErr> = None;
        let mut calls: u32 = 0;
        let failure_ref = &mut failure;
        let done = guarded_infallible(py, "sim_run", || {
            let mut check = || -> bool {
                Python::attach(|py| {
                    calls = calls.wrapping_add(1);
                    if calls % SIGNAL_CHECK_EVERY == 0 {
                        if let Err(err) = py.check_signals() {
                            *failure_ref = Some(err);
                            return true;
                        }
                    }
                    match until.bind(py).call0().and_then(|r| r.is_truthy()) {
                        Ok(done) => done,
                        Err(err) => {
                            *failure_ref = Some(err);
                            true
                        }
                    }
                })
            };
            net.run_until(max, &mut check)
        })?;
        match failure {
            Some(err) => Err(err),
            None => Ok(done),
        }
    }

    /// Changes the given impairments mid-run; the others keep their current values.
    #[pyo3(signature = (*, loss=None, reorder=None, duplicate=None, corrupt=None,
                        delay_us=None, jitter_us=None, rate_bps=None, queue_bytes=None, mtu=None))]
    #[allow(clippy::too_many_arguments)]
    fn configure(
        &self,
        py: Python<'_>,
        loss: Option<f64>,
        reorder: Option<f64>,
        duplicate: Option<f64>,
        corrupt: Option<f64>,
        delay_us: Option<u64>,
        jitter_us: Option<u64>,
        rate_bps: Option<&Bound<'_, PyAny>>,
        queue_bytes: Option<usize>,
        mtu: Option<usize>,
    ) -> PyResult<()> {
        let overrides = Overrides {
            loss,
            reorder,
            duplicate,
            corrupt,
            delay_us,
            jitter_us,
            rate_bps: rate_override(rate_bps)?,
            queue_bytes,
            mtu,
        };
        let net = &self.inner;
        let current = guarded_infallible(py, "sim_impairments", || net.impairments())?;
        let imp = overrides.apply(current)?;
        guarded_infallible(py, "sim_configure", move || net.configure(imp))
    }

    /// The current impairments as a dict.
    fn impairments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let net = &self.inner;
        let imp = guarded_infallible(py, "sim_impairments", || net.impairments())?;
        let d = PyDict::new(py);
        d.set_item("loss", imp.loss)?;
        d.set_item("reorder", imp.reorder)?;
        d.set_item("duplicate", imp.duplicate)?;
        d.set_item("corrupt", imp.corrupt)?;
        d.set_item("delay_us", imp.delay_us)?;
        d.set_item("jitter_us", imp.jitter_us)?;
        d.set_item("rate_bps", imp.rate_bps)?;
        d.set_item("queue_bytes", imp.queue_bytes)?;
        d.set_item("mtu", imp.mtu)?;
        Ok(d)
    }

    /// Virtual time in microseconds.
    #[getter]
    fn now_us(&self, py: Python<'_>) -> PyResult<u64> {
        let net = &self.inner;
        guarded_infallible(py, "sim_now", || net.now().total_micros())
    }

    /// Writes every frame from now on to a pcap file at `path`.
    fn capture(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let net = &self.inner;
        guarded(py, "sim_capture", || net.capture(&path))
    }
}
