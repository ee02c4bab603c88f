//! TAP devices (Documentation/networking/tuntap.rst): open `/dev/net/tun` and attach to, or
//! create, the TAP interface of a name with `TUNSETIFF`.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::fd::{owned, set_nonblocking};
use super::netdev::{ifreq_ioctl, privilege_error, IfReq};

/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// An Ethernet (layer 2) device rather than a TUN (layer 3) one.
const IFF_TAP: i16 = 0x0002;
/// Frames come and go without the 4-byte packet-information prefix.
const IFF_NO_PI: i16 = 0x1000;
/// Every frame is preceded by a `struct virtio_net_hdr` ([`crate::vnet_hdr`]).
const IFF_VNET_HDR: i16 = 0x4000;
/// One queue of a multi-queue device: each descriptor attached with it is one more queue.
const IFF_MULTI_QUEUE: i16 = 0x0100;
/// `TUNSETOFFLOAD` = `_IOW('T', 208, unsigned int)`: which offloads the reader handles.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `TUN_F_CSUM`: the reader takes frames with unfinished checksums (`NEEDS_CSUM`).
const TUN_F_CSUM: libc::c_ulong = 0x01;
/// `TUN_F_TSO4`: the reader takes IPv4 TCP GSO super-frames (needs `TUN_F_CSUM`).
const TUN_F_TSO4: libc::c_ulong = 0x02;

/// Opens `/dev/net/tun` and attaches to the TAP device `name` (`IFF_TAP | IFF_NO_PI`), which
/// the kernel creates if no interface of that name exists (it then lives as long as the
/// descriptor). Returns a non-blocking descriptor that reads and writes whole frames.
///
/// With `vnet_hdr`, each frame read or written is preceded by a virtio-net header and the
/// device takes frames with unfinished TCP/UDP checksums both ways (`TUN_F_CSUM`): the
/// kernel's checksum offload reaches the stack.
///
/// With `multi_queue` (`IFF_MULTI_QUEUE`) the descriptor is one queue of a multi-queue device:
/// each further open of the same name adds a queue, and the kernel spreads the frames it
/// sends out of the interface over them (Documentation/networking/tuntap.rst, "Multiqueue
/// tuntap interface"). The kernel insists the flag matches how an existing device was made
/// (`ip tuntap add ... multi_queue` or not): a mismatch is EINVAL.
///
/// Errors say what went wrong: PermissionDenied (root or CAP_NET_ADMIN needed), NotFound (no
/// `/dev/net/tun`), ResourceBusy (another process holds the device), InvalidInput (the name is
/// taken by an interface that is not a TAP of the kind asked for, single- or multi-queue).
pub fn open(name: &str, vnet_hdr: bool, multi_queue: bool) -> io::Result<OwnedFd> {
    let mut req = IfReq::new(name)?;
    // SAFETY: the path is a NUL-terminated literal; open returns a new descriptor or -1.
    let fd = owned(unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => io::Error::new(
            io::ErrorKind::NotFound,
            "/dev/net/tun is missing: the kernel needs CONFIG_TUN (modprobe tun)",
        ),
        _ => privilege_error("open /dev/net/tun", "CAP_NET_ADMIN", e),
    })?;
    let flags = IFF_TAP
        | IFF_NO_PI
        | if vnet_hdr { IFF_VNET_HDR } else { 0 }
        | if multi_queue { IFF_MULTI_QUEUE } else { 0 };
    req.data[..2].copy_from_slice(&flags.to_ne_bytes());
    ifreq_ioctl(&fd, TUNSETIFF, &mut req).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("tap '{name}' is in use by another process (EBUSY)"),
        ),
        Some(libc::EINVAL) if multi_queue => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "'{name}' exists but is not a multi-queue TAP device (EINVAL): several contexts \
                 need a TAP made with multi_queue (ip tuntap add dev {name} mode tap multi_queue)"
            ),
        ),
        Some(libc::EINVAL) => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' exists but is not a single-queue TAP device (EINVAL)"),
        ),
        _ => privilege_error(&format!("attach to tap '{name}'"), "CAP_NET_ADMIN", e),
    })?;
    // Always set: offloads outlive the descriptor on a persistent TAP, and a reader without
    // the header must not be sent unfinished checksums a previous reader asked for.
    let offloads = if vnet_hdr { TUN_F_CSUM | TUN_F_TSO4 } else { 0 };
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an integer), not a pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, offloads) };
    super::fd::check(rc).map_err(|e| {
        privilege_error(&format!("set offloads of tap '{name}'"), "CAP_NET_ADMIN", e)
    })?;
    set_nonblocking(&fd)?;
    Ok(fd)
}
