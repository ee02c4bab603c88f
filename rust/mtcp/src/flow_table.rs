//! Flows: connections in a slab with generation counters, found by 4-tuple through a hash map
//! that is sized once (O(1) lookup; never a scan over all sockets).
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A flow's key from this host's point of view: (remote ip, remote port, local port). The
/// local IP is the host's one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey(u64);

impl FlowKey {
    pub(crate) fn new(remote: SocketAddrV4, local_port: u16) -> FlowKey {
        FlowKey(
            (u64::from(u32::from(*remote.ip())) << 32)
                | (u64::from(remote.port()) << 16)
                | u64::from(local_port),
        )
    }

    pub(crate) fn remote(self) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from((self.0 >> 32) as u32), (self.0 >> 16) as u16)
    }
}

/// Multiply-xorshift hasher for one u64 key, keyed with a per-context secret: the remote
/// address and port are the peer's choice, and with a known function a SYN flood could pick
/// 4-tuples that all land in one probe sequence (the secret goes in before the mixing, as in
/// Linux's keyed `inet_ehashfn`).
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Builds [`KeyHasher`]s with the context's secret.
#[derive(Clone)]
pub(crate) struct FlowHash {
    secret: u64,
}

impl FlowHash {
    pub(crate) fn new(secret: u64) -> FlowHash {
        FlowHash { secret }
    }
}

impl BuildHasher for FlowHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.secret)
    }
}

pub(crate) type FlowMap = HashMap<FlowKey, FlowId, FlowHash>;

/// Index of a flow in the slab plus its generation, so stale timer entries are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowId {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

/// A slab of flows with generations. A slot's generation is odd while it is in use and even
/// while it is free, so a free slot may keep its last value for [`Slab::insert_or_reuse`]
/// (a closed connection's TCB and buffers, rewritten in place for the next one) without
/// any id reaching it.
pub(crate) struct Slab<T> {
    entries: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(crate) fn new(capacity: usize) -> Slab<T> {
        let mut entries = Vec::with_capacity(capacity);
        entries.resize_with(capacity, || (0, None));
        Slab {
            entries,
            free: (0..capacity as u32).rev().collect(),
        }
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, value: T) -> Option<FlowId> {
        self.insert_with(|| value)
    }

    /// Puts the value `make` builds into a free slot (dropping a value it kept), or returns
    /// `None` (without calling `make`) when the slab is full. The runtime uses
    /// [`Slab::insert_or_reuse`].
    #[cfg(test)]
    pub(crate) fn insert_with(&mut self, make: impl FnOnce() -> T) -> Option<FlowId> {
        let index = self.free.pop()?;
        let entry = &mut self.entries[index as usize];
        entry.0 = entry.0.wrapping_add(1);
        debug_assert!(entry.0 & 1 == 1, "a free slot's generation is even");
        // An empty slot: nothing to drop first, so `make` writes straight into it.
        entry.1 = None;
        entry.1.get_or_insert_with(make);
        Some(FlowId {
            index,
            gen: entry.0,
        })
    }

    /// [`Slab::insert_with`] that gives a free slot's kept value (see [`Slab::retire_with`])
    /// to `reuse` to rewrite in place, and calls `make` only for a slot that never held one.
    #[inline]
    pub(crate) fn insert_or_reuse(
        &mut self,
        make: impl FnOnce() -> T,
        reuse: impl FnOnce(&mut T),
    ) -> Option<FlowId> {
        let index = self.free.pop()?;
        let entry = &mut self.entries[index as usize];
        entry.0 = entry.0.wrapping_add(1);
        debug_assert!(entry.0 & 1 == 1, "a free slot's generation is even");
        match &mut entry.1 {
            Some(old) => reuse(old),
            None => {
                entry.1.get_or_insert_with(make);
            }
        }
        Some(FlowId {
            index,
            gen: entry.0,
        })
    }

    /// Frees `id`'s slot, dropping its value in place after `last` has seen it (moving it
    /// out would copy it); false when `id` is stale.
    #[cfg(test)]
    pub(crate) fn remove_with(&mut self, id: FlowId, last: impl FnOnce(&mut T)) -> bool {
        if !self.retire_with(id, last) {
            return false;
        }
        self.entries[id.index as usize].1 = None;
        true
    }

    /// Frees `id`'s slot after `last` has seen its value, which the slot keeps (unreachable
    /// by any id) for the next [`Slab::insert_or_reuse`] to rewrite; false when `id` is
    /// stale.
    #[inline]
    pub(crate) fn retire_with(&mut self, id: FlowId, last: impl FnOnce(&mut T)) -> bool {
        let Some(entry) = self.entries.get_mut(id.index as usize) else {
            return false;
        };
        if entry.0 != id.gen {
            return false;
        }
        let Some(value) = entry.1.as_mut() else {
            return false;
        };
        last(value);
        entry.0 = entry.0.wrapping_add(1);
        self.free.push(id.index);
        true
    }

    pub(crate) fn get(&self, id: FlowId) -> Option<&T> {
        let entry = self.entries.get(id.index as usize)?;
        if entry.0 != id.gen {
            return None;
        }
        entry.1.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: FlowId) -> Option<&mut T> {
        let entry = self.entries.get_mut(id.index as usize)?;
        if entry.0 != id.gen {
            return None;
        }
        entry.1.as_mut()
    }

    /// Starts loading the first `max_bytes` of slot `index` into the cache (a hint for a
    /// flow about to be used: it reads nothing, so a stale or free slot is harmless).
    #[inline]
    pub(crate) fn prefetch(&self, index: u32, max_bytes: usize) {
        if let Some(entry) = self.entries.get(index as usize) {
            mtcp_io::sys::prefetch::prefetch_value(entry, max_bytes);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.free.is_empty()
    }

    /// Every live id (shutdown only).
    pub(crate) fn ids(&self) -> Vec<FlowId> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 & 1 == 1 && e.1.is_some())
            .map(|(i, e)| FlowId {
                index: i as u32,
                gen: e.0,
            })
            .collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn stale_ids_do_not_resolve() {
        let mut slab = Slab::new(1);
        let a = slab.insert(1).unwrap();
        assert!(slab.insert(2).is_none());
        let mut seen = None;
        assert!(slab.remove_with(a, |v| seen = Some(*v)));
        assert_eq!(seen, Some(1));
        assert!(!slab.remove_with(a, |_| unreachable!("a stale id")));
        let b = slab.insert(3).unwrap();
        assert_eq!(a.index, b.index);
        assert!(slab.get(a).is_none());
        assert_eq!(slab.get(b), Some(&3));
    }

    #[test]
    fn a_retired_value_is_unreachable_until_reused_in_place() {
        let mut slab = Slab::new(2);
        let a = slab.insert(1).unwrap();
        let b = slab.insert(2).unwrap();
        assert!(slab.retire_with(a, |v| *v += 10));
        assert!(slab.get(a).is_none() && slab.get_mut(a).is_none());
        assert!(!slab.retire_with(a, |_| unreachable!("a stale id")));
        assert_eq!(slab.ids(), vec![b]);
        assert_eq!(slab.len(), 1);
        // The retired slot comes back first, with its kept value; `make` is not called.
        let c = slab
            .insert_or_reuse(|| unreachable!("the slot kept a value"), |v| *v += 100)
            .unwrap();
        assert_eq!(c.index, a.index);
        assert_ne!(c.gen, a.gen);
        assert_eq!(slab.get(c), Some(&111));
        assert!(slab.get(a).is_none());
        // A slot emptied by remove_with is built anew.
        assert!(slab.remove_with(b, |_| {}));
        let d = slab
            .insert_or_reuse(|| 7, |_| unreachable!("nothing kept"))
            .unwrap();
        assert_eq!(slab.get(d), Some(&7));
    }

    #[test]
    fn flow_hash_depends_on_the_secret() {
        let key = FlowKey::new("198.18.0.2:4242".parse().unwrap(), 80);
        let (a, b) = (FlowHash::new(1), FlowHash::new(2));
        assert_eq!(a.hash_one(key), FlowHash::new(1).hash_one(key));
        assert_ne!(a.hash_one(key), b.hash_one(key));
        let mut map = FlowMap::with_hasher(b);
        let id = FlowId { index: 7, gen: 1 };
        map.insert(key, id);
        assert_eq!(map.get(&key), Some(&id));
    }

    #[test]
    fn key_round_trip() {
        let remote: SocketAddrV4 = "198.18.0.2:4242".parse().unwrap();
        let k = FlowKey::new(remote, 80);
        assert_eq!(k.remote(), remote);
        assert_ne!(k, FlowKey::new(remote, 81));
    }
}
