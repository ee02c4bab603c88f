//! The per-context socket pool: a fixed array of `max_concurrency` slots with a free list, so
//! allocating and freeing a descriptor are O(1) and an empty pool is ENFILE (mTCP's `smap`).

/// A fixed-size pool of `T` indexed by small ints.
pub(crate) struct Pool<T> {
    slots: Vec<Option<T>>,
    /// Per slot, how many times it was freed: tells a value from a later one in the same slot
    /// (an epoll ready-queue entry from a descriptor closed since).
    generations: Vec<u32>,
    /// Free indices; the lowest is on top so a fresh pool hands out 0, 1, 2, …
    free: Vec<u32>,
}

impl<T> Pool<T> {
    pub(crate) fn new(capacity: usize) -> Pool<T> {
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || None);
        Pool {
            slots,
            generations: vec![0; capacity],
            free: (0..capacity as u32).rev().collect(),
        }
    }

    /// Takes a free slot, or `None` when the pool is exhausted.
    #[inline]
    pub(crate) fn insert(&mut self, value: T) -> Option<u32> {
        self.insert_with(|| value)
    }

    /// Takes a free slot for the value `make` builds there (no copy of it), or `None`
    /// (without calling `make`) when the pool is exhausted.
    #[inline]
    pub(crate) fn insert_with(&mut self, make: impl FnOnce() -> T) -> Option<u32> {
        let index = self.free.pop()?;
        let slot = &mut self.slots[index as usize];
        // A free slot is empty: nothing to drop first, so `make` writes straight into it.
        debug_assert!(slot.is_none());
        slot.get_or_insert_with(make);
        Some(index)
    }

    /// Returns a slot to the pool, dropping its value in place (`remove` moves it out); false
    /// when the slot is free already.
    #[inline]
    pub(crate) fn free(&mut self, index: u32) -> bool {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return false;
        };
        if slot.is_none() {
            return false;
        }
        *slot = None;
        self.generations[index as usize] = self.generations[index as usize].wrapping_add(1);
        self.free.push(index);
        true
    }

    /// Returns a slot to the pool.
    pub(crate) fn remove(&mut self, index: u32) -> Option<T> {
        let value = self.slots.get_mut(index as usize)?.take()?;
        self.generations[index as usize] = self.generations[index as usize].wrapping_add(1);
        self.free.push(index);
        Some(value)
    }

    /// How many times slot `index` was freed (0 out of range): changes whenever its value
    /// does.
    #[inline]
    pub(crate) fn generation(&self, index: u32) -> u32 {
        self.generations.get(index as usize).copied().unwrap_or(0)
    }

    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        self.slots.get(index as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut T> {
        self.slots.get_mut(index as usize)?.as_mut()
    }

    /// Starts loading slot `index` into the cache (a hint: it reads nothing).
    #[inline]
    pub(crate) fn prefetch(&self, index: u32) {
        if let Some(slot) = self.slots.get(index as usize) {
            mtcp_io::sys::prefetch::prefetch_value(slot, usize::MAX);
        }
    }

    pub(crate) fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub(crate) fn available(&self) -> usize {
        self.free.len()
    }

    /// Indices of occupied slots (for shutdown only: never on a per-packet path).
    pub(crate) fn occupied(&self) -> Vec<u32> {
        (0..self.slots.len() as u32)
            .filter(|&i| self.slots[i as usize].is_some())
            .collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn allocates_lowest_first_and_reuses() {
        let mut pool = Pool::new(3);
        assert_eq!(pool.insert('a'), Some(0));
        assert_eq!(pool.insert('b'), Some(1));
        assert_eq!(pool.insert('c'), Some(2));
        assert_eq!(pool.insert('d'), None);
        assert_eq!(pool.remove(1), Some('b'));
        assert_eq!(pool.remove(1), None);
        assert_eq!(pool.insert('e'), Some(1));
        assert_eq!(pool.in_use(), 3);
        assert_eq!(pool.get(1), Some(&'e'));
        assert!(pool.free(2));
        assert!(!pool.free(2));
        assert_eq!(pool.get(2), None);
        assert_eq!(pool.insert_with(|| 'f'), Some(2));
        assert_eq!(pool.insert_with(|| unreachable!("the pool is full")), None);
    }

    #[test]
    fn a_slot_changes_generation_when_freed() {
        let mut pool = Pool::new(2);
        let a = pool.insert('a').unwrap();
        let before = pool.generation(a);
        assert!(pool.free(a));
        let b = pool.insert('b').unwrap();
        assert_eq!(a, b);
        assert_ne!(pool.generation(b), before);
        let after_free = pool.generation(b);
        assert!(!pool.free(1), "a free slot stays as it was");
        assert_eq!(pool.remove(b), Some('b'));
        assert_ne!(pool.generation(b), after_free);
        assert_eq!(pool.generation(7), 0);
    }
}
