//! Per-ACK delivery-rate samples (draft-cheng-iccrg-delivery-rate-estimation) and the hooks a
//! model-based congestion controller (BBR) needs: the ACK sample after loss detection,
//! application-limited marking (§3.4) and the restart after idle.
use super::Connection;
use crate::tcp::congestion::{AckSample, CongestionControl};
use crate::tcp::scoreboard::Delivered;
use crate::time::Instant;

/// What the sender knew before an ACK was processed (Linux's `prior_in_flight` and
/// `tp->lost` as `tcp_ack` saves them).
#[derive(Debug, Clone, Copy)]
pub(super) struct AckSnapshot {
    in_flight: usize,
    lost_total: u64,
}

impl Connection {
    /// Taken before an ACK is processed.
    pub(super) fn ack_snapshot(&self) -> AckSnapshot {
        AckSnapshot {
            in_flight: self.pipe(),
            lost_total: self.scoreboard.lost_total(),
        }
    }

    /// After an ACK was processed (loss detection and recovery included): the rate sample
    /// for the controller (Linux's `tcp_rate_gen` then `cong_control`). Nothing happens for
    /// an ACK that delivered nothing.
    pub(super) fn on_ack_delivery(
        &mut self,
        now: Instant,
        delivered: &Delivered,
        before: AckSnapshot,
    ) {
        let Some(rate) = self.scoreboard.take_rate_sample(delivered, now) else {
            return;
        };
        // The delivery state moved with the sample; only BBR reads the sample itself.
        if !self.cc.uses_rate_samples() {
            return;
        }
        let losses = self.scoreboard.lost_total() - before.lost_total;
        let ack = AckSample {
            rate,
            prior_in_flight: before.in_flight,
            in_flight: self.pipe(),
            losses: usize::try_from(losses).unwrap_or(usize::MAX),
            recovering: self.in_recovery || self.snd_una < self.recover,
            srtt: self.rtt.srtt(),
        };
        self.cc.on_ack_sample(&ack, now);
        if self.cc.limits_application() {
            // ProbeRTT: its low rate must not pull the bandwidth estimate down.
            self.scoreboard.mark_app_limited(self.pipe());
        }
    }

    /// The application is about to queue data (Linux's `tcp_rate_check_app_limited` from
    /// `tcp_sendmsg`, draft-cheng §3.4): less than a segment is waiting, nothing lost waits
    /// to be resent and cwnd is not full, so the flow is application-limited.
    pub(super) fn check_app_limited(&mut self) {
        let unsent = (self.data_end() - self.snd_nxt).max(0) as usize;
        let in_flight = self.pipe();
        if unsent < usize::from(self.send_mss())
            && self.scoreboard.lost_outstanding() == 0
            && in_flight < self.cc.window()
        {
            self.scoreboard.mark_app_limited(in_flight);
        }
    }

    /// New data leaves with nothing in flight (Linux's `CA_EVENT_TX_START`).
    pub(super) fn on_flight_start(&mut self, now: Instant) {
        let app_limited = self.scoreboard.app_limited();
        let delivered = self.scoreboard.delivered_total();
        self.cc.on_transmit_start(app_limited, now, delivered);
    }

    /// BBR's model (Linux's `tcp_bbr_info`, `ss -ti`), when this connection runs BBR.
    pub fn bbr_info(&self) -> Option<crate::tcp::BbrInfo> {
        self.cc.bbr_info()
    }
}
