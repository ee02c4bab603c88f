//! Turning runtime failures into the Python exceptions of `mtcp.errors`.
//!
//! The classes live in Python (`python/mtcp/errors.py`), as cryptography does it, so docs,
//! pickling and stubs stay ordinary Python; Rust looks the factories up once and calls them.
//! Never `?` a `std::io::Error` into a `PyErr`: PyO3's blanket conversion drops the errno
//! (style-anchors §7). Every call into the runtime also goes through [`guarded`], so a Rust
//! panic surfaces as `mtcp.errors.InternalError` instead of crossing into Python.
use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use mtcp::ConfigError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

/// The errno for an `io::Error` that carries none (the runtime's own validation errors, e.g.
/// `ErrorKind::InvalidInput`): the value Linux would use for that kind, else `EIO`.
fn errno_of_kind(kind: io::ErrorKind) -> i32 {
    use io::ErrorKind as K;
    match kind {
        K::InvalidInput | K::InvalidData => 22, // EINVAL
        K::Unsupported => 95,                   // EOPNOTSUPP
        K::AddrInUse => 98,                     // EADDRINUSE
        K::AddrNotAvailable => 99,              // EADDRNOTAVAIL
        K::ConnectionAborted => 103,            // ECONNABORTED
        K::ConnectionReset => 104,              // ECONNRESET
        K::NotConnected => 107,                 // ENOTCONN
        K::TimedOut => 110,                     // ETIMEDOUT
        K::ConnectionRefused => 111,            // ECONNREFUSED
        K::BrokenPipe => 32,                    // EPIPE
        K::WouldBlock => 11,                    // EAGAIN
        K::AlreadyExists => 17,                 // EEXIST
        K::ResourceBusy => 16,                  // EBUSY
        K::NotFound => 2,                       // ENOENT
        K::PermissionDenied => 13,              // EACCES
        K::Interrupted => 4,                    // EINTR
        K::OutOfMemory => 12,                   // ENOMEM
        _ => 5,                                 // EIO
    }
}

static INTERNAL_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static CONFIG_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ERRNO_TABLE: PyOnceLock<ErrnoTable> = PyOnceLock::new();

/// Errnos below this get a precomputed class and `strerror` text (Linux's highest is 133).
const ERRNO_TABLE_LEN: usize = 134;

/// What `mtcp.errors.error_from_errno` computes per call, computed once: the class for each
/// errno (`ERRNO_CLASSES`, else `MtcpError`) and its `os.strerror` text. A non-blocking loop
/// raises `BlockingIOError` (EAGAIN) on most empty reads, so the raise must be cheap: one
/// message string and one instance, no Python function call, no table lookups in Python.
struct ErrnoTable {
    classes: Vec<Py<PyAny>>,
    strerror: Vec<String>,
    base: Py<PyAny>,
    py_strerror: Py<PyAny>,
    /// Per errno below `ERRNO_TABLE_LEN`: the `"mtcp_<call>: <strerror>"` strings made so far,
    /// by call. Formatting the message was half the cost of an EAGAIN raise. Slots are filled
    /// once and never change, so finding a message takes no lock.
    messages: Vec<OnceLock<Box<CallMessages>>>,
}

/// One errno's messages: `(call, "mtcp_<call>: <strerror>")`, in the order they were made.
type CallMessages = [OnceLock<(Box<str>, Py<PyString>)>; MESSAGES_PER_ERRNO];

/// The most messages [`ErrnoTable`] keeps per errno (there are ~30 calls).
const MESSAGES_PER_ERRNO: usize = 48;

impl ErrnoTable {
    fn load(py: Python<'_>) -> PyResult<Self> {
        let errors = py.import("mtcp.errors")?;
        let by_errno = errors.getattr("ERRNO_CLASSES")?;
        let base = errors.getattr("MtcpError")?;
        let py_strerror = py.import("os")?.getattr("strerror")?;
        let mut classes = Vec::with_capacity(ERRNO_TABLE_LEN);
        let mut strerror = Vec::with_capacity(ERRNO_TABLE_LEN);
        for errno in 0..ERRNO_TABLE_LEN {
            let cls = by_errno.call_method1("get", (errno, &base))?;
            classes.push(cls.unbind());
            strerror.push(py_strerror.call1((errno,))?.extract::<String>()?);
        }
        Ok(ErrnoTable {
            classes,
            strerror,
            base: base.unbind(),
            py_strerror: py_strerror.unbind(),
            messages: (0..ERRNO_TABLE_LEN).map(|_| OnceLock::new()).collect(),
        })
    }

    fn get(py: Python<'_>) -> PyResult<&ErrnoTable> {
        ERRNO_TABLE.get_or_try_init(py, || ErrnoTable::load(py))
    }

    /// The instance `error_from_errno(errno, call, detail)` would return.
    fn error(
        &self,
        py: Python<'_>,
        errno: i32,
        call: &str,
        detail: Option<&str>,
    ) -> PyResult<PyErr> {
        let slot = usize::try_from(errno).ok().filter(|&e| e < ERRNO_TABLE_LEN);
        let Some(e) = slot else {
            let text: String = self.py_strerror.bind(py).call1((errno,))?.extract()?;
            let message = with_detail(format!("mtcp_{call}: {text}"), detail);
            return Ok(PyErr::from_value(
                self.base.bind(py).call1((errno, message))?,
            ));
        };
        let cls = self.classes[e].bind(py);
        if detail.is_some_and(|d| !d.is_empty()) {
            let message = with_detail(format!("mtcp_{call}: {}", self.strerror[e]), detail);
            return Ok(PyErr::from_value(cls.call1((errno, message))?));
        }
        let message = self.message(py, e, call);
        Ok(PyErr::from_value(cls.call1((errno, message))?))
    }

    /// `"mtcp_<call>: <strerror>"` for `errno < ERRNO_TABLE_LEN`, made once per (call, errno).
    fn message<'py>(&self, py: Python<'py>, errno: usize, call: &str) -> Bound<'py, PyString> {
        let known =
            self.messages[errno].get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())));
        let mut made = None;
        for slot in known.iter() {
            if let Some((c, message)) = slot.get() {
                if **c == *call {
                    return message.bind(py).clone();
                }
                continue;
            }
            // The first free slot: keep this call's message there, unless another thread
            // filled it meanwhile (then look at what it holds, and go on).
            let message = made.get_or_insert_with(|| {
                PyString::new(py, &format!("mtcp_{call}: {}", self.strerror[errno])).unbind()
            });
            let (c, kept) = slot.get_or_init(|| (call.into(), message.clone_ref(py)));
            if **c == *call {
                return kept.bind(py).clone();
            }
        }
        // Every slot taken by other calls: make the message each time.
        match made {
            Some(message) => message.into_bound(py),
            None => PyString::new(py, &format!("mtcp_{call}: {}", self.strerror[errno])),
        }
    }
}

/// `message` followed by `" (<detail>)"` when there is a detail.
fn with_detail(message: String, detail: Option<&str>) -> String {
    match detail {
        Some(detail) if !detail.is_empty() => format!("{message} ({detail})"),
        _ => message,
    }
}

fn errors_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("mtcp.errors")?.getattr(name)?.unbind())
    })
    .map(|obj| obj.bind(py))
}

/// The `mtcp.errors` exception for `errno`, with args `(errno, "mtcp_<call>: <strerror>")`:
/// the same instance `mtcp.errors.error_from_errno(errno, call)` returns.
pub fn errno_error(py: Python<'_>, errno: i32, call: &str) -> PyErr {
    errno_error_detail(py, errno, call, None)
}

/// [`errno_error`] with `" (<detail>)"` appended to the message.
pub fn errno_error_detail(py: Python<'_>, errno: i32, call: &str, detail: Option<&str>) -> PyErr {
    match ErrnoTable::get(py).and_then(|table| table.error(py, errno, call, detail)) {
        Ok(err) | Err(err) => err,
    }
}

/// The Python exception for an `io::Error` returned by the runtime from `call`.
pub fn io_error(py: Python<'_>, err: &io::Error, call: &str) -> PyErr {
    match err.raw_os_error() {
        Some(errno) => errno_error(py, errno, call),
        None => errno_error_detail(py, errno_of_kind(err.kind()), call, Some(&err.to_string())),
    }
}

/// `mtcp.ConfigError` (a `ValueError`) carrying `file`, `line` and `key`.
pub fn config_error(py: Python<'_>, err: &ConfigError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("file", err.file.as_ref().map(|p| p.display().to_string()))?;
        kwargs.set_item("line", err.line)?;
        kwargs.set_item("key", err.key.as_deref())?;
        kwargs.set_item("reason", err.message.as_str())?;
        let cls = errors_attr(py, &CONFIG_ERROR, "ConfigError")?;
        Ok(PyErr::from_value(
            cls.call((err.to_string(),), Some(&kwargs))?,
        ))
    };
    build().unwrap_or_else(|e| e)
}

/// `mtcp.errors.InternalError` (a `RuntimeError`) for a panic caught in `call`.
pub fn internal_error(py: Python<'_>, call: &str, payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let msg = format!("mtcp_{call}: internal error in the mtcp runtime (Rust panic: {what})");
    match errors_attr(py, &INTERNAL_ERROR, "InternalError").and_then(|cls| cls.call1((msg,))) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

/// Runs `f` without the GIL (every engine call may wait while the loop thread, working on the
/// engine, runs it), catching panics, and maps its `io::Error` to the
/// `mtcp.errors` class for its errno. `call` is the mTCP name without the `mtcp_` prefix.
pub fn guarded<T, F>(py: Python<'_>, call: &str, f: F) -> PyResult<T>
where
    F: Send + FnOnce() -> io::Result<T>,
    T: Send,
{
    match py.detach(move || catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(io_error(py, &err, call)),
        Err(payload) => Err(internal_error(py, call, payload.as_ref())),
    }
}

/// [`guarded`] keeping the GIL: for calls that never wait for an event (a non-blocking read,
/// write, accept, a poll), where releasing and retaking the GIL costs more than the call.
pub fn guarded_nowait<T, F>(py: Python<'_>, call: &str, f: F) -> PyResult<T>
where
    F: FnOnce() -> io::Result<T>,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(io_error(py, &err, call)),
        Err(payload) => Err(internal_error(py, call, payload.as_ref())),
    }
}

/// Like [`guarded`] for calls that cannot fail with an errno.
pub fn guarded_infallible<T, F>(py: Python<'_>, call: &str, f: F) -> PyResult<T>
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    guarded(py, call, move || Ok(f()))
}

/// Runs a configuration call (quick, no engine lock: the GIL is kept), catching panics.
pub fn config_call<T>(
    py: Python<'_>,
    call: &str,
    f: impl FnOnce() -> Result<T, ConfigError>,
) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(config_error(py, &err)),
        Err(payload) => Err(internal_error(py, call, payload.as_ref())),
    }
}
