//! `_mtcp.Stack`: a configured stack; creates one context per core.
use pyo3::prelude::*;

use crate::config::RawConfig;
use crate::context::{einval, PyContext};
use crate::errors::{guarded, guarded_infallible};

/// A TCP/IP stack on one port (`mtcp_init`).
#[pyclass(module = "mtcp._mtcp", name = "Stack", frozen)]
pub struct PyStack {
    pub(crate) inner: mtcp::Stack,
}

#[pymethods]
impl PyStack {
    /// Validates `config` and starts the stack; config errors raise `mtcp.ConfigError`,
    /// failures of the port raise `mtcp.MtcpError` naming `mtcp_init`.
    #[new]
    fn new(py: Python<'_>, config: PyRef<'_, RawConfig>) -> PyResult<Self> {
        config.validate_inner(py)?;
        let config = config.inner.clone();
        guarded(py, "init", move || mtcp::Stack::new(config)).map(|inner| PyStack { inner })
    }

    /// `mtcp_create_context(core)`.
    fn create_context(&self, py: Python<'_>, core: i64) -> PyResult<PyContext> {
        let Ok(core) = usize::try_from(core) else {
            return Err(einval(py, "create_context"));
        };
        let stack = &self.inner;
        // As `Stack::create_context` decides: a simulated host never has a loop thread. With
        // several contexts, calls let the other contexts' Python threads run meanwhile.
        let config = stack.config();
        let release_gil = config.io != mtcp::IoKind::Sim
            && (config.mode == mtcp::RunMode::Threaded || config.num_cores > 1);
        guarded(py, "create_context", || stack.create_context(core))
            .map(|inner| PyContext { inner, release_gil })
    }

    /// The configuration the stack runs with.
    fn config(&self, py: Python<'_>) -> PyResult<RawConfig> {
        let stack = &self.inner;
        guarded_infallible(py, "getconf", || stack.config()).map(|inner| RawConfig { inner })
    }

    /// Stops every context (`mtcp_destroy`).
    fn destroy(&self, py: Python<'_>) -> PyResult<()> {
        let stack = &self.inner;
        guarded_infallible(py, "destroy", || stack.destroy())
    }
}
