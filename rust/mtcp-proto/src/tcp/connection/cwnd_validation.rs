//! Congestion window validation (RFC 7661, as Linux's `tcp_cwnd_validate` and
//! `tcp_is_cwnd_limited`): cwnd grows only while the sender actually uses it. An
//! application-limited sender (a request/response exchange with one small segment in flight)
//! would otherwise raise cwnd on every ACK without ever testing the path at that window
//! (RFC 7661 §4.1: "cwnd ... is not increased when the sender is not cwnd-limited").
//!
//! The degree of use is tracked per window of data, from sends: the window is cwnd-limited
//! when a send filled cwnd; otherwise the most bytes in flight during the window are kept.
//! In slow start cwnd may still grow up to twice that (so a sender that fills half its window
//! ramps as before); in congestion avoidance only a cwnd-limited window grows it.
use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::wire::SeqNumber;

/// How much of cwnd the current window of data used (Linux's `is_cwnd_limited`,
/// `max_packets_out` and `cwnd_usage_seq`, in bytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct CwndUsage {
    /// A send during this window left pipe at or above cwnd.
    limited: bool,
    /// The most bytes in flight after a send during this window.
    max_in_flight: usize,
    /// The window ends when SND.UNA reaches this (SND.MAX when it began).
    window_end: SeqNumber,
}

impl CwndUsage {
    pub(super) fn new(iss: SeqNumber) -> CwndUsage {
        CwndUsage {
            limited: false,
            max_in_flight: 0,
            window_end: iss,
        }
    }
}

impl Connection {
    /// After new data left (`emit_data`): note how full cwnd is (Linux's
    /// `tcp_cwnd_validate`). The strongest signal of the window is kept: cwnd-limited, else
    /// the largest flight; a new window starts once the previous one is acknowledged.
    pub(super) fn note_cwnd_usage(&mut self) {
        let in_flight = self.pipe();
        let limited = in_flight >= self.cc.window();
        let usage = &mut self.cwnd_usage;
        if self.snd_una >= usage.window_end
            || limited
            || (!usage.limited && in_flight > usage.max_in_flight)
        {
            *usage = CwndUsage {
                limited,
                max_in_flight: in_flight,
                window_end: self.snd_max,
            };
        }
    }

    /// Whether an ACK may grow cwnd (RFC 7661 §4.1, Linux's `tcp_is_cwnd_limited`): the
    /// window was cwnd-limited, or in slow start cwnd is below twice the largest flight.
    #[inline]
    pub(super) fn cwnd_limited(&self) -> bool {
        let usage = &self.cwnd_usage;
        if usage.limited {
            return true;
        }
        let cwnd = self.cc.window();
        cwnd < self.cc.ssthresh() && cwnd < 2 * usage.max_in_flight
    }
}
