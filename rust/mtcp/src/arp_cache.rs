//! The neighbour table of one context: static entries from `arp.conf`, entries learned from ARP
//! (RFC 826) with a lifetime, and a bounded queue of frames waiting for a resolution.
use std::collections::HashMap;
use std::net::Ipv4Addr;

use mtcp_proto::{Duration, Instant};

/// How long a learned entry is trusted (Linux's base_reachable_time is 30 s; stale entries are
/// refreshed by traffic and re-resolved afterwards).
const LIFETIME: Duration = Duration::from_secs(60);
/// Minimum spacing of ARP requests for one address.
const REQUEST_INTERVAL: Duration = Duration::from_millis(200);
/// Addresses whose last request time is remembered before old ones are forgotten.
const MAX_TRACKED_REQUESTS: usize = 4096;
/// Frames held while waiting for replies (all neighbours together).
const MAX_PENDING: usize = 256;

struct Entry {
    mac: [u8; 6],
    /// `None` for static entries.
    expires: Option<Instant>,
}

pub(crate) struct ArpCache {
    entries: HashMap<Ipv4Addr, Entry>,
    /// The entry of the last successful lookup: a context usually talks to one next hop, so
    /// the transmit path skips hashing. Cleared whenever `entries` changes.
    last: Option<(Ipv4Addr, [u8; 6], Option<Instant>)>,
    last_request: HashMap<Ipv4Addr, Instant>,
    pending: Vec<(Ipv4Addr, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
}

impl ArpCache {
    pub(crate) fn new() -> ArpCache {
        ArpCache {
            entries: HashMap::new(),
            last: None,
            last_request: HashMap::new(),
            pending: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub(crate) fn add_static(&mut self, ip: Ipv4Addr, mac: [u8; 6]) {
        self.last = None;
        self.entries.insert(ip, Entry { mac, expires: None });
    }

    /// The MAC of `ip`, unless unknown or expired.
    pub(crate) fn lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Option<[u8; 6]> {
        let (mac, expires) = match self.last {
            Some((last_ip, mac, expires)) if last_ip == ip => (mac, expires),
            _ => {
                let e = self.entries.get(&ip)?;
                self.last = Some((ip, e.mac, e.expires));
                (e.mac, e.expires)
            }
        };
        match expires {
            Some(t) if t <= now => None,
            _ => Some(mac),
        }
    }

    /// Records a mapping seen in an ARP packet; returns frames now deliverable to `ip`.
    pub(crate) fn learn(
        &mut self,
        ip: Ipv4Addr,
        mac: [u8; 6],
        now: Instant,
        out: &mut Vec<Vec<u8>>,
    ) {
        self.last = None;
        match self.entries.get_mut(&ip) {
            Some(e) if e.expires.is_none() => {} // static entries win
            Some(e) => {
                e.mac = mac;
                e.expires = Some(now + LIFETIME);
            }
            None => {
                self.entries.insert(
                    ip,
                    Entry {
                        mac,
                        expires: Some(now + LIFETIME),
                    },
                );
            }
        }
        self.last_request.remove(&ip);
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].0 == ip {
                let (_, mut frame) = self.pending.swap_remove(i);
                frame[0..6].copy_from_slice(&mac);
                out.push(frame);
            } else {
                i += 1;
            }
        }
    }

    /// A buffer for a frame that will wait for resolution.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Gives a buffer back for reuse.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < MAX_PENDING {
            self.spare.push(buf);
        }
    }

    /// Holds a frame (destination MAC to be filled in) until `ip` resolves; drops the oldest
    /// when full. Returns whether an ARP request should be sent now.
    pub(crate) fn hold(&mut self, ip: Ipv4Addr, frame: Vec<u8>, now: Instant) -> bool {
        if self.pending.len() >= MAX_PENDING {
            let old = self.pending.remove(0).1;
            self.recycle(old);
        }
        self.pending.push((ip, frame));
        self.should_request(ip, now)
    }

    fn should_request(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        if self.last_request.len() >= MAX_TRACKED_REQUESTS {
            // Spoofed sources (a SYN flood) would otherwise grow this without bound; only
            // requests still inside their spacing interval matter.
            self.last_request
                .retain(|_, &mut t| now < t + REQUEST_INTERVAL);
        }
        match self.last_request.get(&ip) {
            Some(&t) if now < t + REQUEST_INTERVAL => false,
            _ => {
                self.last_request.insert(ip, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod bounded {
    use super::*;

    #[test]
    fn request_times_stay_bounded_under_many_unresolved_addresses() {
        let mut cache = ArpCache::new();
        for i in 0..50_000u32 {
            let now = Instant::from_millis(u64::from(i)); // one new address per millisecond
            let ip = Ipv4Addr::from(0xc612_0000 | i);
            assert!(cache.should_request(ip, now));
        }
        assert!(cache.last_request.len() <= MAX_TRACKED_REQUESTS);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn lookup_sees_relearned_mac_and_expiry() {
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let mut arp = ArpCache::new();
        let mut out = Vec::new();
        let t0 = Instant::from_millis(0);
        assert_eq!(arp.lookup(ip, t0), None);
        arp.learn(ip, [2, 0, 0, 0, 0, 1], t0, &mut out);
        assert_eq!(arp.lookup(ip, t0), Some([2, 0, 0, 0, 0, 1]));
        // The memoised entry must not hide a new mapping.
        arp.learn(ip, [2, 0, 0, 0, 0, 9], t0, &mut out);
        assert_eq!(arp.lookup(ip, t0), Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(arp.lookup(Ipv4Addr::new(10, 0, 0, 3), t0), None);
        assert_eq!(arp.lookup(ip, t0 + LIFETIME), None);
        // Static entries never expire and win over learned ones.
        arp.add_static(ip, [2, 0, 0, 0, 0, 7]);
        assert_eq!(arp.lookup(ip, t0 + LIFETIME), Some([2, 0, 0, 0, 0, 7]));
        arp.learn(ip, [2, 0, 0, 0, 0, 8], t0, &mut out);
        assert_eq!(arp.lookup(ip, t0 + LIFETIME), Some([2, 0, 0, 0, 0, 7]));
    }
}
