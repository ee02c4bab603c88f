//! A windowed maximum (Kathleen Nichols' algorithm, Linux's `lib/win_minmax.c`): the largest
//! value seen over the last `window` time units, kept in three samples (best, second best
//! from a later sub-window, third best from a later one still) so an update is O(1) and
//! nothing is allocated. BBR filters its bandwidth samples with it over 10 round trips
//! (draft-ietf-ccwg-bbr-04 §5.5 "BBR.max_bw", §2.10 MaxBwFilterLen; Linux `bbr_update_bw`).

/// One sample: `value` measured at `time` (for BBR, the round-trip count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Sample {
    time: u64,
    value: u64,
}

/// Running maximum over a sliding window of `time` (`minmax_running_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct WindowedMax {
    samples: [Sample; 3],
}

impl WindowedMax {
    /// The maximum over the window (0 before any sample).
    pub(super) fn get(&self) -> u64 {
        self.samples[0].value
    }

    /// Forgets everything and starts from `value` at `time`.
    pub(super) fn reset(&mut self, time: u64, value: u64) {
        self.samples = [Sample { time, value }; 3];
    }

    /// Adds `value` measured at `time` (non-decreasing) and returns the window's maximum.
    pub(super) fn update(&mut self, window: u64, time: u64, value: u64) -> u64 {
        let new = Sample { time, value };
        // A new maximum, or nothing left in the window: start over from this sample.
        if value >= self.samples[0].value || time.saturating_sub(self.samples[2].time) > window {
            self.reset(time, value);
            return value;
        }
        if value >= self.samples[1].value {
            self.samples[2] = new;
            self.samples[1] = new;
        } else if value >= self.samples[2].value {
            self.samples[2] = new;
        }
        self.expire(window, new)
    }

    /// `minmax_subwin_update`: ages the best sample out once it is older than the window,
    /// and refreshes the second and third choices after a quarter and half of it.
    fn expire(&mut self, window: u64, new: Sample) -> u64 {
        let age = new.time.saturating_sub(self.samples[0].time);
        if age > window {
            // The best passed out of the window: the second becomes best, the third second.
            self.samples[0] = self.samples[1];
            self.samples[1] = self.samples[2];
            self.samples[2] = new;
            if new.time.saturating_sub(self.samples[0].time) > window {
                self.samples[0] = self.samples[1];
                self.samples[1] = self.samples[2];
                self.samples[2] = new;
            }
        } else if self.samples[1].time == self.samples[0].time && age > window / 4 {
            // A quarter of the window without a new second choice: take one from now.
            self.samples[1] = new;
            self.samples[2] = new;
        } else if self.samples[2].time == self.samples[1].time && age > window / 2 {
            // Half the window without a new third choice: take one from now.
            self.samples[2] = new;
        }
        self.samples[0].value
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keeps_the_maximum_for_the_window_then_forgets_it() {
        let mut f = WindowedMax::default();
        assert_eq!(f.update(10, 0, 100), 100);
        // Lower samples do not displace the maximum while it is in the window.
        for t in 1..=10 {
            assert_eq!(f.update(10, t, 50 + t), 100, "round {t}");
        }
        // Round 11: the 100 from round 0 is older than 10 rounds; the best of the later
        // choices takes over (not the latest value, not 100).
        let after = f.update(10, 11, 40);
        assert!((51..100).contains(&after), "{after}");
        // Long after, only recent samples count.
        for t in 12..40 {
            f.update(10, t, 30);
        }
        assert_eq!(f.get(), 30);
    }

    #[test]
    fn a_new_maximum_resets_and_a_gap_restarts() {
        let mut f = WindowedMax::default();
        f.update(10, 0, 100);
        assert_eq!(f.update(10, 3, 200), 200);
        assert_eq!(f.update(10, 4, 150), 200);
        // No sample for longer than the window: the next one is the maximum.
        assert_eq!(f.update(10, 30, 10), 10);
        f.reset(31, 7);
        assert_eq!(f.get(), 7);
    }

    #[test]
    fn tracks_a_falling_rate_within_one_window_plus_a_quarter() {
        // A rate that halves at round 20: the filter follows within ~1.25 windows.
        let mut f = WindowedMax::default();
        let mut followed_at = None;
        for t in 0..60 {
            let v = if t < 20 { 1000 } else { 500 };
            if f.update(10, t, v) == 500 && followed_at.is_none() {
                followed_at = Some(t);
            }
        }
        let at = followed_at.expect("never followed the drop");
        assert!((30..=33).contains(&at), "followed at round {at}");
    }
}
