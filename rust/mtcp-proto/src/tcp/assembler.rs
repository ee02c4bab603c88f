//! Out-of-order reassembly bookkeeping: which byte ranges past RCV.NXT are already stored in the
//! receive buffer's free space (RFC 9293 §3.10.7.4, "segments with higher beginning sequence
//! numbers can be held for later processing").
//!
//! Offsets are relative to RCV.NXT. At most [`MAX_RANGES`] disjoint ranges are tracked; a
//! segment that would need more is dropped (the sender retransmits it).

/// How many disjoint out-of-order ranges are kept.
pub(super) const MAX_RANGES: usize = 8;

/// Sorted, disjoint, non-adjacent ranges `[start, end)` of received out-of-order bytes.
#[derive(Debug, Clone, Default)]
pub(super) struct Assembler {
    ranges: [(usize, usize); MAX_RANGES],
    count: usize,
}

/// The range was not recorded: every slot holds a disjoint range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyHoles;

impl Assembler {
    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The stored ranges, nearest first, as offsets from RCV.NXT.
    pub(super) fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.count]
    }

    /// Records that bytes `[start, end)` are stored. Returns how many bytes starting at offset 0
    /// are now contiguous; they leave the assembler (offsets are re-based past them), and the
    /// caller advances RCV.NXT by that much.
    pub(super) fn add(&mut self, start: usize, end: usize) -> Result<usize, TooManyHoles> {
        if start == 0 && end > 0 && self.count == MAX_RANGES && self.ranges[0].0 > end {
            // In-order data needs no slot: with every slot taken it must still be accepted,
            // or the first hole could never be filled.
            self.shift(end);
            return Ok(end);
        }
        if start < end {
            self.insert(start, end)?;
        }
        match self.ranges().first() {
            Some(&(0, front_end)) => {
                self.remove(0);
                self.shift(front_end);
                Ok(front_end)
            }
            _ => Ok(0),
        }
    }

    fn insert(&mut self, mut start: usize, mut end: usize) -> Result<(), TooManyHoles> {
        // First range that ends at or after `start` (touching ranges merge).
        let mut i = 0;
        while i < self.count && self.ranges[i].1 < start {
            i += 1;
        }
        // Merge every range overlapping or touching [start, end).
        let mut j = i;
        while j < self.count && self.ranges[j].0 <= end {
            start = start.min(self.ranges[j].0);
            end = end.max(self.ranges[j].1);
            j += 1;
        }
        let merged = j - i;
        if merged == 0 {
            if self.count == MAX_RANGES {
                return Err(TooManyHoles);
            }
            self.ranges.copy_within(i..self.count, i + 1);
            self.count += 1;
        } else if merged > 1 {
            self.ranges.copy_within(j..self.count, i + 1);
            self.count -= merged - 1;
        }
        self.ranges[i] = (start, end);
        Ok(())
    }

    fn remove(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.count, i);
        self.count -= 1;
    }

    /// RCV.NXT moved forward by `n`: re-base every offset.
    fn shift(&mut self, n: usize) {
        for r in &mut self.ranges[..self.count] {
            r.0 -= n;
            r.1 -= n;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn merges_and_delivers_front() {
        let mut a = Assembler::default();
        assert_eq!(a.add(10, 20), Ok(0));
        assert_eq!(a.add(30, 40), Ok(0));
        assert_eq!(a.add(20, 30), Ok(0));
        assert_eq!(a.ranges(), &[(10, 40)]);
        assert_eq!(a.add(0, 10), Ok(40));
        assert!(a.is_empty());
    }

    #[test]
    fn too_many_holes() {
        let mut a = Assembler::default();
        for i in 0..MAX_RANGES {
            a.add(10 * i + 5, 10 * i + 6).unwrap();
        }
        assert_eq!(a.add(1000, 1001), Err(TooManyHoles));
        // Touching an existing range still works.
        assert_eq!(a.add(6, 7), Ok(0));
        assert_eq!(a.ranges()[0], (5, 7));
        // In-order data is accepted with every slot taken (else the first hole stays open
        // forever): it is delivered and the ranges move down.
        assert_eq!(a.add(0, 3), Ok(3));
        assert_eq!(a.ranges()[0], (2, 4));
        assert_eq!(a.ranges().len(), MAX_RANGES);
        assert_eq!(a.add(0, 2), Ok(4));
    }
}
