//! Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6; Linux's `SO_KEEPALIVE`): after `idle`
//! without hearing from the peer, probe every `interval`; after `count` unanswered probes the
//! connection fails with ETIMEDOUT (at idle + interval · count, as Linux). A probe is a
//! segment one below SND.UNA without data, which the peer must answer with an ACK.
use super::send_now::SendNow;
use super::Connection;
use crate::tcp::timers::Timer;
use crate::tcp::State;
use crate::time::Instant;

impl Connection {
    /// The peer was heard from (or keepalive was just turned on): restart the idle wait.
    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        self.keepalive_probes = 0;
        match self.config.keepalive {
            Some(ka) if self.keepalive_state() => {
                self.timers.set(Timer::KeepAlive, now + ka.idle);
            }
            _ => self.timers.stop(Timer::KeepAlive),
        }
    }

    /// States in which the connection is probed (Linux: established, and the half-closed
    /// ones where the peer still owes us something).
    fn keepalive_state(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        )
    }

    pub(super) fn on_keepalive_timeout(&mut self, now: Instant) {
        let Some(ka) = self.config.keepalive else {
            return;
        };
        if !self.keepalive_state() {
            return;
        }
        if self.snd_una != self.snd_max || self.data_end() > self.snd_nxt {
            // Data is outstanding or queued: the RTO (or persist timer) watches the peer.
            self.timers.set(Timer::KeepAlive, now + ka.idle);
            return;
        }
        // With a user timeout, it decides instead of the count (as Linux's
        // `tcp_keepalive_timer`): the peer silent for that long after at least one probe.
        let expired = match self.config.user_timeout {
            Some(limit) => {
                self.keepalive_probes > 0 && now.saturating_duration_since(self.last_heard) >= limit
            }
            None => self.keepalive_probes >= ka.count,
        };
        if expired {
            self.queue_own_reset();
            self.enter_closed(Some(self.timeout_error()));
            return;
        }
        self.keepalive_probes += 1;
        self.stats.keepalive_probes += 1;
        self.send_now.set(SendNow::PROBE);
        self.timers.set(Timer::KeepAlive, now + ka.interval);
    }
}
