//! The transmission control block and its state machine.
//!
//! CONTRACT: the public signatures below are used by the runtime; the bodies are the TCP
//! helper's to write.
use core::net::SocketAddrV4;

use super::{State, TcpConfig};
use crate::errno::Errno;
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpRepr};

/// What an application may do with a connection right now (epoll's view of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `recv` would not block: data is buffered, the peer has closed (EOF), or there is an error.
    pub readable: bool,
    /// `send` would not block: the connection is established (or close-wait) with free buffer
    /// space, or there is an error.
    pub writable: bool,
    /// The peer has shut down its sending side (FIN received): EPOLLRDHUP.
    pub read_hangup: bool,
    /// Both directions are finished or the connection is reset: EPOLLHUP.
    pub hangup: bool,
    /// An error is pending (`SO_ERROR` is non-zero): EPOLLERR.
    pub error: bool,
}

/// One TCP connection: the TCB of RFC 9293 §3.3.1 plus send and receive buffers.
#[derive(Debug)]
pub struct Connection {
    _private: (),
}

impl Connection {
    /// Active open (RFC 9293 §3.10.1): a connection in SYN-SENT whose SYN is ready to transmit.
    /// `iss` is the initial send sequence number, chosen by the runtime.
    pub fn connect(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNumber,
        now: Instant,
    ) -> Connection {
        let _ = (config, local, remote, iss, now);
        todo!("tcp helper")
    }

    /// Passive open: `syn` arrived at a listener on `local` from `remote`. The connection starts
    /// in SYN-RECEIVED with its SYN-ACK ready to transmit.
    pub fn accept(
        config: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &TcpRepr<'_>,
        iss: SeqNumber,
        now: Instant,
    ) -> Connection {
        let _ = (config, local, remote, syn, iss, now);
        todo!("tcp helper")
    }

    /// Processes a segment of this connection (RFC 9293 §3.10.7).
    pub fn handle_segment(&mut self, now: Instant, segment: &TcpRepr<'_>) {
        let _ = (now, segment);
        todo!("tcp helper")
    }

    /// Fires every timer whose deadline is at or before `now` (retransmission, delayed ACK,
    /// TIME-WAIT, idle timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!("tcp helper")
    }

    /// The earliest instant at which [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!("tcp helper")
    }

    /// Writes the next segment to send, TCP header and payload with a valid checksum, into
    /// `buf` and returns its length, or `None` when there is nothing to send now. `buf` is at
    /// least MSS + 60 bytes. Call repeatedly until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let _ = (now, buf);
        todo!("tcp helper")
    }

    /// Whether [`Connection::poll_transmit`] may have something to send (cheap check for the
    /// runtime's transmit list).
    pub fn wants_transmit(&self) -> bool {
        todo!("tcp helper")
    }

    /// Queues application data; returns how many bytes were taken (short when the send buffer is
    /// nearly full). Errors as Linux: EAGAIN when the buffer is full; EPIPE after shutdown(WR) or
    /// close, or once reset; ENOTCONN before the handshake started or in LISTEN;
    /// EAGAIN while the handshake is still in progress (SYN-SENT/SYN-RECEIVED);
    /// a pending error (ECONNRESET, ETIMEDOUT, ECONNREFUSED) is reported and cleared first.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Errno> {
        let _ = data;
        todo!("tcp helper")
    }

    /// Copies received in-order data into `buf` (consuming it unless `peek`). `Ok(0)` means end
    /// of stream (FIN received, or SHUT_RD). EAGAIN when nothing is buffered yet; a pending error
    /// is reported and cleared first; ENOTCONN when not connected.
    pub fn recv(&mut self, buf: &mut [u8], peek: bool) -> Result<usize, Errno> {
        let _ = (buf, peek);
        todo!("tcp helper")
    }

    /// Bytes that `recv` could return now (FIONREAD).
    pub fn recv_queue(&self) -> usize {
        todo!("tcp helper")
    }

    /// Bytes queued for sending and not yet acknowledged (SIOCOUTQ).
    pub fn send_queue(&self) -> usize {
        todo!("tcp helper")
    }

    /// `shutdown(SHUT_WR)`: a FIN follows the queued data. Idempotent.
    pub fn shutdown_write(&mut self, now: Instant) {
        let _ = now;
        todo!("tcp helper")
    }

    /// `shutdown(SHUT_RD)`: further `recv` returns 0; data that arrives is acknowledged and dropped.
    pub fn shutdown_read(&mut self) {
        todo!("tcp helper")
    }

    /// `close`: as `shutdown_write`, and the application gives up the connection; unread data in
    /// the receive buffer makes it an abort (RST), as in Linux (RFC 2525 §2.17). With linger 0
    /// it aborts. A connection in SYN-SENT goes straight to CLOSED.
    pub fn close(&mut self, now: Instant) {
        let _ = now;
        todo!("tcp helper")
    }

    /// `abort`: send RST (unless in SYN-SENT/CLOSED/TIME-WAIT) and go to CLOSED.
    pub fn abort(&mut self, now: Instant) {
        let _ = now;
        todo!("tcp helper")
    }

    /// Current state.
    pub fn state(&self) -> State {
        todo!("tcp helper")
    }

    /// The application's view for epoll.
    pub fn readiness(&self) -> Readiness {
        todo!("tcp helper")
    }

    /// `SO_ERROR`: the pending error, cleared by reading it (ECONNREFUSED for a RST in answer to
    /// our SYN, ECONNRESET, ETIMEDOUT, EPIPE).
    pub fn take_error(&mut self) -> Option<Errno> {
        todo!("tcp helper")
    }

    /// The pending error without clearing it.
    pub fn peek_error(&self) -> Option<Errno> {
        todo!("tcp helper")
    }

    /// True once the connection has reached CLOSED and has nothing left to transmit: the runtime
    /// may remove it from the flow table.
    pub fn is_closed(&self) -> bool {
        todo!("tcp helper")
    }

    /// Local address.
    pub fn local(&self) -> SocketAddrV4 {
        todo!("tcp helper")
    }

    /// Remote address.
    pub fn remote(&self) -> SocketAddrV4 {
        todo!("tcp helper")
    }

    /// The effective send MSS (TCP_MAXSEG).
    pub fn mss(&self) -> u16 {
        todo!("tcp helper")
    }

    /// The configuration (for getsockopt).
    pub fn config(&self) -> &TcpConfig {
        todo!("tcp helper")
    }

    /// Changes `TCP_NODELAY`.
    pub fn set_nodelay(&mut self, on: bool) {
        let _ = on;
        todo!("tcp helper")
    }

    /// Changes linger (SO_LINGER).
    pub fn set_linger(&mut self, linger: Option<crate::time::Duration>) {
        let _ = linger;
        todo!("tcp helper")
    }
}

/// The RST to send in answer to `segment`, which matched no connection (RFC 9293 §3.10.7.1):
/// `None` when `segment` is itself a RST. Addresses are swapped by the caller.
pub fn reset_for(segment: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
    let _ = segment;
    todo!("tcp helper")
}
