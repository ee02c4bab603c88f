//! The per-core context: the mTCP API, call for call.
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A descriptor: a small int local to its context (mTCP's sockid).
pub type SockId = i32;

/// Counters of one context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// Frames received by this context.
    pub rx_frames: u64,
    /// Frames sent by this context.
    pub tx_frames: u64,
    /// Bytes received (frames).
    pub rx_bytes: u64,
    /// Bytes sent (frames).
    pub tx_bytes: u64,
    /// Connections opened (active + passive).
    pub connections_opened: u64,
    /// Connections currently in the flow table.
    pub flows: u64,
    /// Sockets currently allocated from the pool.
    pub sockets_in_use: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Frames dropped (bad checksum, no route, malformed, …).
    pub drops: u64,
}

/// One core's TCP engine and its API. Cheap to clone; all clones are the same context.
#[derive(Clone)]
pub struct Context {
    pub(crate) _todo: (),
}

#[allow(missing_docs, clippy::missing_errors_doc)]
impl Context {
    pub fn core(&self) -> usize {
        todo!()
    }
    pub fn socket(&self, domain: i32, ty: i32, protocol: i32) -> io::Result<SockId> {
        let _ = (domain, ty, protocol);
        todo!()
    }
    pub fn bind(&self, sockid: SockId, addr: SocketAddrV4) -> io::Result<()> {
        let _ = (sockid, addr);
        todo!()
    }
    pub fn listen(&self, sockid: SockId, backlog: i32) -> io::Result<()> {
        let _ = (sockid, backlog);
        todo!()
    }
    pub fn accept(&self, sockid: SockId) -> io::Result<(SockId, SocketAddrV4)> {
        let _ = sockid;
        todo!()
    }
    /// Non-blocking: `Err` with EINPROGRESS when the SYN is on its way.
    pub fn connect(&self, sockid: SockId, addr: SocketAddrV4) -> io::Result<()> {
        let _ = (sockid, addr);
        todo!()
    }
    pub fn read(&self, sockid: SockId, buf: &mut [u8]) -> io::Result<usize> {
        let _ = (sockid, buf);
        todo!()
    }
    /// `flags`: 0 or `MSG_PEEK`.
    pub fn recv(&self, sockid: SockId, buf: &mut [u8], flags: i32) -> io::Result<usize> {
        let _ = (sockid, buf, flags);
        todo!()
    }
    pub fn readv(&self, sockid: SockId, bufs: &mut [&mut [u8]]) -> io::Result<usize> {
        let _ = (sockid, bufs);
        todo!()
    }
    pub fn write(&self, sockid: SockId, data: &[u8]) -> io::Result<usize> {
        let _ = (sockid, data);
        todo!()
    }
    pub fn writev(&self, sockid: SockId, bufs: &[&[u8]]) -> io::Result<usize> {
        let _ = (sockid, bufs);
        todo!()
    }
    pub fn shutdown(&self, sockid: SockId, how: i32) -> io::Result<()> {
        let _ = (sockid, how);
        todo!()
    }
    pub fn close(&self, sockid: SockId) -> io::Result<()> {
        let _ = sockid;
        todo!()
    }
    pub fn abort(&self, sockid: SockId) -> io::Result<()> {
        let _ = sockid;
        todo!()
    }
    pub fn getsockopt(&self, sockid: SockId, level: i32, optname: i32) -> io::Result<i32> {
        let _ = (sockid, level, optname);
        todo!()
    }
    pub fn setsockopt(&self, sockid: SockId, level: i32, optname: i32, value: i32) -> io::Result<()> {
        let _ = (sockid, level, optname, value);
        todo!()
    }
    pub fn getsockname(&self, sockid: SockId) -> io::Result<SocketAddrV4> {
        let _ = sockid;
        todo!()
    }
    pub fn getpeername(&self, sockid: SockId) -> io::Result<SocketAddrV4> {
        let _ = sockid;
        todo!()
    }
    pub fn socket_ioctl(&self, sockid: SockId, request: i32) -> io::Result<i32> {
        let _ = (sockid, request);
        todo!()
    }
    pub fn setsock_nonblock(&self, sockid: SockId) -> io::Result<()> {
        let _ = sockid;
        todo!()
    }
    pub fn epoll_create(&self, size: i32) -> io::Result<SockId> {
        let _ = size;
        todo!()
    }
    pub fn epoll_ctl(&self, epid: SockId, op: i32, sockid: SockId, events: u32) -> io::Result<()> {
        let _ = (epid, op, sockid, events);
        todo!()
    }
    /// Waits up to `timeout_ms` (-1: forever, 0: poll) for events; appends `(sockid, events)`
    /// pairs to `out` and returns how many.
    pub fn epoll_wait(
        &self,
        epid: SockId,
        out: &mut Vec<(SockId, u32)>,
        maxevents: i32,
        timeout_ms: i32,
    ) -> io::Result<usize> {
        let _ = (epid, out, maxevents, timeout_ms);
        todo!()
    }
    pub fn init_rss(&self, saddr: Ipv4Addr, num_addrs: i32, daddr: Ipv4Addr, dport: u16) -> io::Result<()> {
        let _ = (saddr, num_addrs, daddr, dport);
        todo!()
    }
    pub fn pipe(&self) -> io::Result<(SockId, SockId)> {
        todo!()
    }
    pub fn stats(&self) -> ContextStats {
        todo!()
    }
    /// Stops the loop and closes every socket (`mtcp_destroy_context`). Later calls give EBADF... EPERM as mTCP.
    pub fn destroy(&self) {
        todo!()
    }
}
