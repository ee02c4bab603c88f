//! The retransmission timer's deadline, and the user timeout (RFC 5482, RFC 9293 §3.8.3;
//! Linux's `TCP_USER_TIMEOUT`): data unacknowledged for longer than `TcpConfig::user_timeout`
//! fails the connection with ETIMEDOUT, however few retransmissions that took. As Linux's
//! `tcp_clamp_rto_to_user_timeout`, the RTO never fires later than the user timeout's end.
use super::Connection;
use crate::tcp::timers::Timer;
use crate::time::Instant;

impl Connection {
    /// (Re)arms the retransmission timer one RTO from `now`, or at the user timeout's end
    /// when that comes first.
    #[inline(never)]
    pub(super) fn arm_rto(&mut self, now: Instant) {
        self.arm_rto_inline(now)
    }

    /// `arm_rto`'s body, inlined into the lean transmit path (the first segment of every
    /// request or response arms the timer), where the call cost as much as the body.
    #[inline(always)]
    pub(super) fn arm_rto_inline(&mut self, now: Instant) {
        let mut at = now + self.rtt.rto();
        if let (Some(limit), Some(since)) = (self.config.user_timeout, self.stalled_since) {
            at = at.min((since + limit).max(now));
        }
        self.timers.set(Timer::Retransmit, at);
    }

    /// Data has been sent while nothing was outstanding: the user timeout's clock starts.
    pub(super) fn note_flight_started(&mut self, now: Instant) {
        if self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
    }

    /// SND.UNA advanced: the clock restarts, or stops when everything is acknowledged.
    pub(super) fn note_progress(&mut self, now: Instant) {
        self.stalled_since = (self.snd_una < self.snd_max).then_some(now);
    }

    /// Whether data has been unacknowledged for the user timeout or longer.
    pub(super) fn user_timed_out(&self, now: Instant) -> bool {
        match (self.config.user_timeout, self.stalled_since) {
            (Some(limit), Some(since)) => now.saturating_duration_since(since) >= limit,
            _ => false,
        }
    }
}
