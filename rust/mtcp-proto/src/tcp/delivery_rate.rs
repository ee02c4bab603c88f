//! Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02, Linux's
//! `tcp_rate.c`): every ACK yields a sample of how fast the network delivered data, for a
//! model-based congestion controller (BBR) to filter.
//!
//! Each transmitted segment carries a [`SendStamp`] (the draft's `P.delivered`,
//! `P.delivered_time`, `P.first_sent_time`, `P.is_app_limited`, §3.2) inside its scoreboard
//! record, so nothing is allocated per packet. On an ACK the segments it newly delivers
//! (cumulatively or by SACK) feed a [`RateAccumulator`] (§3.3 UpdateRateSample); once the ACK
//! is processed [`DeliveryRate::generate`] turns it into a [`RateSample`] (§3.3
//! GenerateRateSample). Everything is counted in bytes (the draft counts packets or bytes).
use crate::time::{Duration, Instant};

/// The connection's delivery state (draft §3.1 `C.*`).
#[derive(Debug, Clone, Copy)]
pub(super) struct DeliveryRate {
    /// C.delivered: bytes delivered (acknowledged or SACKed) so far.
    delivered: u64,
    /// C.delivered_time: when `delivered` last grew.
    delivered_time: Instant,
    /// C.first_sent_time: the send time of the segment most recently delivered, the start of
    /// the current send interval.
    first_sent_time: Instant,
    /// C.app_limited: 0, or `delivered` at the end of an application-limited stretch (§3.4);
    /// samples from segments sent before that point are marked application-limited.
    app_limited: u64,
    /// Smallest RTT sample seen (Linux's `tcp_min_rtt`): a sample whose interval is shorter
    /// comes from ACK compression and is discarded (§3.3, as `tcp_rate_gen`).
    min_rtt: Option<Duration>,
}

/// The delivery state a segment took when it was (re)transmitted (draft §3.2 `P.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SendStamp {
    /// P.delivered: C.delivered at send time.
    pub(super) delivered: u64,
    /// P.delivered_time: C.delivered_time at send time.
    pub(super) delivered_time: Instant,
    /// P.first_sent_time: C.first_sent_time at send time.
    pub(super) first_sent_time: Instant,
    /// P.is_app_limited: sent while the application had nothing more to send.
    pub(super) app_limited: bool,
}

/// What the segments one ACK newly delivered say (draft §3.3 UpdateRateSample's `rs.*`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RateAccumulator {
    /// Bytes newly delivered by this ACK (Linux's `rs->acked_sacked`).
    newly_delivered: u64,
    /// The stamp and send time of the delivered segment with the highest `P.delivered`
    /// (the most recently sent one).
    newest: Option<(SendStamp, Instant)>,
}

impl RateAccumulator {
    /// A segment of `len` bytes, stamped `stamp` and last sent at `sent_time`, was delivered.
    pub(super) fn on_delivered(&mut self, stamp: &SendStamp, sent_time: Instant, len: usize) {
        self.newly_delivered += len as u64;
        let newer = match self.newest {
            None => true,
            // §3.3: the sample follows the packet with the most recent P.delivered; among
            // packets sent with the same delivered count, the one sent last.
            Some((s, t)) => {
                stamp.delivered > s.delivered || (stamp.delivered == s.delivered && sent_time > t)
            }
        };
        if newer {
            self.newest = Some((*stamp, sent_time));
        }
    }

    /// A fresh accumulator holding one delivered segment (`on_delivered` on a default one).
    pub(super) fn sole(stamp: &SendStamp, sent_time: Instant, len: usize) -> RateAccumulator {
        RateAccumulator {
            newly_delivered: len as u64,
            newest: Some((*stamp, sent_time)),
        }
    }

    /// Bytes delivered without their own stamp (a partly acknowledged segment's head).
    pub(super) fn on_delivered_bytes(&mut self, len: usize) {
        self.newly_delivered += len as u64;
    }
}

/// One delivery-rate sample (draft §3.3 `rs.*`), plus what the ACK delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RateSample {
    /// rs.delivered: bytes delivered over `interval`.
    pub(super) delivered: u64,
    /// rs.interval: max(send interval, ACK interval); `None` when the sample is invalid
    /// (nothing stamped was delivered, or the interval is shorter than the minimum RTT).
    pub(super) interval: Option<Duration>,
    /// rs.prior_delivered: C.delivered when the newest delivered segment was sent (rounds
    /// are counted with it).
    pub(super) prior_delivered: u64,
    /// rs.is_app_limited.
    pub(super) app_limited: bool,
    /// Bytes this ACK newly delivered (acknowledged or SACKed).
    pub(super) newly_delivered: u64,
    /// C.delivered after this ACK.
    pub(super) total_delivered: u64,
    /// RTT of the most recently sent delivered segment, when it was not retransmitted.
    pub(super) rtt: Option<Duration>,
}

impl RateSample {
    /// rs.delivery_rate in bytes per second, for a valid sample.
    pub(super) fn bandwidth(&self) -> Option<u64> {
        let micros = self.interval?.total_micros();
        (micros > 0).then(|| {
            let rate = u128::from(self.delivered) * 1_000_000 / u128::from(micros);
            u64::try_from(rate).unwrap_or(u64::MAX)
        })
    }
}

impl DeliveryRate {
    pub(super) fn new() -> DeliveryRate {
        DeliveryRate {
            delivered: 0,
            delivered_time: Instant::ZERO,
            first_sent_time: Instant::ZERO,
            app_limited: 0,
            min_rtt: None,
        }
    }

    /// C.delivered.
    pub(super) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Whether the connection is in an application-limited stretch (C.app_limited != 0).
    pub(super) fn is_app_limited(&self) -> bool {
        self.app_limited != 0
    }

    /// §3.2 "Transmitting a data packet": the stamp for a segment sent at `now`.
    /// `nothing_in_flight` restarts the send and ACK intervals (the first segment after idle).
    pub(super) fn stamp(&mut self, now: Instant, nothing_in_flight: bool) -> SendStamp {
        if nothing_in_flight {
            self.first_sent_time = now;
            self.delivered_time = now;
        }
        SendStamp {
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_sent_time: self.first_sent_time,
            app_limited: self.app_limited != 0,
        }
    }

    /// §3.4: the application has less than a segment to send, nothing waits to be
    /// retransmitted and the congestion window is not full: the flow is application-limited
    /// until what is in flight now (`in_flight` bytes) has been delivered.
    pub(super) fn mark_app_limited(&mut self, in_flight: usize) {
        self.app_limited = (self.delivered + in_flight as u64).max(1);
    }

    /// What §3.3 GenerateRateSample changes in the delivery state, without the sample:
    /// `newly_delivered` (non-zero) bytes were delivered at `now`, `rtt` is the ACK's RTT
    /// sample and `newest_sent` the send time of the newest delivered segment with a stamp.
    /// [`DeliveryRate::generate`] runs it; header prediction runs it alone when no
    /// controller reads the sample (every controller but BBR).
    #[inline]
    pub(super) fn on_delivered(
        &mut self,
        newly_delivered: u64,
        now: Instant,
        rtt: Option<Duration>,
        newest_sent: Option<Instant>,
    ) {
        self.delivered += newly_delivered;
        self.delivered_time = now;
        if let Some(rtt) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        // §3.3: the app-limited stretch ends once its data has been delivered.
        if self.app_limited != 0 && self.delivered > self.app_limited {
            self.app_limited = 0;
        }
        // §3.3 UpdateRateSample: the next send interval starts at this segment's send time.
        if let Some(sent_time) = newest_sent {
            self.first_sent_time = sent_time;
        }
    }

    /// §3.3 GenerateRateSample, after an ACK whose deliveries `acc` holds, at `now`; `rtt`
    /// is the ACK's RTT sample. `None` when the ACK delivered nothing.
    pub(super) fn generate(
        &mut self,
        acc: &RateAccumulator,
        now: Instant,
        rtt: Option<Duration>,
    ) -> Option<RateSample> {
        if acc.newly_delivered == 0 {
            return None;
        }
        self.on_delivered(
            acc.newly_delivered,
            now,
            rtt,
            acc.newest.map(|(_, sent)| sent),
        );
        let mut sample = RateSample {
            delivered: 0,
            interval: None,
            prior_delivered: self.delivered,
            app_limited: self.app_limited != 0,
            newly_delivered: acc.newly_delivered,
            total_delivered: self.delivered,
            rtt,
        };
        let Some((stamp, sent_time)) = acc.newest else {
            return Some(sample);
        };
        sample.prior_delivered = stamp.delivered;
        sample.app_limited = stamp.app_limited;
        sample.delivered = self.delivered - stamp.delivered;
        let send_elapsed = sent_time.saturating_duration_since(stamp.first_sent_time);
        let ack_elapsed = now.saturating_duration_since(stamp.delivered_time);
        // The ACK rate can exceed the bottleneck rate (ACK compression) and the send rate can
        // exceed it too; the slower of the two bounds the delivery rate (§2.2).
        let interval = send_elapsed.max(ack_elapsed);
        let too_short = self.min_rtt.is_some_and(|min| interval < min);
        if interval > Duration::ZERO && !too_short {
            sample.interval = Some(interval);
        }
        Some(sample)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ms(m: u64) -> Instant {
        Instant::from_millis(m)
    }

    #[test]
    fn steady_flow_samples_the_send_rate() {
        // Ten 1000-byte segments sent 1 ms apart, each ACKed 50 ms after it left: the
        // delivery rate is 1000 bytes per ms = 1 MB/s, whatever the RTT.
        let mut rate = DeliveryRate::new();
        let mut stamps = Vec::new();
        for i in 0..10u64 {
            stamps.push((rate.stamp(ms(i), i == 0), ms(i)));
        }
        let mut last = None;
        for (i, (stamp, sent)) in stamps.iter().enumerate() {
            let mut acc = RateAccumulator::default();
            acc.on_delivered(stamp, *sent, 1000);
            let s = rate
                .generate(&acc, ms(50 + i as u64), Some(Duration::from_millis(50)))
                .unwrap();
            assert_eq!(s.newly_delivered, 1000);
            assert_eq!(s.total_delivered, 1000 * (i as u64 + 1));
            last = Some(s);
        }
        let s = last.unwrap();
        // All ten were stamped before the first ACK (C.delivered = 0 at time 0), so the
        // tenth ACK's sample spans all 10 000 bytes over its ACK interval, 59 ms.
        assert_eq!(s.delivered, 10_000);
        assert_eq!(s.interval, Some(Duration::from_millis(59)));
        assert_eq!(s.bandwidth(), Some(10_000 * 1000 / 59));
        // The next window's segments carry the new delivery state: 1 MB/s exactly.
        let mut stamps = Vec::new();
        for i in 0..10u64 {
            stamps.push((rate.stamp(ms(60 + i), false), ms(60 + i)));
        }
        let mut acc = RateAccumulator::default();
        for (stamp, sent) in &stamps {
            acc.on_delivered(stamp, *sent, 1000);
        }
        let s = rate.generate(&acc, ms(119), None).unwrap();
        assert_eq!(s.delivered, 10_000);
        // Newest segment: sent at 69 with delivered_time 59 and first_sent_time 9.
        // send_elapsed = 69 − 9 = 60 ms, ack_elapsed = 119 − 59 = 60 ms.
        assert_eq!(s.interval, Some(Duration::from_millis(60)));
        assert_eq!(s.prior_delivered, 10_000);
    }

    #[test]
    fn ack_compression_is_bounded_by_the_send_interval() {
        // Two segments sent 10 ms apart whose ACKs arrive together: the ACK interval says
        // nothing; the send interval (10 ms) bounds the rate.
        let mut rate = DeliveryRate::new();
        let a = rate.stamp(ms(0), true);
        let mut acc = RateAccumulator::default();
        acc.on_delivered(&a, ms(0), 1000);
        rate.generate(&acc, ms(20), Some(Duration::from_millis(20)));
        let b = rate.stamp(ms(20), false);
        let c = rate.stamp(ms(30), false);
        let mut acc = RateAccumulator::default();
        acc.on_delivered(&b, ms(20), 1000);
        acc.on_delivered(&c, ms(30), 1000);
        let s = rate.generate(&acc, ms(50), None).unwrap();
        // Newest is c: send_elapsed = 30 − 0 (first_sent_time was segment a's send time),
        // ack_elapsed = 50 − 20. Both 30 ms: 2000 bytes over 30 ms.
        assert_eq!(s.delivered, 2000);
        assert_eq!(s.interval, Some(Duration::from_millis(30)));
        // An interval below the minimum RTT (20 ms) is no sample: e.g. a spurious
        // retransmission at 50 ms acknowledged by the original's ACK at 55 ms.
        let d = SendStamp {
            delivered: rate.delivered(),
            delivered_time: ms(48),
            first_sent_time: ms(45),
            app_limited: false,
        };
        let mut acc = RateAccumulator::default();
        acc.on_delivered(&d, ms(50), 1000);
        let s = rate.generate(&acc, ms(55), None).unwrap();
        assert_eq!(s.interval, None, "5 ms < min RTT 20 ms");
        assert_eq!(s.bandwidth(), None);
        assert_eq!(s.newly_delivered, 1000);
    }

    #[test]
    fn app_limited_marks_samples_until_the_flight_is_delivered() {
        let mut rate = DeliveryRate::new();
        rate.mark_app_limited(2000);
        assert!(rate.is_app_limited());
        let a = rate.stamp(ms(0), true);
        let b = rate.stamp(ms(1), false);
        assert!(a.app_limited && b.app_limited);
        let mut acc = RateAccumulator::default();
        acc.on_delivered(&a, ms(0), 1000);
        let s = rate.generate(&acc, ms(40), None).unwrap();
        assert!(s.app_limited, "1000 of the 2000 bytes delivered");
        let c = rate.stamp(ms(40), false);
        let mut acc = RateAccumulator::default();
        acc.on_delivered(&b, ms(1), 1000);
        acc.on_delivered(&c, ms(40), 1000);
        let s = rate.generate(&acc, ms(80), None).unwrap();
        // 3000 > 2000 delivered: the stretch is over, but c was stamped inside it.
        assert!(!rate.is_app_limited());
        assert!(s.app_limited);
        let d = rate.stamp(ms(80), false);
        assert!(!d.app_limited);
    }

    #[test]
    fn nothing_delivered_is_no_sample() {
        let mut rate = DeliveryRate::new();
        assert_eq!(
            rate.generate(&RateAccumulator::default(), ms(5), None),
            None
        );
        // Bytes without a stamp count as delivered but give no rate.
        let mut acc = RateAccumulator::default();
        acc.on_delivered_bytes(500);
        let s = rate.generate(&acc, ms(5), None).unwrap();
        assert_eq!((s.newly_delivered, s.interval), (500, None));
        assert_eq!(rate.delivered(), 500);
    }
}
