//! A hashed timer wheel (Varghese & Lauck): O(1) insert, O(1) amortised expiry per entry.
//!
//! One slot per millisecond tick; an entry stores its absolute tick, so entries more than one
//! revolution away simply wait in their slot for later rounds. Cancellation is lazy: callers
//! keep a generation and ignore stale entries when they fire.
use mtcp_proto::Instant;

const SLOTS: usize = 4096;
const TICK_US: u64 = 1000;

pub(crate) struct TimerWheel<T: Copy> {
    slots: Vec<Vec<(u64, T)>>,
    /// The next tick to process.
    current: u64,
    len: usize,
    /// A lower bound on the earliest pending tick (exact after `expire` recomputes it).
    earliest: Option<u64>,
}

impl<T: Copy> TimerWheel<T> {
    pub(crate) fn new(now: Instant) -> TimerWheel<T> {
        let mut slots = Vec::with_capacity(SLOTS);
        slots.resize_with(SLOTS, Vec::new);
        TimerWheel {
            slots,
            current: now.total_micros() / TICK_US,
            len: 0,
            earliest: None,
        }
    }

    /// Schedules `item` at `deadline` (rounded up to the next tick; a past deadline fires at the
    /// next `expire`).
    pub(crate) fn insert(&mut self, deadline: Instant, item: T) {
        let tick = deadline.total_micros().div_ceil(TICK_US).max(self.current);
        self.slots[(tick % SLOTS as u64) as usize].push((tick, item));
        self.len += 1;
        self.earliest = Some(self.earliest.map_or(tick, |e| e.min(tick)));
    }

    /// Moves every entry due at or before `now` into `fired`.
    pub(crate) fn expire(&mut self, now: Instant, fired: &mut Vec<T>) {
        let now_tick = now.total_micros() / TICK_US;
        if self.len == 0 {
            self.current = self.current.max(now_tick + 1);
            return;
        }
        if self.earliest.is_some_and(|e| e > now_tick) {
            return;
        }
        // Visit each slot at most once even after a long idle gap.
        let last = now_tick.min(self.current + SLOTS as u64 - 1);
        let mut tick = self.current;
        while tick <= last {
            let slot = &mut self.slots[(tick % SLOTS as u64) as usize];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].0 <= now_tick {
                    fired.push(slot.swap_remove(i).1);
                    self.len -= 1;
                } else {
                    i += 1;
                }
            }
            tick += 1;
        }
        self.current = now_tick + 1;
        self.earliest = self.scan_earliest();
    }

    fn scan_earliest(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        // Nearest non-empty slot gives the answer unless an entry there belongs to a later
        // round; the minimum over that slot and one revolution bounds it either way.
        let mut best: Option<u64> = None;
        for offset in 0..SLOTS as u64 {
            let tick = self.current + offset;
            if best.is_some_and(|b| b <= tick) {
                break;
            }
            for &(t, _) in &self.slots[(tick % SLOTS as u64) as usize] {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        best
    }

    /// The earliest instant an entry may be due (a lower bound), if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.earliest.map(|t| Instant::from_micros(t * TICK_US))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    #[test]
    fn fires_in_time_and_not_before() {
        let mut w = TimerWheel::new(ms(0));
        w.insert(ms(5), 'a');
        w.insert(ms(5000), 'b'); // more than one revolution away
        w.insert(Instant::from_micros(2500), 'c'); // rounds up to 3 ms
        let mut fired = Vec::new();
        w.expire(ms(2), &mut fired);
        assert!(fired.is_empty());
        assert_eq!(w.next_deadline(), Some(ms(3)));
        w.expire(ms(3), &mut fired);
        assert_eq!(fired, vec!['c']);
        w.expire(ms(4999), &mut fired);
        assert_eq!(fired, vec!['c', 'a']);
        assert_eq!(w.next_deadline(), Some(ms(5000)));
        w.expire(ms(5000), &mut fired);
        assert_eq!(fired, vec!['c', 'a', 'b']);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn long_idle_gap_fires_everything_due() {
        let mut w = TimerWheel::new(ms(0));
        for i in 0..100u64 {
            w.insert(ms(i * 97), i);
        }
        let mut fired = Vec::new();
        w.expire(ms(1_000_000), &mut fired);
        fired.sort_unstable();
        assert_eq!(fired, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn past_deadline_fires_next_expire() {
        let mut w = TimerWheel::new(ms(10));
        w.insert(ms(1), 7);
        let mut fired = Vec::new();
        w.expire(ms(10), &mut fired);
        assert_eq!(fired, vec![7]);
    }
}
