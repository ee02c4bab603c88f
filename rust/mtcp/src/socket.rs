//! What a descriptor can be: a TCP stream, a listener, an epoll instance or a pipe end.
use std::collections::VecDeque;
use std::net::SocketAddrV4;

use mtcp_proto::Duration;

use crate::consts::{MTCP_EPOLLERR, MTCP_EPOLLET, MTCP_EPOLLHUP, MTCP_EPOLLONESHOT};
use crate::flow_table::FlowId;

/// A registration of a socket in an epoll instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EpollReg {
    pub(crate) epid: i32,
    /// Identifies the epoll instance even after its descriptor is reused.
    pub(crate) serial: u64,
    /// What is reported: the events asked for plus EPOLLERR and EPOLLHUP, which are always
    /// reported (epoll_ctl(2)), and the mode bits (EPOLLET, EPOLLONESHOT).
    pub(crate) events: u32,
}

impl EpollReg {
    /// A registration by EPOLL_CTL_ADD or EPOLL_CTL_MOD with `events`.
    pub(crate) fn new(epid: i32, serial: u64, events: u32) -> EpollReg {
        EpollReg {
            epid,
            serial,
            events: events | MTCP_EPOLLERR | MTCP_EPOLLHUP,
        }
    }

    /// After an EPOLLONESHOT registration reported its event: nothing more, EPOLLERR and
    /// EPOLLHUP included, until EPOLL_CTL_MOD arms it again (Linux keeps only its mode bits).
    pub(crate) fn disarmed(self) -> EpollReg {
        EpollReg {
            events: self.events & (MTCP_EPOLLET | MTCP_EPOLLONESHOT),
            ..self
        }
    }
}

/// Socket options kept per descriptor and applied to its connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SockOpts {
    pub(crate) rcvbuf: usize,
    pub(crate) sndbuf: usize,
    pub(crate) nodelay: bool,
    pub(crate) linger: Option<Duration>,
    pub(crate) keepalive: bool,
    pub(crate) keepidle: i32,
    pub(crate) keepintvl: i32,
    pub(crate) keepcnt: i32,
    /// `TCP_USER_TIMEOUT` in milliseconds; 0 = off.
    pub(crate) user_timeout_ms: i32,
    /// `TCP_CONGESTION`.
    pub(crate) congestion: mtcp_proto::tcp::CongestionAlgorithm,
    pub(crate) reuseaddr: bool,
    pub(crate) reuseport: bool,
}

pub(crate) struct Stream {
    /// Explicitly bound address (port 0 never stored: bind picks one).
    pub(crate) bound: Option<SocketAddrV4>,
    pub(crate) flow: Option<FlowId>,
}

pub(crate) struct Listener {
    pub(crate) local: SocketAddrV4,
    pub(crate) backlog: usize,
    /// Established connections waiting for `accept`.
    pub(crate) accept_queue: VecDeque<FlowId>,
    /// Connections in SYN-RECEIVED.
    pub(crate) half_open: usize,
}

pub(crate) struct EpollInstance {
    pub(crate) serial: u64,
    /// Descriptors with events, each with its slot's generation when queued (an entry of a
    /// descriptor closed since is dropped, not reported for the one now in its slot).
    pub(crate) ready: VecDeque<(i32, u32)>,
}

pub(crate) enum Kind {
    Stream(Stream),
    Listener(Listener),
    Epoll(EpollInstance),
    PipeRead(u32),
    PipeWrite(u32),
}

pub(crate) struct Socket {
    pub(crate) kind: Kind,
    pub(crate) opts: SockOpts,
    pub(crate) reg: Option<EpollReg>,
    /// Sits in its epoll's ready queue.
    pub(crate) queued: bool,
    /// Events seen at the last evaluation (edge detection for EPOLLET).
    pub(crate) last_events: u32,
    /// `Core::readiness` as last computed, while nothing that could change it has happened
    /// since (`READINESS_STALE` otherwise). Only `Core::touch` resets it: the engine touches
    /// the owner of every flow it settles, and every API call on a descriptor touches it when
    /// done (`ContextInner::call_on`). Debug builds check each kept value in `epoll_collect`.
    pub(crate) readiness: u32,
}

/// `Socket::readiness` when it must be computed afresh (no real event mask has every bit).
pub(crate) const READINESS_STALE: u32 = u32::MAX;

impl Socket {
    pub(crate) fn new(kind: Kind, opts: SockOpts) -> Socket {
        Socket {
            kind,
            opts,
            reg: None,
            queued: false,
            last_events: 0,
            readiness: READINESS_STALE,
        }
    }
}
