//! Out-of-order reassembly bookkeeping: which byte ranges past RCV.NXT are already stored in the
//! receive buffer's free space (RFC 9293 §3.10.7.4, "segments with higher beginning sequence
//! numbers can be held for later processing").
//!
//! Offsets are relative to RCV.NXT. A bounded number of disjoint ranges is tracked (the
//! bound scales with the receive buffer, see [`Assembler::for_buffer`]); a segment that would
//! need more is dropped (the sender retransmits it). The ranges live in one allocation made
//! when the connection is created, never resized.

/// Fewest disjoint out-of-order ranges kept (the bound for small buffers).
pub(super) const MIN_RANGES: usize = 8;
/// Most disjoint out-of-order ranges kept, whatever the buffer.
pub(super) const MAX_RANGES: usize = 1024;

/// Sorted, disjoint, non-adjacent ranges `[start, end)` of received out-of-order bytes.
#[derive(Debug, Clone)]
pub(super) struct Assembler {
    ranges: Vec<(usize, usize)>,
    /// How many ranges may be held (the Vec never grows past it).
    limit: usize,
}

impl Default for Assembler {
    fn default() -> Self {
        Assembler::with_limit(MIN_RANGES)
    }
}

/// The range was not recorded: every slot holds a disjoint range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooManyHoles;

impl Assembler {
    /// Room for `limit` ranges, allocated with the first range (most connections never see
    /// a segment out of order).
    pub(super) fn with_limit(limit: usize) -> Assembler {
        Assembler {
            ranges: Vec::new(),
            limit,
        }
    }

    /// Bytes its allocation holds (what [`super::Storage::bytes`] counts for it).
    pub(super) fn storage_bytes(&self) -> usize {
        self.ranges.capacity() * core::mem::size_of::<(usize, usize)>()
    }

    /// The allocation, emptied, for a later connection; the assembler is left empty.
    pub(super) fn take_storage(&mut self) -> Vec<(usize, usize)> {
        super::storage::emptied(&mut self.ranges)
    }

    /// Uses `storage` (an earlier assembler's allocation) unless this one has allocated.
    pub(super) fn adopt_storage(&mut self, storage: Vec<(usize, usize)>) {
        super::storage::adopt(&mut self.ranges, storage);
    }

    /// An assembler for a receive buffer of `rcvbuf` bytes receiving segments of at most
    /// `mss` bytes: one range per two segments the buffer holds (a hole needs at least one
    /// segment between two ranges), between [`MIN_RANGES`] and [`MAX_RANGES`]. With a
    /// window of many segments and random loss every few segments, a fixed small bound made
    /// the receiver drop most of the window beyond the first holes.
    pub(super) fn for_buffer(rcvbuf: usize, mss: usize) -> Assembler {
        let limit = (rcvbuf / (2 * mss.max(1))).clamp(MIN_RANGES, MAX_RANGES);
        Assembler::with_limit(limit)
    }

    /// [`Assembler::for_buffer`] in place, keeping the allocation (emptied), as
    /// [`Assembler::adopt_storage`] of its own [`Assembler::take_storage`] would.
    pub(super) fn reset_for_buffer(&mut self, rcvbuf: usize, mss: usize) {
        let ranges = super::storage::emptied(&mut self.ranges);
        *self = Assembler {
            ranges,
            ..Assembler::for_buffer(rcvbuf, mss)
        };
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The stored ranges, nearest first, as offsets from RCV.NXT.
    pub(super) fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Records that bytes `[start, end)` are stored. Returns how many bytes starting at offset 0
    /// are now contiguous; they leave the assembler (offsets are re-based past them), and the
    /// caller advances RCV.NXT by that much.
    pub(super) fn add(&mut self, start: usize, end: usize) -> Result<usize, TooManyHoles> {
        if start == 0 && end > 0 && self.ranges.len() == self.limit && self.ranges[0].0 > end {
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
        let i = self.ranges.partition_point(|r| r.1 < start);
        // Merge every range overlapping or touching [start, end).
        let mut j = i;
        while j < self.ranges.len() && self.ranges[j].0 <= end {
            start = start.min(self.ranges[j].0);
            end = end.max(self.ranges[j].1);
            j += 1;
        }
        if j == i {
            if self.ranges.len() >= self.limit {
                return Err(TooManyHoles);
            }
            // All `limit` slots at the first insert: no allocation after.
            super::storage::reserve_whole(&mut self.ranges, self.limit);
            self.ranges.insert(i, (start, end));
        } else {
            self.ranges.drain(i + 1..j);
            self.ranges[i] = (start, end);
        }
        Ok(())
    }

    fn remove(&mut self, i: usize) {
        self.ranges.remove(i);
    }

    /// RCV.NXT moved forward by `n`: re-base every offset.
    fn shift(&mut self, n: usize) {
        for r in &mut self.ranges {
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
        for i in 0..MIN_RANGES {
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
        assert_eq!(a.ranges().len(), MIN_RANGES);
        assert_eq!(a.add(0, 2), Ok(4));
    }

    #[test]
    fn the_bound_scales_with_the_buffer_and_never_reallocates() {
        assert_eq!(Assembler::for_buffer(8192, 1460).limit, MIN_RANGES);
        assert_eq!(Assembler::for_buffer(2 << 20, 1460).limit, 718);
        assert_eq!(Assembler::for_buffer(4 << 20, 1460).limit, MAX_RANGES);
        let mut a = Assembler::for_buffer(2 << 20, 1460);
        // Nothing allocated until the first range, then all 718 slots at once.
        assert_eq!(a.ranges.capacity(), 0);
        a.add(1, 2).unwrap();
        let capacity = a.ranges.capacity();
        assert!(capacity >= 718);
        for i in 1..718 {
            a.add(3 * i + 1, 3 * i + 2).unwrap();
        }
        assert_eq!(a.add(10_000, 10_001), Err(TooManyHoles));
        assert_eq!(a.ranges.capacity(), capacity);
        assert_eq!(a.add(0, 1), Ok(2));
    }
}
