//! The in-memory hub: delivery, broadcast, RSS steering, notification, overflow, detach and a
//! two-thread stream. Each test uses its own hub name (tests run in parallel in one process).
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use mtcp_io::memory::{self, RX_QUEUE_FRAMES};
use mtcp_io::rss::{flow_hash, queue_for};
use mtcp_io::{PacketIo, BURST, MAX_FRAME, MAX_MTU};

#[test]
fn two_stations_exchange_frames_both_ways() {
    let mut a = memory::attach("mem-exchange", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-exchange", mac(2), 1, 1500).unwrap();
    let to_b: Vec<Vec<u8>> = (0..10)
        .map(|i| seq_frame(mac(2), mac(1), i, 60 + i as usize))
        .collect();
    for f in &to_b {
        assert!(send(&mut a[0], f));
    }
    // Nothing moves before flush.
    assert!(recv_all(&mut b[0]).is_empty());
    a[0].flush();
    assert_eq!(recv_all(&mut b[0]), to_b);
    assert!(
        recv_all(&mut a[0]).is_empty(),
        "the sender must not hear itself"
    );

    let to_a = seq_frame(mac(1), mac(2), 99, 1514);
    assert!(send(&mut b[0], &to_a));
    b[0].flush();
    assert_eq!(recv_all(&mut a[0]), vec![to_a.clone()]);

    let sa = a[0].stats();
    assert_eq!(
        (sa.tx_frames, sa.rx_frames, sa.rx_bytes),
        (10, 1, to_a.len() as u64)
    );
    assert_eq!(
        sa.tx_bytes,
        to_b.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    assert_eq!(b[0].stats().rx_frames, 10);
    assert_eq!(a[0].caps().mac, mac(1));
    assert_eq!(a[0].caps().mtu, 1500);
}

#[test]
fn unicast_to_unknown_mac_goes_nowhere() {
    let mut a = memory::attach("mem-unknown", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-unknown", mac(2), 1, 1500).unwrap();
    send(&mut a[0], &seq_frame(mac(3), mac(1), 1, 64));
    a[0].flush();
    assert!(recv_all(&mut b[0]).is_empty());
    assert_eq!(a[0].stats().tx_frames, 1);
}

#[test]
fn broadcast_reaches_every_other_station_and_every_queue() {
    let mut a = memory::attach("mem-bcast", mac(1), 2, 1500).unwrap();
    let mut b = memory::attach("mem-bcast", mac(2), 3, 1500).unwrap();
    let mut c = memory::attach("mem-bcast", mac(3), 1, 1500).unwrap();
    let arp = arp_frame(mac(1));
    send(&mut a[0], &arp);
    a[0].flush();
    for q in b.iter_mut().chain(c.iter_mut()) {
        assert_eq!(recv_all(q), vec![arp.clone()], "queue {:?}", q);
    }
    for q in a.iter_mut() {
        assert!(
            recv_all(q).is_empty(),
            "the sender's station must not get its broadcast"
        );
    }
    // Multicast (I/G bit) is flooded too.
    let mcast = seq_frame([0x01, 0, 0x5e, 0, 0, 1], mac(3), 7, 64);
    send(&mut c[0], &mcast);
    c[0].flush();
    assert_eq!(recv_all(&mut a[1]), vec![mcast.clone()]);
    assert_eq!(recv_all(&mut b[2]), vec![mcast]);
    assert!(recv_all(&mut c[0]).is_empty());
}

#[test]
fn tcp_frames_are_steered_by_their_4_tuple() {
    const QUEUES: usize = 4;
    let mut a = memory::attach("mem-rss", mac(1), QUEUES, 1500).unwrap();
    let mut b = memory::attach("mem-rss", mac(2), QUEUES, 1500).unwrap();
    let (ip_a, ip_b) = ([198, 18, 0, 1], [198, 18, 0, 2]);
    let mut per_queue = [0usize; QUEUES];
    for sport in 40_000..40_200u16 {
        let frame = tcp_frame(mac(2), mac(1), (ip_a, sport), (ip_b, 80), b"x");
        let want = queue_for(flow_hash(ip_a, ip_b, sport, 80), QUEUES);
        send(&mut a[sport as usize % QUEUES], &frame);
        a[sport as usize % QUEUES].flush();
        for (q, port) in b.iter_mut().enumerate() {
            let got = recv_all(port);
            assert_eq!(got.len(), usize::from(q == want), "sport {sport} queue {q}");
        }
        per_queue[want] += 1;

        // The reply (swapped tuple) lands on the queue of the same index at the other end.
        let reply = tcp_frame(mac(1), mac(2), (ip_b, 80), (ip_a, sport), b"y");
        send(&mut b[want], &reply);
        b[want].flush();
        assert_eq!(recv_all(&mut a[want]), vec![reply]);
    }
    assert!(
        per_queue.iter().all(|&n| n > 20),
        "flows spread over queues: {per_queue:?}"
    );

    // ICMP goes to queue 0.
    let icmp = eth_frame(
        mac(2),
        mac(1),
        0x0800,
        &ipv4(1, ip_a, ip_b, &[8, 0, 0, 0, 0, 0, 0, 0]),
    );
    send(&mut a[3], &icmp);
    a[3].flush();
    assert_eq!(recv_all(&mut b[0]), vec![icmp]);
    assert!(b[1..].iter_mut().all(|q| recv_all(q).is_empty()));
}

#[test]
fn notify_is_called_once_per_burst_when_registered() {
    let mut a = memory::attach("mem-notify", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-notify", mac(2), 2, 1500).unwrap();
    let woken = Arc::new(CountingNotify::default());
    b[0].set_notify(woken.clone());
    for i in 0..10 {
        send(&mut a[0], &seq_frame(mac(2), mac(1), i, 64));
    }
    a[0].flush();
    assert_eq!(woken.count(), 1);
    a[0].flush(); // nothing to send: no wake-up
    assert_eq!(woken.count(), 1);
    // Broadcast: both queues get it; only queue 0 has a Notify.
    send(&mut a[0], &arp_frame(mac(1)));
    a[0].flush();
    assert_eq!(woken.count(), 2);
    // Non-IP frames are copied to every queue of a station.
    assert_eq!(recv_all(&mut b[0]).len(), 11);
    assert_eq!(recv_all(&mut b[1]).len(), 11);
}

#[test]
fn overflow_is_dropped_and_counted() {
    let mut a = memory::attach("mem-overflow", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-overflow", mac(2), 1, 1500).unwrap();
    let extra = 100;
    for i in 0..(RX_QUEUE_FRAMES + extra) as u64 {
        assert!(send(&mut a[0], &seq_frame(mac(2), mac(1), i, 64)));
        if i % BURST as u64 == 0 {
            a[0].flush();
        }
    }
    a[0].flush();
    assert_eq!(b[0].stats().drops, extra as u64);
    assert_eq!(a[0].stats().tx_frames, (RX_QUEUE_FRAMES + extra) as u64);
    let got = recv_all(&mut b[0]);
    assert_eq!(got.len(), RX_QUEUE_FRAMES);
    // Tail drop: the first frames are the ones kept.
    assert!(got.iter().enumerate().all(|(i, f)| seq_of(f) == i as u64));
}

#[test]
fn oversized_frames_are_dropped() {
    let mut a = memory::attach("mem-mtu", mac(1), 1, 1000).unwrap();
    let mut b = memory::attach("mem-mtu", mac(2), 1, 1500).unwrap();
    assert!(!send(&mut a[0], &seq_frame(mac(2), mac(1), 1, 1015)));
    assert!(send(&mut a[0], &seq_frame(mac(2), mac(1), 2, 1014)));
    a[0].flush();
    assert_eq!(a[0].stats().drops, 1);
    assert_eq!(recv_all(&mut b[0]).len(), 1);
    // Bigger than the receiver's MTU: dropped on the way.
    assert!(send(&mut b[0], &seq_frame(mac(1), mac(2), 3, 1200)));
    b[0].flush();
    assert!(recv_all(&mut a[0]).is_empty());
    // Never a panic on silly lengths.
    assert!(!a[0].tx(100_000, &mut |_| 100_000));
    assert!(!a[0].tx(10, &mut |_| 11));
}

#[test]
fn attach_rejects_a_duplicate_mac_and_bad_arguments() {
    let a = memory::attach("mem-dup", mac(1), 2, 1500).unwrap();
    let err = memory::attach("mem-dup", mac(1), 1, 1500).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    // Same MAC on another hub is fine.
    let other = memory::attach("mem-dup-other", mac(1), 1, 1500).unwrap();
    drop(other);
    let einval = |r: std::io::Result<Vec<memory::MemoryQueue>>| r.unwrap_err().raw_os_error();
    assert_eq!(
        einval(memory::attach("mem-dup", mac(9), 0, 1500)),
        Some(libc::EINVAL)
    );
    assert_eq!(
        einval(memory::attach("mem-dup", mac(9), 1, 0)),
        Some(libc::EINVAL)
    );
    // 9,000-byte jumbo frames are the most the link carries.
    assert_eq!(
        einval(memory::attach("mem-dup", mac(9), 1, MAX_MTU + 1)),
        Some(libc::EINVAL)
    );
    assert!(memory::attach("mem-dup", mac(9), 1, MAX_MTU).is_ok());
    drop(a);
}

#[test]
fn detach_on_last_queue_drop_then_reattach() {
    let mut a = memory::attach("mem-detach", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-detach", mac(2), 2, 1500).unwrap();
    send(&mut a[0], &seq_frame(mac(2), mac(1), 1, 64));
    a[0].flush();
    // One queue left: still attached, the MAC is taken.
    let b1 = b.pop().unwrap();
    drop(b);
    assert!(memory::attach("mem-detach", mac(2), 1, 1500).is_err());
    drop(b1);
    // Detached: the MAC is free again, and the old queued frame is gone with the old station.
    let mut b = memory::attach("mem-detach", mac(2), 1, 1500).unwrap();
    assert!(recv_all(&mut b[0]).is_empty());
    send(&mut a[0], &seq_frame(mac(2), mac(1), 2, 64));
    a[0].flush();
    let got = recv_all(&mut b[0]);
    assert_eq!(got.iter().map(|f| seq_of(f)).collect::<Vec<_>>(), vec![2]);

    // With every station gone the hub goes too: a new station finds an empty hub.
    drop(a);
    drop(b);
    let mut c = memory::attach("mem-detach", mac(3), 1, 1500).unwrap();
    let mut d = memory::attach("mem-detach", mac(1), 1, 1500).unwrap();
    send(&mut c[0], &arp_frame(mac(3)));
    c[0].flush();
    assert_eq!(recv_all(&mut d[0]).len(), 1);
}

#[test]
fn a_station_that_reattaches_with_the_same_mac_gets_the_next_frames() {
    // A sender remembers where its last unicast MAC went: once that station leaves, the next
    // frames must reach the new station with the MAC, not the ring of the one that left,
    // even for a change between a frame's transmission and its flush.
    let mut a = memory::attach("mem-reroute", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-reroute", mac(2), 1, 1500).unwrap();
    let seqs = |q: &mut memory::MemoryQueue| -> Vec<u64> {
        recv_all(q).iter().map(|f| seq_of(f)).collect()
    };
    send(&mut a[0], &seq_frame(mac(2), mac(1), 1, 64));
    a[0].flush();
    assert_eq!(seqs(&mut b[0]), [1]);
    drop(b);
    let mut b = memory::attach("mem-reroute", mac(2), 1, 1500).unwrap();
    send(&mut a[0], &seq_frame(mac(2), mac(1), 2, 64));
    a[0].flush();
    assert_eq!(seqs(&mut b[0]), [2]);

    send(&mut a[0], &seq_frame(mac(2), mac(1), 3, 64));
    drop(b);
    let mut c = memory::attach("mem-reroute", mac(2), 1, 1500).unwrap();
    send(&mut a[0], &seq_frame(mac(2), mac(1), 4, 64));
    a[0].flush();
    assert_eq!(
        seqs(&mut c[0]),
        [4],
        "frame 3 went with the station that left"
    );
}

#[test]
fn frames_not_yet_flushed_leave_when_their_queue_is_dropped() {
    let mut a = memory::attach("mem-drop-flush", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-drop-flush", mac(2), 1, 1500).unwrap();
    send(&mut a[0], &seq_frame(mac(2), mac(1), 7, 64));
    assert!(recv_all(&mut b[0]).is_empty(), "nothing moves before flush");
    drop(a);
    let got = recv_all(&mut b[0]);
    assert_eq!(got.iter().map(|f| seq_of(f)).collect::<Vec<_>>(), [7]);
}

#[test]
fn senders_from_several_threads_to_one_station() {
    let mut rx = memory::attach("mem-fanin", mac(10), 1, 1500).unwrap();
    let per_sender = 1000u64; // 3000 in all: fits one ring
    let senders: Vec<_> = (1..=3u8)
        .map(|id| {
            let mut q = memory::attach("mem-fanin", mac(id), 1, 1500).unwrap();
            thread::spawn(move || {
                for i in 0..per_sender {
                    send(&mut q[0], &seq_frame(mac(10), mac(id), i, 64));
                    if i % 16 == 15 {
                        q[0].flush();
                    }
                }
                q[0].flush();
                q
            })
        })
        .collect();
    let queues: Vec<_> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    let got = recv_all(&mut rx[0]);
    assert_eq!(got.len() as u64, 3 * per_sender);
    // Per sender, order is kept.
    for id in 1..=3u8 {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|f| f[11] == id)
            .map(|f| seq_of(f))
            .collect();
        assert_eq!(seqs, (0..per_sender).collect::<Vec<_>>());
    }
    drop(queues);
}

/// One producer thread, one consumer thread, 1,000,000 numbered frames; the producer stays at
/// most half a ring ahead of what the consumer acknowledged (the consumer "keeps up"), so
/// nothing may be lost, duplicated or reordered.
#[test]
fn a_million_frames_between_two_threads() {
    const FRAMES: u64 = 1_000_000;
    const WINDOW: u64 = (RX_QUEUE_FRAMES / 2) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tx = memory::attach("mem-million", mac(1), 1, 1500).unwrap();
    let mut rx = memory::attach("mem-million", mac(2), 1, 1500).unwrap();
    let consumed = Arc::new(AtomicU64::new(0));
    let gave_up = Arc::new(AtomicBool::new(false));

    let producer = {
        let consumed = consumed.clone();
        let gave_up = gave_up.clone();
        thread::spawn(move || {
            let mut next = 0u64;
            while next < FRAMES && !gave_up.load(Ordering::Relaxed) {
                if next - consumed.load(Ordering::Acquire) >= WINDOW {
                    thread::yield_now();
                    continue;
                }
                for _ in 0..BURST.min((FRAMES - next) as usize) {
                    let seq = next;
                    tx[0].tx(64, &mut |buf: &mut [u8]| {
                        buf[..6].copy_from_slice(&mac(2));
                        buf[6..12].copy_from_slice(&mac(1));
                        buf[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                        buf[14..22].copy_from_slice(&seq.to_be_bytes());
                        64
                    });
                    next += 1;
                }
                tx[0].flush();
            }
            (next, tx[0].stats())
        })
    };

    let mut expected = 0u64;
    let mut out_of_order = 0u64;
    while expected < FRAMES {
        if Instant::now() > deadline {
            gave_up.store(true, Ordering::Relaxed);
            break;
        }
        let n = rx[0].rx_burst(BURST, &mut |f: &[u8]| {
            if seq_of(f) != expected {
                out_of_order += 1;
            }
            expected += 1;
        });
        if n == 0 {
            thread::yield_now();
        } else {
            consumed.store(expected, Ordering::Release);
        }
    }
    let (sent, tx_stats) = producer.join().unwrap();
    assert!(
        !gave_up.load(Ordering::Relaxed),
        "timed out after {expected} frames"
    );
    assert_eq!(sent, FRAMES);
    assert_eq!(expected, FRAMES);
    assert_eq!(out_of_order, 0);
    assert_eq!(tx_stats.tx_frames, FRAMES);
    assert_eq!(rx[0].stats().drops, 0);
    assert_eq!(rx[0].stats().rx_frames, FRAMES);
}

#[test]
fn a_second_set_notify_replaces_the_first_for_senders_that_already_delivered() {
    let mut a = memory::attach("mem-renotify", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-renotify", mac(2), 1, 1500).unwrap();
    let first = Arc::new(CountingNotify::default());
    let second = Arc::new(CountingNotify::default());
    b[0].set_notify(first.clone());
    send(&mut a[0], &seq_frame(mac(2), mac(1), 1, 64));
    a[0].flush();
    b[0].set_notify(second.clone());
    send(&mut a[0], &seq_frame(mac(2), mac(1), 2, 64));
    a[0].flush();
    assert_eq!((first.count(), second.count()), (1, 1));
    assert_eq!(recv_all(&mut b[0]).len(), 2);
}

#[test]
fn one_way_traffic_returns_buffers_to_their_owner() {
    // b never sends, so the buffers a allocated pile up at b until b sends them back; a must
    // keep sending for ever without the pile growing (no_alloc.rs checks the allocations).
    let mut a = memory::attach("mem-returns", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("mem-returns", mac(2), 1, 1500).unwrap();
    let mut got = 0;
    for round in 0..200u64 {
        for i in 0..BURST as u64 {
            assert!(send(
                &mut a[0],
                &seq_frame(mac(2), mac(1), round * 64 + i, 100)
            ));
        }
        a[0].flush();
        got += recv_all(&mut b[0]).len();
    }
    assert_eq!(got, 200 * BURST);
    assert_eq!(a[0].stats().drops + b[0].stats().drops, 0);
}

/// RFC 1071 one's-complement sum of `data` (folded, not complemented).
fn sum16(data: &[u8]) -> u32 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|p| u32::from(p[0]) << 8 | p.get(1).map_or(0, |&b| u32::from(b)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// The TCP checksum's sum over pseudo-header and segment (0xffff when right).
fn tcp_sum(f: &[u8]) -> u32 {
    let seg = &f[34..];
    let pseudo = [&f[26..34], &[0, 6], &(seg.len() as u16).to_be_bytes()[..]].concat();
    sum16(&[pseudo, seg.to_vec()].concat())
}

/// `frame` (a [`tcp_frame`]) with a correct IPv4 header checksum and, with `tcp`, TCP checksum.
fn with_checksums(mut f: Vec<u8>, tcp: bool) -> Vec<u8> {
    let ip = !(sum16(&f[14..34]) as u16);
    f[24..26].copy_from_slice(&ip.to_be_bytes());
    if tcp {
        f[50..52].fill(0);
        let sum = !(tcp_sum(&f) as u16);
        f[50..52].copy_from_slice(&sum.to_be_bytes());
    }
    f
}

fn tcp_between(dst: u8, src: u8) -> Vec<u8> {
    let ends = (([198, 18, 0, src], 40000), ([198, 18, 0, dst], 80));
    tcp_frame(mac(dst), mac(src), ends.0, ends.1, b"an odd-length payload")
}

#[test]
fn offload_stations_pass_unfinished_checksums_as_they_are() {
    let mut a = memory::attach_with_offload("mem-off-both", mac(1), 1, 1500, true).unwrap();
    let mut b = memory::attach_with_offload("mem-off-both", mac(2), 1, 1500, true).unwrap();
    assert!(a[0].caps().tx_checksum && b[0].caps().rx_checksum);
    let frame = with_checksums(tcp_between(2, 1), false); // TCP checksum left unfinished
    assert!(send(&mut a[0], &frame));
    a[0].flush();
    assert_eq!(
        recv_all(&mut b[0]),
        vec![frame],
        "delivered untouched, not checked"
    );
}

#[test]
fn a_station_without_offload_gets_finished_tcp_checksums() {
    let mut a = memory::attach_with_offload("mem-off-to-plain", mac(1), 1, 1500, true).unwrap();
    let mut b = memory::attach("mem-off-to-plain", mac(2), 1, 1500).unwrap();
    assert!(!b[0].caps().rx_checksum && !b[0].caps().tx_checksum);
    let frame = with_checksums(tcp_between(2, 1), false);
    assert_ne!(tcp_sum(&frame), 0xffff, "the test frame starts unfinished");
    assert!(send(&mut a[0], &frame));
    a[0].flush();
    let got = recv_all(&mut b[0]);
    assert_eq!(got.len(), 1);
    assert_eq!(tcp_sum(&got[0]), 0xffff, "the hub finished the checksum");
    assert_eq!(got[0][..50], frame[..50], "nothing else changed");
}

#[test]
fn an_offload_station_checks_frames_from_a_station_without() {
    let mut a = memory::attach("mem-plain-to-off", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach_with_offload("mem-plain-to-off", mac(2), 1, 1500, true).unwrap();
    let good = with_checksums(tcp_between(2, 1), true);
    let mut bad = good.clone();
    bad[60] ^= 0x40; // a payload bit flipped after the checksum was made
    assert!(send(&mut a[0], &good) && send(&mut a[0], &bad));
    a[0].flush();
    assert_eq!(
        recv_all(&mut b[0]),
        vec![good],
        "the corrupt frame is dropped"
    );
    assert_eq!(b[0].stats().drops, 1);
}

#[test]
fn jumbo_frames_cross_a_9000_byte_mtu_link() {
    let mut a = memory::attach("mem-jumbo", mac(1), 1, 9000).unwrap();
    let mut b = memory::attach("mem-jumbo", mac(2), 1, 9000).unwrap();
    let caps = a[0].caps();
    assert_eq!(caps.mtu, 9000);
    // A full frame, and the 40 bytes the TCP layer may write past it.
    assert!(caps.max_frame >= 9000 + 14 + 40, "{}", caps.max_frame);
    // Both ways, many rounds, each frame a different full-size pattern.
    let frames = |dst: u8, src: u8, round: u64| -> Vec<Vec<u8>> {
        (0..BURST as u64)
            .map(|i| {
                let mut f = seq_frame(mac(dst), mac(src), round * 100 + i, 9014);
                for (k, byte) in f[22..].iter_mut().enumerate() {
                    *byte = (k as u64 * 31 + i + round) as u8;
                }
                f
            })
            .collect()
    };
    for round in 0..20 {
        let to_b = frames(2, 1, round);
        for f in &to_b {
            assert!(send(&mut a[0], f));
        }
        a[0].flush();
        assert_eq!(recv_all(&mut b[0]), to_b, "round {round}");
        let to_a = frames(1, 2, round);
        for f in &to_a {
            assert!(send(&mut b[0], f));
        }
        b[0].flush();
        assert_eq!(recv_all(&mut a[0]), to_a, "round {round}");
    }
    let sa = a[0].stats();
    assert_eq!(
        (sa.tx_frames, sa.rx_frames, sa.drops),
        (20 * 64, 20 * 64, 0)
    );
    assert_eq!(sa.rx_bytes, 20 * 64 * 9014);
    // One byte over the MTU: refused by the sender and counted.
    assert!(!send(&mut a[0], &seq_frame(mac(2), mac(1), 1, 9015)));
    assert_eq!(a[0].stats().drops, 1);
    // Buffers circulate: about one burst in flight, not one per frame sent.
    let held = a[0].buffers_allocated() + b[0].buffers_allocated();
    assert!((1..=4 * BURST).contains(&held), "{held} buffers");
}

#[test]
fn a_jumbo_station_and_a_1500_byte_station_share_a_hub() {
    let mut big = memory::attach("mem-mixed", mac(1), 1, 9000).unwrap();
    let mut small = memory::attach("mem-mixed", mac(2), 1, 1500).unwrap();
    let mut peer = memory::attach("mem-mixed", mac(3), 1, 9000).unwrap();
    assert_eq!(small[0].caps().max_frame, MAX_FRAME);
    // Longer than the small station's MTU: dropped on the way and counted at the sender.
    assert!(send(&mut big[0], &seq_frame(mac(2), mac(1), 1, 1515)));
    assert!(send(&mut big[0], &seq_frame(mac(2), mac(1), 2, 1514)));
    big[0].flush();
    assert_eq!(big[0].stats().drops, 1);
    let got = recv_all(&mut small[0]);
    assert_eq!(got.iter().map(|f| seq_of(f)).collect::<Vec<_>>(), vec![2]);
    for round in 0..50u64 {
        // The small station's 2 KiB buffers land at the jumbo one, which can't build its
        // frames in them: they go back, and its jumbo frames still arrive whole.
        for i in 0..BURST as u64 {
            assert!(send(&mut small[0], &seq_frame(mac(1), mac(2), i, 1514)));
        }
        small[0].flush();
        assert_eq!(recv_all(&mut big[0]).len(), BURST);
        let out: Vec<Vec<u8>> = (0..BURST as u64)
            .map(|i| seq_frame(mac(3), mac(1), round * 100 + i, 9014))
            .collect();
        for f in &out {
            assert!(send(&mut big[0], f));
        }
        big[0].flush();
        assert_eq!(recv_all(&mut peer[0]), out, "round {round}");
    }
    // Returned, not piling up at the jumbo station or allocated anew each round (3,200 frames
    // each way; the receivers cache up to 4 bursts of others' buffers before returning them).
    let (s, b) = (small[0].buffers_allocated(), big[0].buffers_allocated());
    assert!(s <= 6 * BURST && b <= 6 * BURST, "{s} and {b} buffers");
    assert_eq!(big[0].stats().drops, 1);
}

#[test]
fn a_jumbo_ring_holds_fewer_frames_for_the_same_memory() {
    assert_eq!(memory::ring_frames(1500), RX_QUEUE_FRAMES);
    let frames = memory::ring_frames(9000);
    assert_eq!(frames, 1024);
    let mut a = memory::attach("mem-jumbo-overflow", mac(1), 1, 9000).unwrap();
    let mut b = memory::attach("mem-jumbo-overflow", mac(2), 1, 9000).unwrap();
    let extra = 10;
    for i in 0..(frames + extra) as u64 {
        assert!(send(&mut a[0], &seq_frame(mac(2), mac(1), i, 9014)));
        if i % BURST as u64 == 0 {
            a[0].flush();
        }
    }
    a[0].flush();
    assert_eq!(b[0].stats().drops, extra as u64);
    let got = recv_all(&mut b[0]);
    assert_eq!(got.len(), frames);
    assert!(got.iter().enumerate().all(|(i, f)| seq_of(f) == i as u64));
}

/// Records the two passes of a staged burst.
#[derive(Default)]
struct Recorder {
    /// ("look" or "handle", index, frame) in call order.
    calls: Vec<(&'static str, usize, Vec<u8>)>,
}

impl mtcp_io::BurstReceiver for Recorder {
    fn look(&mut self, index: usize, frame: &[u8]) {
        self.calls.push(("look", index, frame.to_vec()));
    }
    fn handle(&mut self, index: usize, frame: &[u8]) {
        self.calls.push(("handle", index, frame.to_vec()));
    }
}

#[test]
fn a_staged_burst_is_looked_at_whole_then_handled_in_order() {
    let mut a = memory::attach("mem-staged", mac(1), 1, 1500).unwrap();
    let b = memory::attach("mem-staged", mac(2), 1, 1500).unwrap();
    let mut b = mtcp_io::Port::from(b.into_iter().next().unwrap());
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| seq_frame(mac(2), mac(1), i, 60 + i as usize))
        .collect();
    for f in &frames {
        assert!(send(&mut a[0], f));
    }
    a[0].flush();
    let mut rec = Recorder::default();
    assert_eq!(b.rx_burst_staged(BURST, &mut rec), 5);
    let looks: Vec<_> = rec.calls[..5]
        .iter()
        .map(|c| (c.0, c.1, c.2.clone()))
        .collect();
    let handles: Vec<_> = rec.calls[5..]
        .iter()
        .map(|c| (c.0, c.1, c.2.clone()))
        .collect();
    let expect = |what| -> Vec<_> {
        frames
            .iter()
            .enumerate()
            .map(|(i, f)| (what, i, f.clone()))
            .collect()
    };
    assert_eq!(looks, expect("look"));
    assert_eq!(handles, expect("handle"));
    assert_eq!(b.stats().rx_frames, 5);
    assert_eq!(b.rx_burst_staged(BURST, &mut rec), 0);
    // A burst of one frame has nothing to look ahead to: only `handle` sees it.
    assert!(send(&mut a[0], &frames[0]));
    a[0].flush();
    let mut rec = Recorder::default();
    assert_eq!(b.rx_burst_staged(BURST, &mut rec), 1);
    assert_eq!(rec.calls, vec![("handle", 0, frames[0].clone())]);
    // A burst stops at `max`; the rest comes with the next one, indices from 0 again.
    for f in &frames {
        assert!(send(&mut a[0], f));
    }
    a[0].flush();
    let mut rec = Recorder::default();
    assert_eq!(b.rx_burst_staged(3, &mut rec), 3);
    assert_eq!(b.rx_burst_staged(3, &mut rec), 2);
    let handled: Vec<_> = rec
        .calls
        .iter()
        .filter(|c| c.0 == "handle")
        .map(|c| (c.1, c.2.clone()))
        .collect();
    let expect: Vec<_> = [0, 1, 2, 0, 1]
        .into_iter()
        .zip(frames.iter().cloned())
        .collect();
    assert_eq!(handled, expect);
    // Every buffer went back: the sender can send a full ring again.
    assert!(recv_all(&mut b).is_empty());
}

#[test]
fn a_boxed_port_hands_a_staged_burst_to_handle_only() {
    let mut a = memory::attach("mem-staged-boxed", mac(1), 1, 1500).unwrap();
    let b = memory::attach("mem-staged-boxed", mac(2), 1, 1500).unwrap();
    let boxed: Box<dyn PacketIo> = Box::new(b.into_iter().next().unwrap());
    let mut b = mtcp_io::Port::from(boxed);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| seq_frame(mac(2), mac(1), i, 64)).collect();
    for f in &frames {
        assert!(send(&mut a[0], f));
    }
    a[0].flush();
    let mut rec = Recorder::default();
    assert_eq!(b.rx_burst_staged(BURST, &mut rec), 4);
    let expect: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| ("handle", i, f.clone()))
        .collect();
    assert_eq!(rec.calls, expect);
}
