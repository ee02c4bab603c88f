//! Network-interface ioctls (netdevice(7)): index, hardware address, MTU, flags and IPv4
//! address of an interface by name, in the caller's network namespace.
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::fd::{check, owned};

/// Longest interface name, with its NUL (`IFNAMSIZ`).
pub const IFNAMSIZ: usize = 16;

// netdevice(7) request numbers (include/uapi/linux/sockios.h).
const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
const SIOCSIFFLAGS: libc::c_ulong = 0x8914;
const SIOCGIFADDR: libc::c_ulong = 0x8915;
const SIOCGIFMTU: libc::c_ulong = 0x8921;
const SIOCGIFHWADDR: libc::c_ulong = 0x8927;
const SIOCGIFINDEX: libc::c_ulong = 0x8933;

/// `struct ifreq`: a name and a 24-byte union (largest member: `struct ifmap`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct IfReq {
    pub(crate) name: [u8; IFNAMSIZ],
    pub(crate) data: [u8; 24],
}

impl IfReq {
    /// An `ifreq` naming `name`. EINVAL when the name is empty, too long or holds a NUL.
    pub(crate) fn new(name: &str) -> io::Result<IfReq> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{name}' is not a valid interface name (1 to 15 bytes)"),
            ));
        }
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            data: [0; 24],
        };
        req.name[..bytes.len()].copy_from_slice(bytes);
        Ok(req)
    }

    pub(crate) fn short(&self, offset: usize) -> i16 {
        i16::from_ne_bytes([self.data[offset], self.data[offset + 1]])
    }

    pub(crate) fn int(&self) -> i32 {
        i32::from_ne_bytes([self.data[0], self.data[1], self.data[2], self.data[3]])
    }
}

/// An `ioctl` taking a `struct ifreq`.
pub(crate) fn ifreq_ioctl(fd: &OwnedFd, request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: every request used here reads and/or writes one `struct ifreq`, and `req` is a
    // valid, writable ifreq of the kernel's layout (40 bytes) for the duration of the call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, req as *mut IfReq) })?;
    Ok(())
}

/// A datagram socket to carry interface ioctls.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket takes integers only and returns a new descriptor or -1.
    owned(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })
}

/// Turns ENODEV into a message naming the interface.
pub(crate) fn name_error(name: &str, err: io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface named '{name}' in this network namespace (ENODEV)"),
        ),
        _ => err,
    }
}

fn query(name: &str, request: libc::c_ulong) -> io::Result<IfReq> {
    let sock = control_socket()?;
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(&sock, request, &mut req).map_err(|e| name_error(name, e))?;
    Ok(req)
}

/// What the runtime needs to know about an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    /// Interface index (for `sockaddr_ll`).
    pub index: u32,
    /// Its hardware address.
    pub mac: [u8; 6],
    /// Its MTU.
    pub mtu: usize,
}

/// Index, MAC and MTU of interface `name`. NotFound (ENODEV) with the name in the message.
pub fn interface(name: &str) -> io::Result<Interface> {
    let index = query(name, SIOCGIFINDEX)?.int();
    let hw = query(name, SIOCGIFHWADDR)?;
    // ifr_hwaddr is a struct sockaddr: 2 bytes of family, then the address.
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&hw.data[2..8]);
    let mtu = query(name, SIOCGIFMTU)?.int();
    Ok(Interface {
        index: index as u32,
        mac,
        mtu: mtu.max(0) as usize,
    })
}

/// Sets `IFF_UP` on interface `name` (a no-op when it is up). Needs CAP_NET_ADMIN.
pub fn set_up(name: &str) -> io::Result<()> {
    let sock = control_socket()?;
    let mut req = IfReq::new(name)?;
    ifreq_ioctl(&sock, SIOCGIFFLAGS, &mut req).map_err(|e| name_error(name, e))?;
    let flags = req.short(0);
    if flags & libc::IFF_UP as i16 != 0 {
        return Ok(());
    }
    let up = (flags | libc::IFF_UP as i16).to_ne_bytes();
    req.data[..2].copy_from_slice(&up);
    ifreq_ioctl(&sock, SIOCSIFFLAGS, &mut req).map_err(|e| name_error(name, e))
}

/// The kernel's (first) IPv4 address on interface `name`, if it has one.
///
/// A stack that takes this address shares it with the kernel, whose TCP then answers (with
/// RSTs) segments meant for the user-space stack: give the stack an address of its own.
pub fn ipv4_addr(name: &str) -> io::Result<Option<Ipv4Addr>> {
    match query(name, SIOCGIFADDR) {
        // ifr_addr is a struct sockaddr_in: family (2), port (2), address (4).
        Ok(req) => Ok(Some(Ipv4Addr::new(
            req.data[4],
            req.data[5],
            req.data[6],
            req.data[7],
        ))),
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Rewrites a permission error of opening `what` into one that says which privilege is needed.
pub(crate) fn privilege_error(what: &str, capability: &str, err: io::Error) -> io::Error {
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{what}: permission denied; run as root or grant {capability}"),
        ),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_is_the_kernel_size() {
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(IfReq::new("").is_err());
        assert!(IfReq::new("sixteen-chars-xx").is_err());
        assert!(IfReq::new("a\0b").is_err());
        assert!(IfReq::new("fifteen-chars-x").is_ok());
    }

    #[test]
    fn loopback_is_found_and_missing_names_say_enodev() {
        let lo = interface("lo").expect("every namespace has lo");
        assert!(lo.index >= 1);
        assert!(lo.mtu >= 1500);
        let err = interface("mtcp-no-such0").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("mtcp-no-such0"), "{err}");
    }
}
