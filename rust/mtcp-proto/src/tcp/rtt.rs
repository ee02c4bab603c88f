//! The retransmission timer's estimator (RFC 6298 §2) with exponential backoff (§5.5).
use crate::time::Duration;

/// SRTT/RTTVAR estimator and the current RTO.
#[derive(Debug, Clone)]
pub(super) struct RttEstimator {
    /// Smoothed RTT in microseconds, `None` before the first sample.
    srtt: Option<u64>,
    /// RTT variation in microseconds.
    rttvar: u64,
    /// RTO before backoff and clamping.
    base_rto: Duration,
    /// Times the RTO has been doubled since the last valid sample (RFC 6298 §5.5).
    backoff: u32,
    min_rto: Duration,
    max_rto: Duration,
    /// `computed_rto()` as of the last change to the estimate or the backoff: the RTO is
    /// read for every segment sent, and changes only with a sample or a timeout.
    rto: Duration,
}

impl RttEstimator {
    /// RFC 6298 §2.1: before any sample, RTO is the initial value.
    pub(super) fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        let mut estimator = RttEstimator {
            srtt: None,
            rttvar: 0,
            base_rto: initial_rto,
            backoff: 0,
            min_rto,
            max_rto,
            rto: Duration::ZERO,
        };
        estimator.rto = estimator.computed_rto();
        estimator
    }

    /// Feeds one RTT measurement (RFC 6298 §2.2, §2.3: alpha = 1/8, beta = 1/4, K = 4, G = 1 ms)
    /// and ends any backoff.
    pub(super) fn sample(&mut self, rtt: Duration) {
        let r = rtt.total_micros();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(r)) / 4;
                self.srtt = Some((7 * srtt + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        let granularity = 1000;
        self.base_rto = Duration::from_micros(srtt + (4 * self.rttvar).max(granularity));
        self.backoff = 0;
        self.rto = self.computed_rto();
    }

    /// RFC 6298 §5.5: the timer expired, double the RTO.
    pub(super) fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
        self.rto = self.computed_rto();
    }

    /// The RTO to arm now: the estimate raised to `min_rto` (RFC 6298 §2.4), doubled once per
    /// backoff (§5.5), capped at `max_rto` (§2.5). Kept, not computed: debug and test builds
    /// check it against `computed_rto`.
    #[inline]
    pub(super) fn rto(&self) -> Duration {
        debug_assert_eq!(self.rto, self.computed_rto(), "stale RTO");
        self.rto
    }

    /// [`RttEstimator::rto`] computed from the estimate and the backoff.
    fn computed_rto(&self) -> Duration {
        let rto = self.base_rto.max(self.min_rto);
        rto.saturating_mul(1u64 << self.backoff.min(32))
            .min(self.max_rto)
    }

    /// A lower bound of [`RttEstimator::rto`] whatever the samples and backoff: `min_rto`
    /// (or `max_rto` when that is smaller). A wait no longer than this is shorter than the
    /// RTO without computing it.
    #[inline]
    pub(super) fn rto_floor(&self) -> Duration {
        self.min_rto.min(self.max_rto)
    }

    /// Smoothed RTT, if measured.
    pub(super) fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_micros)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn first_sample_sets_srtt_and_var() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        // 100 + 4 * 50 = 300 ms.
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(100));
        // rttvar = 3/4 * 50 = 37.5; srtt = 100 -> 100 + 150 = 250 ms.
        assert_eq!(e.rto(), Duration::from_micros(250_000));
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn rto_is_never_below_its_floor() {
        for (min, max) in [(200, 60_000), (200, 100), (1, 1)] {
            let mut e = RttEstimator::new(
                Duration::from_secs(1),
                Duration::from_millis(min),
                Duration::from_millis(max),
            );
            assert!(e.rto() >= e.rto_floor());
            for rtt_ms in [0, 1, 50, 100_000] {
                e.sample(Duration::from_millis(rtt_ms));
                assert!(e.rto() >= e.rto_floor(), "{min} {max} {rtt_ms}");
                e.back_off();
                assert!(e.rto() >= e.rto_floor(), "{min} {max} {rtt_ms}");
            }
            assert_eq!(e.rto_floor(), Duration::from_millis(min.min(max)));
        }
    }

    #[test]
    fn clamps_and_backs_off() {
        let mut e = est();
        e.sample(Duration::from_millis(1));
        assert_eq!(e.rto(), Duration::from_millis(200));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), Duration::from_millis(800));
        let mut e = est();
        for _ in 0..10 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
    }

    /// The kept RTO follows every change: a timeout doubles it, a sample after timeouts
    /// ends the backoff and sets it from the new estimate.
    #[test]
    fn kept_rto_follows_samples_and_backoff() {
        let mut e = est();
        e.back_off();
        assert_eq!(e.rto(), Duration::from_secs(2));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.back_off();
        assert_eq!(e.rto(), Duration::from_millis(600));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.rto(), Duration::from_micros(250_000));
        assert_eq!(e.rto(), e.computed_rto());
    }
}
