//! The send buffer: a fixed-capacity ring of bytes the application has queued and the peer has
//! not yet acknowledged (RFC 9293 §3.3.1, the region from SND.UNA onwards).
//!
//! Offset 0 is the oldest unacknowledged byte. The storage grows as bytes are first written
//! further into the ring (or is adopted from a closed connection, see [`super::Storage`]), and
//! an emptied ring starts again at index 0, so request/response traffic keeps using the same
//! few hundred bytes.

/// A ring buffer of queued outgoing bytes.
#[cfg_attr(test, derive(Clone))]
pub(super) struct SendBuffer {
    /// Grows (zero-filled) up to `capacity` as bytes are first written (`storage::reach`), so a
    /// connection pays for the part of its buffer it ever uses (a request/response connection
    /// a few hundred bytes of 8 KiB).
    storage: Vec<u8>,
    capacity: usize,
    /// Index in `storage` of the byte at offset 0.
    head: usize,
    /// Number of queued bytes.
    len: usize,
}

/// Sizes only: the bytes would drown a `{:?}` of the connection.
impl core::fmt::Debug for SendBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SendBuffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl SendBuffer {
    /// A buffer of `capacity` bytes (at least one).
    pub(super) fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            storage: Vec::new(),
            capacity: capacity.max(1),
            head: 0,
            len: 0,
        }
    }

    /// [`SendBuffer::new`] in place, keeping the allocation (emptied) for the new buffer, as
    /// [`SendBuffer::adopt_storage`] of its own [`SendBuffer::take_storage`] would.
    pub(super) fn reset(&mut self, capacity: usize) {
        let storage = super::storage::emptied(&mut self.storage);
        *self = SendBuffer {
            storage,
            ..SendBuffer::new(capacity)
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
        self.len = 0;
        super::storage::emptied(&mut self.storage)
    }

    /// Uses `storage` (an earlier buffer's allocation) unless this one has allocated already.
    pub(super) fn adopt_storage(&mut self, storage: Vec<u8>) {
        super::storage::adopt(&mut self.storage, storage);
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Appends as much of `data` as fits and returns how much that was.
    pub(super) fn enqueue(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let cap = self.capacity();
        let tail = super::storage::ring_wrap(self.head + self.len, cap);
        let first = n.min(cap - tail);
        // A write that wraps has reached the end first, so the wrapped part is addressable.
        super::storage::reach(&mut self.storage, self.capacity, tail + first);
        self.storage[tail..tail + first].copy_from_slice(&data[..first]);
        // Most writes do not wrap: no second (empty) copy call then.
        if first < n {
            self.storage[..n - first].copy_from_slice(&data[first..n]);
        }
        self.len += n;
        n
    }

    /// Copies the bytes at `offset..offset + out.len()` into `out`; the range must be queued.
    pub(super) fn copy_out(&self, offset: usize, out: &mut [u8]) {
        debug_assert!(offset + out.len() <= self.len);
        let cap = self.capacity();
        let start = super::storage::ring_wrap(self.head + offset, cap);
        let first = out.len().min(cap - start);
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        let rest = out.len() - first;
        if rest > 0 {
            out[first..].copy_from_slice(&self.storage[..rest]);
        }
    }

    /// Drops the `n` oldest bytes (they were acknowledged).
    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        // An emptied ring starts again at index 0: offsets are relative to `head`, so nothing
        // refers to the old index, and the next write lands in storage already touched.
        self.head = if self.len == 0 {
            0
        } else {
            super::storage::ring_wrap(self.head + n, self.capacity())
        };
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn wraps_around() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.enqueue(b"abcdef"), 6);
        b.consume(4);
        assert_eq!(b.enqueue(b"ghijklmn"), 6);
        assert_eq!(b.len(), 8);
        assert_eq!(b.free(), 0);
        let mut out = [0; 8];
        b.copy_out(0, &mut out);
        assert_eq!(&out, b"efghijkl");
        let mut out = [0; 3];
        b.copy_out(4, &mut out);
        assert_eq!(&out, b"ijk");
        b.consume(100);
        assert_eq!(b.len(), 0);
    }
}
