//! # mtcp-proto — the sans-IO core of mtcp
//!
//! Everything here is pure computation: packets and time go in, packets and the next timer
//! deadline come out. No I/O, no clock reads, no threads, no `unsafe` — so every behaviour is
//! deterministic and testable in a simulated network (the quinn-proto model).
//!
//! * [`wire`] — zero-copy views (`Packet<T>`) and parsed representations (`Repr`) of Ethernet,
//!   ARP, IPv4, ICMPv4 and TCP, in the style of smoltcp's `wire` module.
//! * [`tcp`] — one TCP connection (RFC 9293 state machine, reassembly, retransmission with the
//!   RFC 6298 estimator, flow control, delayed ACK), driven by `handle_*` and read by `poll_*`.
//! * [`time`] — the microsecond [`Instant`]/[`Duration`] that every input carries.
//! * [`errno`] — Linux errno values that every failing operation maps to.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod errno;
pub mod tcp;
pub mod time;
pub mod wire;

pub use errno::Errno;
pub use time::{Duration, Instant};
