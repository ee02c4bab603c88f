//! Window growth on new ACKs outside recovery: the controller's slow start or congestion
//! avoidance, with HyStart++ (RFC 9406) steering the initial slow start.
use super::Connection;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::hystart::Growth;
use crate::time::{Duration, Instant};

impl Connection {
    /// `acked` new data bytes were cumulatively acknowledged outside recovery (RFC 5681 §3.1).
    /// Nothing grows while cwnd is not used (RFC 7661, cwnd_validation.rs).
    /// HyStart++ runs only in the initial slow start, while ssthresh is still unset: after a
    /// loss or timeout standard slow start applies (RFC 9406 §4.3 recommends it after an RTO).
    pub(super) fn grow_window(&mut self, now: Instant, acked: usize) {
        // RFC 7661 §4.1: an application-limited sender does not grow cwnd (nor run HyStart++,
        // whose RTT rounds then measure no queue of ours).
        if !self.cwnd_limited() {
            return;
        }
        let mss = usize::from(self.send_mss());
        let srtt = self.rtt.srtt().unwrap_or(Duration::ZERO);
        let initial_slow_start =
            self.cc.ssthresh() == usize::MAX && self.cc.window() < self.cc.ssthresh();
        if !(self.config.hystart && initial_slow_start) {
            self.cc.on_ack(acked, mss, now, srtt);
            return;
        }
        // With a hole at the receiver the echoed timestamp is that of the segment before it
        // (RFC 7323 §4.3), which would inflate the sample and feign a queue: no sample then.
        let rtt = if self.scoreboard.sacked_bytes() == 0 {
            self.ack_rtt
        } else {
            None
        };
        let growth = self.hystart.on_ack(self.snd_una, self.snd_max, rtt, acked);
        match growth {
            Growth::SlowStart(bytes) | Growth::Conservative(bytes) => {
                if bytes > 0 {
                    self.cc.on_ack(bytes, mss, now, srtt);
                }
            }
            Growth::EnterAvoidance => self.cc.exit_slow_start(),
        }
    }
}
