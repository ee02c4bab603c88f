//! `_mtcp.Context`: one core's engine, every mTCP call as a method (sockids are ints).
//! The Pythonic layer (`mtcp.Context.socket()` → `mtcp.Socket`, …) is in `python/mtcp`.
use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use mtcp::{ContextStats, SockId};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{
    addr_tuple, bytes_like, fill_buffer, ipv4, read_size, sockaddr, writable_len, MAX_WRITE,
};
use crate::errors::{errno_error, guarded, guarded_infallible, guarded_nowait};

/// How long one uninterrupted `epoll_wait` lasts before Python's signal handlers get a turn.
const EPOLL_SLICE_MS: i32 = 50;
/// `EINVAL`, for arguments rejected before the runtime sees them.
const EINVAL: i32 = 22;

/// Reads up to this many bytes through the per-thread scratch buffer; a larger request gets
/// a buffer of its own (and the scratch never holds more than this per thread).
const SCRATCH_MAX: usize = 1 << 20;

/// The most events the per-thread `epoll_wait` list keeps room for between calls.
const EVENTS_KEEP: usize = 4096;

thread_local! {
    /// Where `read`/`recv` let the engine copy to before the one `bytes` object is made: a
    /// `bytes` cannot be shrunk under the stable ABI, and allocating (and zeroing) a buffer
    /// of the requested size per call costs far more than the 64 B an RPC reads.
    static READ_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// `epoll_wait`'s event list, reused by each call on this thread (up to `EVENTS_KEEP`).
    static EVENTS: RefCell<Vec<(SockId, u32)>> = const { RefCell::new(Vec::new()) };
}

/// One core's TCP engine (mTCP's `mctx_t`).
#[pyclass(module = "mtcp._mtcp", name = "Context", frozen)]
pub struct PyContext {
    pub(crate) inner: mtcp::Context,
    /// Calls release the GIL while they run. Yes when the context has a loop thread
    /// (`mode = threaded`), which may be working on the engine, so a call may wait for it to
    /// run the call (mtcp's `Combiner`); and when the stack has several contexts (`num_cores > 1`), so that Python
    /// threads driving different contexts run their engines in parallel. Otherwise (one inline
    /// or simulated context) a call that cannot wait for an event keeps the GIL: releasing and
    /// retaking it costs more than a 64 B read.
    pub(crate) release_gil: bool,
}

/// Counters of one context (`Context.stats()`).
#[pyclass(module = "mtcp._mtcp", name = "ContextStats", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub struct PyContextStats {
    rx_frames: u64,
    tx_frames: u64,
    rx_bytes: u64,
    tx_bytes: u64,
    connections_opened: u64,
    flows: u64,
    sockets_in_use: u64,
    retransmits: u64,
    drops: u64,
    rx_malformed: u64,
    rx_bad_checksum: u64,
    rx_fragments: u64,
    rx_steered: u64,
}

impl From<ContextStats> for PyContextStats {
    fn from(s: ContextStats) -> Self {
        PyContextStats {
            rx_frames: s.rx_frames,
            tx_frames: s.tx_frames,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            connections_opened: s.connections_opened,
            flows: s.flows,
            sockets_in_use: s.sockets_in_use,
            retransmits: s.retransmits,
            drops: s.drops,
            rx_malformed: s.rx_malformed,
            rx_bad_checksum: s.rx_bad_checksum,
            rx_fragments: s.rx_fragments,
            rx_steered: s.rx_steered,
        }
    }
}

impl PyContextStats {
    fn fields(&self) -> [(&'static str, u64); 13] {
        [
            ("rx_frames", self.rx_frames),
            ("tx_frames", self.tx_frames),
            ("rx_bytes", self.rx_bytes),
            ("tx_bytes", self.tx_bytes),
            ("connections_opened", self.connections_opened),
            ("flows", self.flows),
            ("sockets_in_use", self.sockets_in_use),
            ("retransmits", self.retransmits),
            ("drops", self.drops),
            ("rx_malformed", self.rx_malformed),
            ("rx_bad_checksum", self.rx_bad_checksum),
            ("rx_fragments", self.rx_fragments),
            ("rx_steered", self.rx_steered),
        ]
    }
}

#[pymethods]
impl PyContextStats {
    /// The counters as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.fields() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let body: Vec<String> = self
            .fields()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("ContextStats({})", body.join(", "))
    }
}

#[pymethods]
impl PyContext {
    /// The core this context runs on.
    fn core(&self, py: Python<'_>) -> PyResult<usize> {
        let ctx = &self.inner;
        guarded_infallible(py, "core", || ctx.core())
    }

    fn socket(&self, py: Python<'_>, domain: i32, r#type: i32, protocol: i32) -> PyResult<SockId> {
        let ctx = &self.inner;
        self.call(py, "socket", || ctx.socket(domain, r#type, protocol))
    }

    fn bind(&self, py: Python<'_>, sockid: SockId, addr: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = sockaddr(addr, "bind")?;
        let ctx = &self.inner;
        self.call(py, "bind", || ctx.bind(sockid, addr))
    }

    fn listen(&self, py: Python<'_>, sockid: SockId, backlog: i32) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "listen", || ctx.listen(sockid, backlog))
    }

    fn accept(&self, py: Python<'_>, sockid: SockId) -> PyResult<(SockId, (String, u16))> {
        let ctx = &self.inner;
        let (id, peer) = self.call(py, "accept", || ctx.accept(sockid))?;
        Ok((id, addr_tuple(peer)))
    }

    fn connect(&self, py: Python<'_>, sockid: SockId, addr: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = sockaddr(addr, "connect")?;
        let ctx = &self.inner;
        self.call(py, "connect", || ctx.connect(sockid, addr))
    }

    fn read<'py>(&self, py: Python<'py>, sockid: SockId, n: i64) -> PyResult<Bound<'py, PyBytes>> {
        let ctx = &self.inner;
        self.read_bytes(py, "read", n, |buf| ctx.read(sockid, buf))
    }

    #[pyo3(signature = (sockid, n, flags=0))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        sockid: SockId,
        n: i64,
        flags: i32,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ctx = &self.inner;
        self.read_bytes(py, "recv", n, |buf| ctx.recv(sockid, buf, flags))
    }

    /// Fills the writable `buffers` in order; returns the bytes read.
    fn readv(
        &self,
        py: Python<'_>,
        sockid: SockId,
        buffers: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let sizes = buffers
            .iter()
            .map(writable_len)
            .collect::<PyResult<Vec<usize>>>()?;
        // Bounded like `read` (a short read is allowed): later buffers get what is left.
        let mut chunks: Vec<Vec<u8>> = sizes
            .iter()
            .scan(crate::convert::MAX_READ, |left, &n| {
                let take = n.min(*left);
                *left -= take;
                Some(vec![0u8; take])
            })
            .collect();
        let ctx = &self.inner;
        let got = self.call(py, "readv", || {
            let mut slices: Vec<&mut [u8]> = chunks.iter_mut().map(Vec::as_mut_slice).collect();
            ctx.readv(sockid, &mut slices)
        })?;
        let mut left = got;
        for (buf, chunk) in buffers.iter().zip(&chunks) {
            if left == 0 {
                break;
            }
            let n = left.min(chunk.len());
            fill_buffer(buf, &chunk[..n])?;
            left -= n;
        }
        Ok(got)
    }

    fn write(&self, py: Python<'_>, sockid: SockId, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let data = bytes_like(data, MAX_WRITE)?;
        let ctx = &self.inner;
        self.call(py, "write", || ctx.write(sockid, &data))
    }

    fn writev(
        &self,
        py: Python<'_>,
        sockid: SockId,
        buffers: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let mut left = MAX_WRITE;
        let mut owned = Vec::with_capacity(buffers.len());
        for buf in &buffers {
            let data = bytes_like(buf, left)?;
            left -= data.len();
            owned.push(data);
        }
        let ctx = &self.inner;
        self.call(py, "writev", || {
            let slices: Vec<&[u8]> = owned.iter().map(AsRef::as_ref).collect();
            ctx.writev(sockid, &slices)
        })
    }

    fn shutdown(&self, py: Python<'_>, sockid: SockId, how: i32) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "shutdown", || ctx.shutdown(sockid, how))
    }

    fn close(&self, py: Python<'_>, sockid: SockId) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "close", || ctx.close(sockid))
    }

    fn abort(&self, py: Python<'_>, sockid: SockId) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "abort", || ctx.abort(sockid))
    }

    fn getsockopt(
        &self,
        py: Python<'_>,
        sockid: SockId,
        level: i32,
        optname: i32,
    ) -> PyResult<i32> {
        let ctx = &self.inner;
        self.call(py, "getsockopt", || ctx.getsockopt(sockid, level, optname))
    }

    fn setsockopt(
        &self,
        py: Python<'_>,
        sockid: SockId,
        level: i32,
        optname: i32,
        value: i32,
    ) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "setsockopt", || {
            ctx.setsockopt(sockid, level, optname, value)
        })
    }

    fn getsockname(&self, py: Python<'_>, sockid: SockId) -> PyResult<(String, u16)> {
        let ctx = &self.inner;
        self.call(py, "getsockname", || ctx.getsockname(sockid))
            .map(addr_tuple)
    }

    fn getpeername(&self, py: Python<'_>, sockid: SockId) -> PyResult<(String, u16)> {
        let ctx = &self.inner;
        self.call(py, "getpeername", || ctx.getpeername(sockid))
            .map(addr_tuple)
    }

    fn socket_ioctl(&self, py: Python<'_>, sockid: SockId, request: i32) -> PyResult<i32> {
        let ctx = &self.inner;
        self.call(py, "socket_ioctl", || ctx.socket_ioctl(sockid, request))
    }

    fn setsock_nonblock(&self, py: Python<'_>, sockid: SockId) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "setsock_nonblock", || ctx.setsock_nonblock(sockid))
    }

    fn epoll_create(&self, py: Python<'_>, size: i32) -> PyResult<SockId> {
        let ctx = &self.inner;
        self.call(py, "epoll_create", || ctx.epoll_create(size))
    }

    fn epoll_ctl(
        &self,
        py: Python<'_>,
        epid: SockId,
        op: i32,
        sockid: SockId,
        events: u32,
    ) -> PyResult<()> {
        let ctx = &self.inner;
        self.call(py, "epoll_ctl", || ctx.epoll_ctl(epid, op, sockid, events))
    }

    /// Waits up to `timeout_ms` (negative: forever; 0: poll). Waits in slices of
    /// `EPOLL_SLICE_MS` without the GIL and runs Python's signal handlers between them, so
    /// Ctrl-C interrupts an infinite wait.
    fn epoll_wait<'py>(
        &self,
        py: Python<'py>,
        epid: SockId,
        maxevents: i32,
        timeout_ms: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        // Taken out of the thread-local (not borrowed) so a signal handler that calls
        // `epoll_wait` on this thread finds an empty list of its own, not a RefCell panic.
        let mut out = EVENTS.take();
        out.clear();
        let waited = self.wait_events(py, epid, maxevents, timeout_ms, &mut out);
        let list = waited.and_then(|()| PyList::new(py, out.iter().copied()));
        if out.capacity() <= EVENTS_KEEP {
            EVENTS.set(out);
        }
        list
    }

    fn init_rss(
        &self,
        py: Python<'_>,
        saddr: &str,
        num_addrs: i32,
        daddr: &str,
        dport: u16,
    ) -> PyResult<()> {
        let saddr: Ipv4Addr = ipv4(saddr, "mtcp_init_rss()")?;
        let daddr: Ipv4Addr = ipv4(daddr, "mtcp_init_rss()")?;
        let ctx = &self.inner;
        guarded(py, "init_rss", || {
            ctx.init_rss(saddr, num_addrs, daddr, dport)
        })
    }

    fn pipe(&self, py: Python<'_>) -> PyResult<(SockId, SockId)> {
        let ctx = &self.inner;
        self.call(py, "pipe", || ctx.pipe())
    }

    fn stats(&self, py: Python<'_>) -> PyResult<PyContextStats> {
        let ctx = &self.inner;
        guarded_infallible(py, "stats", || ctx.stats()).map(PyContextStats::from)
    }

    /// Stops the context and closes its sockets (`mtcp_destroy_context`).
    fn destroy(&self, py: Python<'_>) -> PyResult<()> {
        let ctx = &self.inner;
        guarded_infallible(py, "destroy_context", || ctx.destroy())
    }
}

impl PyContext {
    /// Runs `f`, an engine call that never waits for an event, through [`guarded`] (GIL
    /// released) when `release_gil` says so, else [`guarded_nowait`].
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        call: &str,
        f: impl Send + FnOnce() -> std::io::Result<T>,
    ) -> PyResult<T> {
        if self.release_gil {
            guarded(py, call, f)
        } else {
            guarded_nowait(py, call, f)
        }
    }

    /// `read`/`recv`: lets `fill` (the engine call, run without the GIL) fill a buffer of up to
    /// `n` bytes and returns what it read as `bytes`, allocated once, of the exact size.
    fn read_bytes<'py>(
        &self,
        py: Python<'py>,
        call: &str,
        n: i64,
        fill: impl Send + FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let n = read_size(n, call)?;
        if n > SCRATCH_MAX {
            let mut buf = vec![0u8; n];
            let got = self.call(py, call, || fill(&mut buf))?;
            return Ok(PyBytes::new(py, &buf[..got.min(n)]));
        }
        let got = self.call(py, call, || {
            READ_SCRATCH.with_borrow_mut(|scratch| {
                if scratch.len() < n {
                    scratch.resize(n, 0);
                }
                fill(&mut scratch[..n])
            })
        })?;
        Ok(READ_SCRATCH.with_borrow(|scratch| PyBytes::new(py, &scratch[..got.min(n)])))
    }

    /// `epoll_wait` into `out`: waits in slices of `EPOLL_SLICE_MS` without the GIL and runs
    /// Python's signal handlers between them, so Ctrl-C interrupts an infinite wait. A poll
    /// (`timeout_ms == 0`) is one engine call and reads no clock here.
    fn wait_events(
        &self,
        py: Python<'_>,
        epid: SockId,
        maxevents: i32,
        timeout_ms: i32,
        out: &mut Vec<(SockId, u32)>,
    ) -> PyResult<()> {
        let ctx = &self.inner;
        if timeout_ms == 0 {
            self.call(py, "epoll_wait", || ctx.epoll_wait(epid, out, maxevents, 0))?;
            return Ok(());
        }
        let deadline = (timeout_ms > 0).then(|| {
            Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0))
        });
        loop {
            let slice = match deadline {
                None => EPOLL_SLICE_MS,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    // Round up so a 1 µs remainder is not turned into a busy poll.
                    let left_ms = left.as_micros().div_ceil(1000);
                    i32::try_from(left_ms)
                        .unwrap_or(i32::MAX)
                        .min(EPOLL_SLICE_MS)
                }
            };
            let n = guarded(py, "epoll_wait", || {
                ctx.epoll_wait(epid, out, maxevents, slice)
            })?;
            if n > 0 || !out.is_empty() || slice == 0 {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            py.check_signals()?;
        }
    }
}

/// `mtcp.errors` exception for an argument the binding rejects with an errno (e.g. a negative
/// core number).
pub fn einval(py: Python<'_>, call: &str) -> PyErr {
    errno_error(py, EINVAL, call)
}
