//! Congestion control (RFC 5681) behind a small trait so CUBIC (RFC 9438) can be added later.
//! The loss-recovery state machine (duplicate-ACK counting, NewReno's recovery point, RFC 6582)
//! lives in the connection; this module only owns cwnd and ssthresh.

/// What a congestion controller is told, in bytes.
pub(super) trait CongestionControl {
    /// The congestion window.
    fn window(&self) -> usize;
    /// New data was cumulatively acknowledged outside recovery (RFC 5681 §3.1).
    fn on_ack(&mut self, bytes_acked: usize, mss: usize);
    /// Third duplicate ACK: fast retransmit + fast recovery begins (RFC 5681 §3.2 steps 2–3).
    fn on_fast_retransmit(&mut self, flight_size: usize, mss: usize);
    /// Another duplicate ACK during fast recovery: inflate (RFC 5681 §3.2 step 4).
    fn on_recovery_dup_ack(&mut self, mss: usize);
    /// A partial ACK during recovery (RFC 6582 §3.2 step 5): deflate by the acked amount.
    fn on_partial_ack(&mut self, bytes_acked: usize, mss: usize);
    /// Recovery ends with a full ACK (RFC 6582 §3.2 step 4).
    fn on_recovery_exit(&mut self, flight_size: usize, mss: usize);
    /// Retransmission timeout (RFC 5681 §3.1 equation 4, loss window of 1 MSS).
    fn on_timeout(&mut self, flight_size: usize, mss: usize);
}

/// NewReno: slow start and congestion avoidance with an initial window of 10 MSS (RFC 6928).
#[derive(Debug, Clone)]
pub(super) struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acked since cwnd last grew in congestion avoidance (RFC 5681 §3.1 byte counting).
    avoidance_credit: usize,
}

impl NewReno {
    pub(super) fn new(mss: usize) -> NewReno {
        NewReno {
            cwnd: 10 * mss,
            ssthresh: usize::MAX,
            avoidance_credit: 0,
        }
    }

    fn halve(flight_size: usize, mss: usize) -> usize {
        (flight_size / 2).max(2 * mss)
    }
}

impl CongestionControl for NewReno {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize) {
        if self.cwnd < self.ssthresh {
            // Slow start with appropriate byte counting, L = 2 MSS (RFC 3465).
            self.cwnd += bytes_acked.min(2 * mss);
        } else {
            self.avoidance_credit += bytes_acked;
            if self.avoidance_credit >= self.cwnd {
                self.avoidance_credit -= self.cwnd;
                self.cwnd += mss;
            }
        }
    }

    fn on_fast_retransmit(&mut self, flight_size: usize, mss: usize) {
        self.ssthresh = Self::halve(flight_size, mss);
        self.cwnd = self.ssthresh + 3 * mss;
        self.avoidance_credit = 0;
    }

    fn on_recovery_dup_ack(&mut self, mss: usize) {
        self.cwnd += mss;
    }

    fn on_partial_ack(&mut self, bytes_acked: usize, mss: usize) {
        self.cwnd = self.cwnd.saturating_sub(bytes_acked).max(mss) + mss;
    }

    fn on_recovery_exit(&mut self, flight_size: usize, mss: usize) {
        self.cwnd = self.ssthresh.min(flight_size.max(mss) + mss);
    }

    fn on_timeout(&mut self, flight_size: usize, mss: usize) {
        self.ssthresh = Self::halve(flight_size, mss);
        self.cwnd = mss;
        self.avoidance_credit = 0;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(1000);
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(1000, 1000);
        assert_eq!(cc.window(), 11_000);
        cc.on_timeout(20_000, 1000);
        assert_eq!(cc.window(), 1000);
        // Slow start up to ssthresh = 10 000.
        for _ in 0..9 {
            cc.on_ack(1000, 1000);
        }
        assert_eq!(cc.window(), 10_000);
        // Avoidance: one MSS per window's worth of ACKs.
        for _ in 0..9 {
            cc.on_ack(1000, 1000);
        }
        assert_eq!(cc.window(), 10_000);
        cc.on_ack(1000, 1000);
        assert_eq!(cc.window(), 11_000);
    }

    #[test]
    fn fast_recovery_inflates_and_deflates() {
        let mut cc = NewReno::new(1000);
        cc.on_fast_retransmit(10_000, 1000);
        assert_eq!(cc.window(), 8_000);
        cc.on_recovery_dup_ack(1000);
        assert_eq!(cc.window(), 9_000);
        cc.on_recovery_exit(9_000, 1000);
        assert_eq!(cc.window(), 5_000);
    }
}
