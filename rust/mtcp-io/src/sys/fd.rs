//! File-descriptor primitives shared by the kernel-device backends: non-blocking `read`/`write`
//! of one frame, `poll(2)` for readability, and an `eventfd(2)` used as a doorbell.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Converts a `-1` return into the thread's `errno`.
pub(crate) fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Takes ownership of a descriptor a syscall just returned (or its error).
pub(crate) fn owned(rc: libc::c_int) -> io::Result<OwnedFd> {
    let fd = check(rc)?;
    // SAFETY: `fd` was just returned by a successful syscall that creates a descriptor, so it
    // is open and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets `O_NONBLOCK` on `fd`.
/// `setsockopt(fd, level, name, value)` for a plain-data option value.
pub(crate) fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size passed, which the kernel only reads.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `getsockopt(2)` of a `T` at `level`/`name`: plain data the kernel fills (at most
/// `size_of::<T>()` bytes; what it leaves out keeps `T::default()`).
pub(crate) fn getsockopt<T: Default>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes and `len` is a valid in/out length.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// A non-blocking `sendto(2)` with no data and no address: makes the kernel send what waits
/// on the socket's TX ring (AF_PACKET, AF_XDP).
pub(crate) fn kick_tx(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: a send with no buffer and no address: it only kicks the TX ring.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub(crate) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// One `read(2)` into `buf`: `Ok(Some(n))` for n bytes, `Ok(None)` when nothing is ready
/// (EAGAIN), `Err` for any other failure.
pub(crate) fn read_nonblocking(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) => Ok(None),
        _ => Err(err),
    }
}

/// One `write(2)` of a whole frame (a TAP device takes one frame per write).
pub(crate) fn write_frame(fd: &OwnedFd, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: `frame` is valid for reads of `frame.len()` bytes for the duration of the call.
    let n = unsafe { libc::write(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// What `poll_readable` found ready.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Readable {
    /// The bell descriptor.
    pub(crate) bell: bool,
    /// Any of the data descriptors.
    pub(crate) data: bool,
}

/// `poll(2)` for readability on `bell` and on each data descriptor that is not `None`; waits
/// at most `timeout_ms` (-1: no limit). EINTR reads as "nothing ready".
pub(crate) fn poll_readable(bell: RawFd, data: [Option<RawFd>; 2], timeout_ms: i32) -> Readable {
    let entry = |fd: Option<RawFd>| libc::pollfd {
        // poll(2) ignores entries with a negative descriptor.
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [entry(Some(bell)), entry(data[0]), entry(data[1])];
    // SAFETY: `fds` is an array of 3 initialised pollfd that lives across the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if rc <= 0 {
        return Readable::default();
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
    Readable {
        bell: ready(&fds[0]),
        data: ready(&fds[1]) || ready(&fds[2]),
    }
}

/// An `eventfd(2)` counter: a doorbell another thread can `poll` on.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes integers only and returns a new descriptor or -1.
        let fd = owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(EventFd { fd })
    }

    /// Rings the bell (adds 1 to the counter; a full counter already means "rung").
    pub(crate) fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        let _ = write_frame(&self.fd, &one);
    }

    /// Resets the counter to 0.
    pub(crate) fn drain(&self) {
        let mut value = [0u8; 8];
        let _ = read_nonblocking(&self.fd, &mut value);
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
