//! The receive buffer: a fixed-capacity ring holding in-order bytes the application has not
//! read yet, followed by free space where out-of-order segments are parked until the
//! [`Assembler`](super::assembler::Assembler) says the gap before them is filled
//! (RFC 9293 §3.10.7.4, "seventh, process the segment text").

/// A ring buffer of received bytes: `readable` in-order bytes, then the receive window.
#[cfg_attr(test, derive(Clone))]
pub(super) struct RecvBuffer {
    /// Grows (zero-filled) up to `capacity` as bytes are first written (`storage::reach`), so a
    /// connection pays for the part of its buffer it ever uses (a request/response connection
    /// a few hundred bytes of 8 KiB); or adopted from a closed connection, see
    /// [`super::Storage`].
    storage: Vec<u8>,
    capacity: usize,
    /// Index in `storage` of the next byte the application reads.
    head: usize,
    /// In-order bytes ready for the application.
    readable: usize,
}

/// Sizes only: the bytes would drown a `{:?}` of the connection.
impl core::fmt::Debug for RecvBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecvBuffer")
            .field("readable", &self.readable)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl RecvBuffer {
    /// A buffer of `capacity` bytes (at least one).
    pub(super) fn new(capacity: usize) -> RecvBuffer {
        RecvBuffer {
            storage: Vec::new(),
            capacity: capacity.max(1),
            head: 0,
            readable: 0,
        }
    }

    /// [`RecvBuffer::new`] in place, keeping the allocation (emptied) for the new buffer, as
    /// [`RecvBuffer::adopt_storage`] of its own [`RecvBuffer::take_storage`] would.
    pub(super) fn reset(&mut self, capacity: usize) {
        let storage = super::storage::emptied(&mut self.storage);
        *self = RecvBuffer {
            storage,
            ..RecvBuffer::new(capacity)
        };
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes its allocation holds (what [`super::Storage::bytes`] counts for it).
    pub(super) fn storage_bytes(&self) -> usize {
        self.storage.capacity()
    }

    /// The allocation, emptied, for a later connection; the buffer is left empty.
    pub(super) fn take_storage(&mut self) -> Vec<u8> {
        self.head = 0;
        self.readable = 0;
        super::storage::emptied(&mut self.storage)
    }

    /// Uses `storage` (an earlier buffer's allocation) unless this one has allocated already.
    pub(super) fn adopt_storage(&mut self, storage: Vec<u8>) {
        super::storage::adopt(&mut self.storage, storage);
    }

    /// In-order bytes the application may read.
    pub(super) fn readable(&self) -> usize {
        self.readable
    }

    /// Space after the readable bytes: what the receive window may cover.
    pub(super) fn free(&self) -> usize {
        self.capacity() - self.readable
    }

    /// Stores `data` at `offset` bytes past the readable region (offset 0 = RCV.NXT). The caller
    /// trims so that `offset + data.len() <= free()`.
    pub(super) fn write_at(&mut self, offset: usize, data: &[u8]) {
        debug_assert!(offset + data.len() <= self.free());
        let cap = self.capacity();
        let start = super::storage::ring_wrap(self.head + self.readable + offset, cap);
        let first = data.len().min(cap - start);
        // A write that wraps has reached the end first, so the wrapped part is addressable.
        super::storage::reach(&mut self.storage, self.capacity, start + first);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        // Most writes do not wrap: no second (empty) copy call then.
        if first < data.len() {
            self.storage[..data.len() - first].copy_from_slice(&data[first..]);
        }
    }

    /// Makes `n` more bytes (already written at offset 0..n) readable.
    pub(super) fn commit(&mut self, n: usize) {
        debug_assert!(n <= self.free());
        self.readable += n;
    }

    /// Copies up to `out.len()` readable bytes into `out`, consuming them unless `peek`.
    pub(super) fn read(&mut self, out: &mut [u8], peek: bool) -> usize {
        let n = out.len().min(self.readable);
        let cap = self.capacity();
        let first = n.min(cap - self.head);
        out[..first].copy_from_slice(&self.storage[self.head..self.head + first]);
        if first < n {
            out[first..n].copy_from_slice(&self.storage[..n - first]);
        }
        if !peek {
            self.discard(n);
        }
        n
    }

    /// Starts the ring again at index 0 when it holds nothing: no readable bytes, and the
    /// caller guarantees that no out-of-order segment is parked past them (their places are
    /// relative to `head`). Request/response traffic then reuses the same storage.
    pub(super) fn rewind_if_empty(&mut self) {
        if self.readable == 0 {
            self.head = 0;
        }
    }

    /// Drops `n` readable bytes without copying them.
    pub(super) fn discard(&mut self, n: usize) {
        let n = n.min(self.readable);
        self.head = super::storage::ring_wrap(self.head + n, self.capacity());
        self.readable -= n;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn out_of_order_write_then_commit() {
        let mut b = RecvBuffer::new(8);
        b.write_at(0, b"abc");
        b.commit(3);
        let mut out = [0; 2];
        assert_eq!(b.read(&mut out, false), 2);
        assert_eq!(&out, b"ab");
        // 'c' readable; free = 7. Park "fg" at offset 2 (wraps), then fill "de".
        b.write_at(2, b"fgh");
        b.write_at(0, b"de");
        b.commit(5);
        let mut out = [0; 8];
        assert_eq!(b.read(&mut out, true), 6);
        assert_eq!(&out[..6], b"cdefgh");
        assert_eq!(b.read(&mut out, false), 6);
        assert_eq!(b.readable(), 0);
        assert_eq!(b.free(), 8);
    }

    #[test]
    fn parked_segment_beyond_untouched_space_then_wrap() {
        // Storage is filled lazily: a segment parked far past RCV.NXT, the gap filled later,
        // then writes that wrap, all read back intact.
        let mut b = RecvBuffer::new(16);
        assert_eq!(b.capacity(), 16);
        b.write_at(10, b"klm");
        b.write_at(0, b"abcdefghij");
        b.commit(13);
        let mut out = [0; 16];
        assert_eq!(b.read(&mut out, false), 13);
        assert_eq!(&out[..13], b"abcdefghijklm");
        b.write_at(0, b"nopqrstu");
        b.commit(8);
        assert_eq!(b.read(&mut out, false), 8);
        assert_eq!(&out[..8], b"nopqrstu");
        assert_eq!(b.free(), 16);
    }
}
