//! Argument conversion: Python values to the runtime's types, checked before any engine call,
//! so bad input raises `TypeError`/`ValueError`/`OverflowError` (as Python's `socket` does) and
//! never reaches the runtime as garbage.
use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddrV4};

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};

/// The most bytes one `write`/`writev` hands to the runtime. The API allows short writes, and
/// copying a caller's multi-megabyte buffer that the send buffer cannot take is wasted work.
pub const MAX_WRITE: usize = 4 << 20;
/// The most bytes one `read`/`recv` asks for (the buffer is allocated before the call).
pub const MAX_READ: usize = 16 << 20;

/// An IPv4 host in dotted-quad form; `""` means `INADDR_ANY`, as in Python's `socket`.
pub fn ipv4(host: &str, what: &str) -> PyResult<Ipv4Addr> {
    if host.is_empty() {
        return Ok(Ipv4Addr::UNSPECIFIED);
    }
    host.parse().map_err(|_| {
        PyValueError::new_err(format!(
            "{what}: {host:?} is not a dotted-quad IPv4 address"
        ))
    })
}

/// `(host, port)` → `SocketAddrV4`.
pub fn sockaddr(addr: &Bound<'_, PyAny>, call: &str) -> PyResult<SocketAddrV4> {
    let tuple = addr.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err(format!(
            "mtcp_{call}(): AF_INET address must be tuple, not {}",
            addr.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    if tuple.len() != 2 {
        return Err(PyTypeError::new_err(format!(
            "mtcp_{call}(): AF_INET address must be a pair (host, port)"
        )));
    }
    let host: String = tuple
        .get_item(0)?
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("mtcp_{call}(): host must be a str")))?;
    let port: i64 = tuple
        .get_item(1)?
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("mtcp_{call}(): port must be an int")))?;
    let port = u16::try_from(port)
        .map_err(|_| PyOverflowError::new_err(format!("mtcp_{call}(): port must be 0-65535.")))?;
    Ok(SocketAddrV4::new(
        ipv4(&host, &format!("mtcp_{call}()"))?,
        port,
    ))
}

/// `SocketAddrV4` → `(host, port)`.
pub fn addr_tuple(addr: SocketAddrV4) -> (String, u16) {
    (addr.ip().to_string(), addr.port())
}

/// At most `cap` bytes of any bytes-like object. `str` and non-buffers raise `TypeError`.
/// `bytes` is immutable, so it is borrowed as it is (the caller holds a reference, and the
/// engine call may run without the GIL); anything else (a `bytearray` another thread may
/// resize, a memoryview, …) is copied while the GIL is held.
pub fn bytes_like<'a>(obj: &'a Bound<'_, PyAny>, cap: usize) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        let data = bytes.as_bytes();
        return Ok(Cow::Borrowed(&data[..data.len().min(cap)]));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        let mut data = array.to_vec();
        data.truncate(cap);
        return Ok(Cow::Owned(data));
    }
    // Any other buffer (memoryview, array.array, mmap, …): go through memoryview, which also
    // gives the right TypeError for str and other non-buffers.
    let py = obj.py();
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))?;
    let nbytes: usize = view.getattr("nbytes")?.extract()?;
    let view = if nbytes > cap && view.getattr("c_contiguous")?.is_truthy()? {
        view.call_method1("cast", ("B",))?
            .get_item(pyo3::types::PySlice::new(py, 0, cap as isize, 1))?
    } else {
        view
    };
    let data = view.call_method0("tobytes")?;
    let data = data.cast::<PyBytes>()?.as_bytes();
    Ok(Cow::Owned(data[..data.len().min(cap)].to_vec()))
}

/// Checks a requested read size: negative raises `ValueError` (as `socket.recv` does); the
/// buffer is capped at [`MAX_READ`] (a read may always return fewer bytes).
pub fn read_size(n: i64, call: &str) -> PyResult<usize> {
    if n < 0 {
        return Err(PyValueError::new_err(format!(
            "mtcp_{call}(): negative buffersize"
        )));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_READ))
}

/// Writes `data` into the start of the writable buffer `buf` (`buf[:len(data)] = data`).
pub fn fill_buffer(buf: &Bound<'_, PyAny>, data: &[u8]) -> PyResult<()> {
    if data.is_empty() {
        return Ok(());
    }
    let py = buf.py();
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((buf,))?;
    let view = view.call_method1("cast", ("B",))?;
    view.set_item(
        pyo3::types::PySlice::new(py, 0, data.len() as isize, 1),
        PyBytes::new(py, data),
    )
}

/// The size in bytes of a writable buffer (`memoryview(buf).nbytes`); read-only buffers raise
/// `TypeError`.
pub fn writable_len(buf: &Bound<'_, PyAny>) -> PyResult<usize> {
    let view = buf
        .py()
        .import("builtins")?
        .getattr("memoryview")?
        .call1((buf,))?;
    if view.getattr("readonly")?.is_truthy()? {
        return Err(PyTypeError::new_err(
            "mtcp_readv(): buffers must be writable (bytearray, memoryview, …)",
        ));
    }
    view.getattr("nbytes")?.extract()
}
