//! Linux's values of the socket-API constants, so `socket.AF_INET` and `mtcp.AF_INET` agree.
#![allow(missing_docs)]

pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;
pub const AF_UNIX: i32 = 1;
pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;
pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;

pub const SOL_SOCKET: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_ACCEPTCONN: i32 = 30;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;
pub const TCP_INFO: i32 = 11;
/// `TCP_CONGESTION` takes an int here (the API is int-valued): 0 = NewReno, 1 = CUBIC,
/// 2 = BBR.
pub const TCP_CONGESTION: i32 = 13;
/// Milliseconds data may stay unacknowledged before ETIMEDOUT (RFC 5482); 0 = off.
pub const TCP_USER_TIMEOUT: i32 = 18;
/// `TCP_CONGESTION` value for NewReno.
pub const TCP_CA_NEWRENO: i32 = 0;
/// `TCP_CONGESTION` value for CUBIC.
pub const TCP_CA_CUBIC: i32 = 1;
/// `TCP_CONGESTION` value for BBR (v1, Linux's `tcp_bbr`).
pub const TCP_CA_BBR: i32 = 2;

pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;

pub const MSG_PEEK: i32 = 2;
pub const FIONREAD: i32 = 0x541B;
pub const FIONBIO: i32 = 0x5421;

pub const MTCP_EPOLL_CTL_ADD: i32 = 1;
pub const MTCP_EPOLL_CTL_DEL: i32 = 2;
pub const MTCP_EPOLL_CTL_MOD: i32 = 3;

pub const MTCP_EPOLLNONE: u32 = 0;
pub const MTCP_EPOLLIN: u32 = 0x001;
pub const MTCP_EPOLLPRI: u32 = 0x002;
pub const MTCP_EPOLLOUT: u32 = 0x004;
pub const MTCP_EPOLLERR: u32 = 0x008;
pub const MTCP_EPOLLHUP: u32 = 0x010;
pub const MTCP_EPOLLRDNORM: u32 = 0x040;
pub const MTCP_EPOLLRDBAND: u32 = 0x080;
pub const MTCP_EPOLLWRNORM: u32 = 0x100;
pub const MTCP_EPOLLWRBAND: u32 = 0x200;
pub const MTCP_EPOLLMSG: u32 = 0x400;
pub const MTCP_EPOLLRDHUP: u32 = 0x2000;
pub const MTCP_EPOLLONESHOT: u32 = 1 << 30;
pub const MTCP_EPOLLET: u32 = 1 << 31;

/// `INADDR_ANY` port: let the stack choose.
pub const INPORT_ANY: u16 = 0;
