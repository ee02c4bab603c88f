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
/// again (the reassembly ranges' "allocated once" rule, kept with lazy allocation).
pub(super) fn reserve_whole<T>(v: &mut Vec<T>, whole: usize) {
    if v.capacity() < whole {
        v.reserve_exact(whole - v.len());
    }
}

/// The first allocation of a byte ring: a 64-byte request/response, which always starts at
/// offset 0 of an emptied ring (see `rewind`), never needs more.
const FIRST_RESERVE: usize = 256;

/// Makes `bytes[..end]` addressable (zero-filled when new), `end <= capacity`.
///
/// A ring's storage grows only as far as bytes are written: first [`FIRST_RESERVE`] bytes,
/// then doubling up to `capacity`. An idle or ping-pong connection thus holds a few hundred
/// bytes instead of its whole buffer (100k connections with 2 KiB buffers: 8 KiB less per
/// pair). A connection reallocates at most log2(capacity / 256) times in its life, each time
/// it first reaches further into its buffer; never in a steady state.
#[inline]
pub(super) fn reach(bytes: &mut Vec<u8>, capacity: usize, end: usize) {
    if bytes.len() < end {
        grow(bytes, capacity, end);
    }
}

#[cold]
fn grow(bytes: &mut Vec<u8>, capacity: usize, end: usize) {
    debug_assert!(end <= capacity);
    if bytes.capacity() < end {
        let size = end.next_power_of_two().max(FIRST_RESERVE).min(capacity);
        bytes.reserve_exact(size - bytes.len());
    }
    bytes.resize(end, 0);
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
