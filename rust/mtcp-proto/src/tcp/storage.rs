//! The heap storage of a connection, handed from a closed connection to the next one.
//!
//! A connection allocates four things, each on first use: its send and receive rings, the
//! scoreboard of segments in flight and the reassembly ranges. A runtime that opens and closes
//! many connections keeps what [`Connection::into_storage`] gives back in a per-context pool
//! and hands it to [`Connection::adopt_storage`] of a new connection, so that once the pool is
//! warm, opening and closing a connection allocates nothing (mTCP preallocates its buffers per
//! core for the same reason). Parts that are too small for the new connection grow on first
//! use, as if they were new.
use std::collections::VecDeque;

use super::scoreboard::SentSegment;
#[cfg(doc)]
use super::Connection;

/// Allocations of a finished connection, empty, ready for another (see the module docs).
#[derive(Default)]
pub struct Storage {
    pub(super) send: Vec<u8>,
    pub(super) recv: Vec<u8>,
    pub(super) segments: VecDeque<SentSegment>,
    pub(super) ranges: Vec<(usize, usize)>,
}

impl Storage {
    /// Bytes held (capacities), so a pool can bound what it keeps.
    pub fn bytes(&self) -> usize {
        self.send.capacity()
            + self.recv.capacity()
            + self.segments.capacity() * core::mem::size_of::<SentSegment>()
            + self.ranges.capacity() * core::mem::size_of::<(usize, usize)>()
    }
}

/// Sizes only.
impl core::fmt::Debug for Storage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Storage")
            .field("bytes", &self.bytes())
            .finish()
    }
}

/// Reserves room for `whole` elements at once when `v` has less, so that it never grows
/// again (the buffers' "allocated once" rule, kept with lazy allocation).
pub(super) fn reserve_whole<T>(v: &mut Vec<T>, whole: usize) {
    if v.capacity() < whole {
        v.reserve_exact(whole - v.len());
    }
}

/// Makes `bytes[..end]` addressable (zero-filled when new), allocating the whole `capacity`
/// the first time (`end <= capacity`): a ring buffer's storage grows only on first use.
#[inline]
pub(super) fn reach(bytes: &mut Vec<u8>, capacity: usize, end: usize) {
    if bytes.len() < end {
        reserve_whole(bytes, capacity);
        bytes.resize(end, 0);
    }
}

/// Takes `v`'s allocation, emptied.
pub(super) fn emptied<T>(v: &mut Vec<T>) -> Vec<T> {
    let mut taken = core::mem::take(v);
    taken.clear();
    taken
}

/// Puts `spare` in place of `v` when `v` has no allocation yet (else `spare` is dropped).
pub(super) fn adopt<T>(v: &mut Vec<T>, mut spare: Vec<T>) {
    if v.capacity() == 0 {
        spare.clear();
        *v = spare;
    }
}

/// `index % capacity` for an index below twice the capacity, the only kind the byte rings
/// form (a position below the capacity plus a length at most the capacity): a compare instead
/// of a division on every ring access.
#[inline]
pub(super) fn ring_wrap(index: usize, capacity: usize) -> usize {
    debug_assert!(index < 2 * capacity);
    if index >= capacity {
        index - capacity
    } else {
        index
    }
}
