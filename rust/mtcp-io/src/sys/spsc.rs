//! A bounded single-producer, single-consumer ring (Lamport's queue): the producer owns the
//! tail, the consumer the head, each keeps a cached copy of the other's index, so a push or a
//! pop is one slot access plus one release store, with no read-modify-write at all. The split
//! into a [`Producer`] and a [`Consumer`], neither `Clone` nor `Sync`, is what makes "single"
//! hold: that is the invariant the `unsafe` below relies on.
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Keeps the producer's and the consumer's index on cache lines of their own.
#[repr(align(128))]
struct Padded(AtomicUsize);

struct Ring<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot to pop (written by the consumer only).
    head: Padded,
    /// Next slot to fill (written by the producer only).
    tail: Padded,
}

// SAFETY: a slot is written only by the one producer before it publishes it (release store of
// `tail`) and read only by the one consumer after it saw that store (acquire load), then handed
// back the same way through `head`; so no slot is ever accessed from two threads at once, and
// values of a `Send` type move between threads whole.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above; shared references only reach the atomics and, through the one `Producer`
// and the one `Consumer`, disjoint slots.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let tail = *self.tail.0.get_mut();
        let mut head = *self.head.0.get_mut();
        while head != tail {
            // SAFETY: slots in head..tail were written and not yet read; `&mut self` means
            // neither end exists any more.
            unsafe { self.slots[head & self.mask].get_mut().assume_init_drop() };
            head = head.wrapping_add(1);
        }
    }
}

/// The sending end.
pub(crate) struct Producer<T> {
    ring: Arc<Ring<T>>,
    tail: usize,
    /// The consumer's head as last seen (refreshed only when the ring looks full).
    head_seen: usize,
}

/// The receiving end.
pub(crate) struct Consumer<T> {
    ring: Arc<Ring<T>>,
    head: usize,
    /// The producer's tail as last seen (refreshed only when the ring looks empty).
    tail_seen: usize,
}

/// A ring of at least `capacity` slots (rounded up to a power of two).
pub(crate) fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let size = capacity.max(2).next_power_of_two();
    let ring = Arc::new(Ring {
        slots: (0..size)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect(),
        mask: size - 1,
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
    });
    (
        Producer {
            ring: Arc::clone(&ring),
            tail: 0,
            head_seen: 0,
        },
        Consumer {
            ring,
            head: 0,
            tail_seen: 0,
        },
    )
}

impl<T> Producer<T> {
    /// Appends `value` unless the ring is full (then gives it back). It becomes visible to
    /// the consumer at the next [`Producer::publish`].
    pub(crate) fn push(&mut self, value: T) -> Result<(), T> {
        let size = self.ring.mask + 1;
        if self.tail.wrapping_sub(self.head_seen) == size {
            self.head_seen = self.ring.head.0.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head_seen) == size {
                return Err(value);
            }
        }
        let slot = &self.ring.slots[self.tail & self.ring.mask];
        // SAFETY: the slot is outside head..tail (the ring is not full: the consumer has
        // released it, acquire above or at an earlier refresh), and only this producer writes.
        unsafe { (*slot.get()).write(value) };
        self.tail = self.tail.wrapping_add(1);
        Ok(())
    }

    /// Makes every pushed value visible to the consumer.
    pub(crate) fn publish(&self) {
        self.ring.tail.0.store(self.tail, Ordering::Release);
    }
}

impl<T> Consumer<T> {
    /// Whether no published value is waiting (a `&self` look for `has_pending`: it reads the
    /// producer's index but does not cache it).
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.ring.tail.0.load(Ordering::Acquire)
    }

    /// The published value `ahead` places after the oldest (0: the one [`Consumer::pop`]
    /// takes next), left in the ring.
    #[inline]
    pub(crate) fn peek(&mut self, ahead: usize) -> Option<&T> {
        let at = self.head.wrapping_add(ahead);
        if at.wrapping_sub(self.head) >= self.tail_seen.wrapping_sub(self.head) {
            self.tail_seen = self.ring.tail.0.load(Ordering::Acquire);
            if at.wrapping_sub(self.head) >= self.tail_seen.wrapping_sub(self.head) {
                return None;
            }
        }
        let slot = &self.ring.slots[at & self.ring.mask];
        // SAFETY: head <= at < tail_seen: the producer wrote this slot before its release store
        // of the tail we acquired, and won't touch it again until `pop` releases it, which
        // needs `&mut self` and so waits for this shared borrow to end.
        Some(unsafe { (*slot.get()).assume_init_ref() })
    }

    /// Takes the oldest published value.
    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.head == self.tail_seen {
            self.tail_seen = self.ring.tail.0.load(Ordering::Acquire);
            if self.head == self.tail_seen {
                return None;
            }
        }
        let slot = &self.ring.slots[self.head & self.ring.mask];
        // SAFETY: head < tail_seen: the producer wrote this slot before its release store of
        // the tail we acquired, and won't touch it again until we release it below.
        let value = unsafe { (*slot.get()).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        self.ring.head.0.store(self.head, Ordering::Release);
        Some(value)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn fifo_full_and_empty() {
        let (mut p, mut c) = channel::<u32>(3); // rounds up to 4
        for i in 0..4 {
            assert!(p.push(i).is_ok());
        }
        assert_eq!(p.push(9), Err(9));
        assert_eq!(c.pop(), None, "nothing published yet");
        assert!(c.is_empty());
        p.publish();
        assert!(!c.is_empty());
        assert_eq!(c.pop(), Some(0));
        assert!(p.push(4).is_ok());
        p.publish();
        assert_eq!(
            (1..5).map(|_| c.pop().unwrap()).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn peek_sees_published_values_in_order_without_taking_them() {
        let (mut p, mut c) = channel::<u32>(4);
        let peek = |c: &mut Consumer<u32>, at: &[usize]| -> Vec<Option<u32>> {
            at.iter().map(|&i| c.peek(i).copied()).collect()
        };
        assert_eq!(peek(&mut c, &[0]), [None]);
        for i in 0..3 {
            assert!(p.push(i).is_ok());
        }
        assert_eq!(peek(&mut c, &[0]), [None], "nothing published yet");
        p.publish();
        assert_eq!(peek(&mut c, &[0, 2, 3]), [Some(0), Some(2), None]);
        assert_eq!(c.pop(), Some(0));
        assert_eq!(peek(&mut c, &[0, 1, 2]), [Some(1), Some(2), None]);
        // Across the end of the slots.
        assert!(p.push(3).is_ok() && p.push(4).is_ok());
        p.publish();
        assert_eq!(peek(&mut c, &[3, 4]), [Some(4), None]);
        assert_eq!(
            (0..4).map(|_| c.pop().unwrap()).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(peek(&mut c, &[0]), [None]);
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn values_left_in_the_ring_are_dropped() {
        let item = Arc::new(());
        let (mut p, c) = channel(8);
        for _ in 0..5 {
            assert!(p.push(Arc::clone(&item)).is_ok());
        }
        p.publish();
        drop((p, c));
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn two_threads_move_a_million_values_in_order() {
        // Fewer under Miri, which checks every access (and explores schedules) instead.
        const VALUES: u64 = if cfg!(miri) { 2_000 } else { 1_000_000 };
        let (mut p, mut c) = channel::<u64>(64);
        let producer = std::thread::spawn(move || {
            let mut i = 0;
            while i < VALUES {
                if p.push(i).is_ok() {
                    i += 1;
                    if i % 7 == 0 {
                        p.publish();
                    }
                } else {
                    p.publish();
                    std::thread::yield_now();
                }
            }
            p.publish();
        });
        let mut next = 0;
        while next < VALUES {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(c.pop(), None);
    }
}
