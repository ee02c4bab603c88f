//! One TCP connection as a sans-IO state machine (RFC 9293).
//!
//! CONTRACT between this module and the runtime (`mtcp` crate). The runtime:
//! * demultiplexes received segments by 4-tuple and calls [`Connection::handle_segment`] with a
//!   parsed, checksum-verified [`TcpRepr`](crate::wire::TcpRepr);
//! * calls [`Connection::poll_transmit`] until it returns `None`, wrapping each segment it writes
//!   into IPv4 and Ethernet;
//! * asks [`Connection::poll_timeout`] for the next deadline and calls
//!   [`Connection::handle_timeout`] when it passes;
//! * calls the application-side methods (`send`, `recv`, `close`, …) for the mTCP API;
//! * frees the connection when [`Connection::is_closed`] is true and the application has let go.
//!
//! Listening sockets live in the runtime: a SYN for a listener becomes a connection through
//! [`Connection::accept`]. Segments for no connection are answered with [`reset_for`].
//!
//! RFC heads-up: sequence checks follow RFC 9293 §3.10.7.4; RST/SYN handling inside the window
//! follows RFC 5961 §3–4 (challenge ACK); RTO follows RFC 6298; delayed ACK RFC 9293 §3.8.6.3.
//!
//! The runtime must call `poll_transmit` after any application call that returns (`send`,
//! `recv`, `close`, `shutdown_*`, `abort`) when [`Connection::wants_transmit`] says so: those
//! calls take no clock, so timers they imply (e.g. the zero-window persist timer) are armed
//! there.
//!
//! Layout (one concept per file): `connection` (the TCB and application calls) with
//! `connection/input.rs` (segment arrival, timeouts) and `connection/output.rs` (what to send,
//! segment writing); `seq_check` (acceptance test); `send_buf`/`recv_buf` (fixed rings allocated
//! once); `assembler` (out-of-order ranges); `rtt` (RFC 6298 estimator); `timers` (the
//! enum-indexed timer table); `congestion` (NewReno, CUBIC and BBR behind a trait), `bbr`
//! (BBR v1, Linux's `tcp_bbr.c`) with `bbr_filter` (its windowed max) and `delivery_rate`
//! (draft-cheng-iccrg-delivery-rate-estimation, sampled per ACK); `hystart`
//! (HyStart++, RFC 9406: the initial slow start's exit, for both); `scoreboard`
//! (the sender's record of segments in flight: SACK, RFC 6675, and RACK, RFC 8985);
//! `options` (window-scale arithmetic). `connection/recovery.rs` holds SACK-based loss
//! recovery (RFC 6675), RACK-TLP (RFC 8985), D-SACK (RFC 2883) and the challenge-ACK rate
//! limit (RFC 5961 §7); `connection/keepalive.rs` the keepalive probes;
//! `connection/pacing.rs` pacing; `connection/growth.rs` window growth per ACK;
//! `connection/icmp.rs` ICMP errors and path MTU (RFC 5927, RFC 1191); `syn_cookie` SYN
//! cookies (RFC 4987 §3.6), which the runtime's listeners answer SYNs with when their SYN
//! queue is full.

mod assembler;
mod bbr;
mod bbr_filter;
mod config;
mod congestion;
mod connection;
mod delivery_rate;
mod hystart;
mod options;
mod recv_buf;
mod rtt;
mod scoreboard;
mod send_buf;
mod seq_check;
mod state;
mod storage;
mod syn_cookie;
mod timers;

pub use bbr::{BbrInfo, BbrMode};
pub use config::{KeepAlive, TcpConfig};
pub use congestion::CongestionAlgorithm;
pub use connection::{reset_for, Connection, IcmpError, Readiness, TcpStats};
pub use state::State;
pub use storage::Storage;
pub use syn_cookie::{CookieOptions, SynCookieMode, SynCookies, COOKIE_LIFETIME_MS};
