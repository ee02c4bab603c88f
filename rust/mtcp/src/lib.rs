//! # mtcp — a user-space TCP/IPv4 stack with mTCP's per-core design and API
//!
//! A [`Stack`] holds the configuration, the port and addresses; each [`Context`] is one core's
//! share-nothing TCP engine with its own socket pool, flow table, timers and epoll instances,
//! and its own packet loop (a pinned native thread, or inline in API calls). The API is mTCP's,
//! call for call, returning `std::io::Error` values whose `raw_os_error()` is the errno.
//!
//! ```no_run
//! use mtcp::{Config, Stack, consts::*};
//! let stack = Stack::new(Config { addr: Some("198.18.0.1/24".parse().unwrap()), ..Config::default() })?;
//! let ctx = stack.create_context(0)?;
//! let s = ctx.socket(AF_INET, SOCK_STREAM, 0)?;
//! ctx.bind(s, "198.18.0.1:80".parse().unwrap())?;
//! ctx.listen(s, 128)?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]

mod api;
mod arp_cache;
mod clock;
pub mod config;
pub mod consts;
mod context;
mod engine;
mod flow_table;
mod frame;
mod pipe;
mod pool;
mod rx_stage;
pub mod sim;
mod socket;
mod stack;
mod timer_wheel;
mod wake;

pub use config::{Config, ConfigError, IoKind, Ipv4Cidr, RunMode};
pub use context::{Context, ContextStats, SockId};
pub use mtcp_proto::{Duration, Errno, Instant};
pub use stack::{Stack, DEFAULT_ADDR};

/// The errno of an `io::Error` made by this crate.
pub fn errno_of(err: &std::io::Error) -> Option<Errno> {
    err.raw_os_error().and_then(Errno::from_raw)
}
