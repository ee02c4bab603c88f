//! The simulated segment: exact timing, rate limiting, impairments (statistically and
//! exactly counted), determinism, scripted drops, per-direction settings and pcap capture.
mod common;

use std::sync::Arc;

use common::*;
use mtcp_io::rss::{flow_hash, queue_for};
use mtcp_io::sim::{GilbertElliott, Impairments, SimFabric, SimPort};
use mtcp_io::PacketIo;

fn imp(delay_us: u64) -> Impairments {
    Impairments {
        delay_us,
        ..Default::default()
    }
}

/// Two single-queue stations, A = mac(1) and B = mac(2).
fn pair(seed: u64, imp: Impairments) -> (SimFabric, SimPort, SimPort) {
    let fabric = SimFabric::new(seed, imp);
    let a = fabric.attach(mac(1), 1).pop().unwrap();
    let b = fabric.attach(mac(2), 1).pop().unwrap();
    (fabric, a, b)
}

/// Frames received with the virtual time they were seen at.
fn drain(fabric: &SimFabric, port: &mut SimPort, out: &mut Vec<(u64, Vec<u8>)>) {
    let now = fabric.now();
    while port.rx_burst(64, &mut |f: &[u8]| out.push((now, f.to_vec()))) > 0 {}
}

/// Runs the fabric event by event until nothing is in flight, collecting what `port` receives.
fn run_to_idle(fabric: &SimFabric, port: &mut SimPort) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = fabric.next_event() {
        fabric.advance_to(t);
        drain(fabric, port, &mut out);
    }
    out
}

#[test]
fn delay_is_respected_exactly() {
    let (fabric, mut a, mut b) = pair(1, imp(250));
    let mut got = Vec::new();
    for (i, t) in [0u64, 10, 1000].into_iter().enumerate() {
        // Deliver, event by event, what is due before the next send.
        while let Some(next) = fabric.next_event().filter(|&n| n <= t) {
            fabric.advance_to(next);
            drain(&fabric, &mut b, &mut got);
        }
        fabric.advance_to(t);
        send(&mut a, &seq_frame(mac(2), mac(1), i as u64, 100));
        a.flush();
    }
    got.extend(run_to_idle(&fabric, &mut b));
    let times: Vec<(u64, u64)> = got.iter().map(|(t, f)| (*t, seq_of(f))).collect();
    assert_eq!(times, vec![(250, 0), (260, 1), (1250, 2)]);

    // Not a microsecond early.
    send(&mut a, &seq_frame(mac(2), mac(1), 3, 100));
    a.flush();
    let due = fabric.now() + 250;
    assert_eq!(fabric.next_event(), Some(due));
    fabric.advance_to(due - 1);
    assert_eq!(b.rx_burst(64, &mut |_| {}), 0);
    fabric.advance_to(due);
    assert_eq!(b.rx_burst(64, &mut |_| {}), 1);
}

#[test]
fn nothing_moves_outside_advance_to_and_time_never_goes_back() {
    let (fabric, mut a, mut b) = pair(1, imp(0));
    send(&mut a, &seq_frame(mac(2), mac(1), 1, 64));
    a.flush();
    assert_eq!(fabric.in_flight(), 1);
    assert_eq!(
        b.rx_burst(64, &mut |_| {}),
        0,
        "zero delay still waits for advance_to"
    );
    assert_eq!(fabric.next_event(), Some(0));
    fabric.advance_to(0);
    assert_eq!(b.rx_burst(64, &mut |_| {}), 1);
    fabric.advance_to(500);
    fabric.advance_to(100);
    assert_eq!(fabric.now(), 500);
    assert_eq!(fabric.next_event(), None);
}

#[test]
fn rate_limit_gives_serialization_times_and_tail_drops() {
    // 8 Mbit/s = one byte per microsecond.
    let rate = Impairments {
        delay_us: 100,
        rate_bps: Some(8_000_000),
        ..Default::default()
    };
    let (fabric, mut a, mut b) = pair(1, rate.clone());
    for i in 0..3 {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 1000));
    }
    a.flush();
    let got: Vec<u64> = run_to_idle(&fabric, &mut b)
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(got, vec![1100, 2100, 3100]);

    // Once the link is idle again, a frame goes straight out.
    fabric.advance_to(10_000);
    send(&mut a, &seq_frame(mac(2), mac(1), 9, 500));
    a.flush();
    assert_eq!(fabric.next_event(), Some(10_000 + 500 + 100));
    run_to_idle(&fabric, &mut b);

    // Each direction has its own bottleneck.
    fabric.advance_to(20_000);
    send(&mut a, &seq_frame(mac(2), mac(1), 10, 1000));
    a.flush();
    send(&mut b, &seq_frame(mac(1), mac(2), 11, 1000));
    b.flush();
    fabric.advance_to(21_100);
    assert_eq!(b.rx_burst(64, &mut |_| {}), 1);
    assert_eq!(a.rx_burst(64, &mut |_| {}), 1);

    // A 2500-byte queue: 1000 in service, 1000 waiting, the third would exceed it.
    let (fabric, mut a, mut b) = pair(
        1,
        Impairments {
            queue_bytes: 2500,
            ..rate.clone()
        },
    );
    for i in 0..5 {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 1000));
    }
    a.flush();
    let got: Vec<(u64, u64)> = run_to_idle(&fabric, &mut b)
        .iter()
        .map(|(t, f)| (*t, seq_of(f)))
        .collect();
    assert_eq!(got, vec![(1100, 0), (2100, 1)]);
    assert_eq!(fabric.stats().queue_drops, 3);

    // A rate that does not divide evenly: serialization accumulates in nanoseconds, not in
    // rounded microseconds (1 Gbit/s, 1514 bytes = 12.112 µs each; 100 frames = 1211.2 µs).
    let (fabric, mut a, mut b) = pair(
        1,
        Impairments {
            delay_us: 0,
            rate_bps: Some(1_000_000_000),
            ..Default::default()
        },
    );
    for i in 0..100 {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 1514));
        a.flush();
    }
    let last = run_to_idle(&fabric, &mut b).last().unwrap().0;
    assert_eq!(last, 1212);
}

#[test]
fn loss_rate_matches_the_configured_probability() {
    const N: u64 = 100_000;
    let (fabric, mut a, mut b) = pair(
        7,
        Impairments {
            loss: 0.1,
            ..imp(10)
        },
    );
    let mut received = 0u64;
    for i in 0..N {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
        if i % 64 == 63 {
            a.flush();
            fabric.advance_to(fabric.now() + 20);
            received += b.rx_burst(usize::MAX, &mut |_| {}) as u64;
        }
    }
    a.flush();
    fabric.advance_to(fabric.now() + 20);
    received += b.rx_burst(usize::MAX, &mut |_| {}) as u64;
    let stats = fabric.stats();
    assert_eq!(stats.sent, N);
    assert_eq!(stats.lost + stats.delivered, N);
    assert_eq!(received, stats.delivered);
    // Binomial(100k, 0.1): sigma ~ 95; 6 sigma bounds.
    let lost = stats.lost as f64;
    assert!((lost - 10_000.0).abs() < 6.0 * 95.0, "lost {lost}");
}

#[test]
fn burst_loss_comes_in_runs() {
    const N: u64 = 100_000;
    let ge = GilbertElliott {
        p_good_to_bad: 0.01,
        p_bad_to_good: 0.1,
        loss_good: 0.0,
        loss_bad: 1.0,
    };
    let (fabric, mut a, mut b) = pair(
        3,
        Impairments {
            burst_loss: Some(ge),
            ..imp(0)
        },
    );
    let mut seqs = Vec::new();
    for i in 0..N {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
        a.flush();
        fabric.advance_to(fabric.now() + 1);
        b.rx_burst(64, &mut |f: &[u8]| seqs.push(seq_of(f)));
    }
    // Stationary loss = p_gb / (p_gb + p_bg) = 1/11; mean run of losses = 1 / p_bg = 10.
    let lost = N - seqs.len() as u64;
    assert!(
        (lost as f64 / N as f64 - 1.0 / 11.0).abs() < 0.02,
        "lost {lost}"
    );
    let runs = seqs.windows(2).filter(|w| w[1] != w[0] + 1).count().max(1);
    let mean_run = lost as f64 / runs as f64;
    assert!((6.0..15.0).contains(&mean_run), "mean loss run {mean_run}");
    assert_eq!(fabric.stats().lost, lost);
}

/// One reception: (time, station, queue, bytes).
type Seen = (u64, usize, usize, Vec<u8>);

/// Everything the receivers saw, and the fabric's counters.
fn transcript(seed: u64) -> (Vec<Seen>, String) {
    let noisy = Impairments {
        loss: 0.05,
        reorder: 0.1,
        duplicate: 0.05,
        corrupt: 0.05,
        jitter_us: 30,
        rate_bps: Some(100_000_000),
        queue_bytes: 20_000,
        ..imp(40)
    };
    let fabric = SimFabric::new(seed, noisy);
    let mut a = fabric.attach(mac(1), 2);
    let mut b = fabric.attach(mac(2), 3);
    let mut out = Vec::new();
    for round in 0..200u64 {
        for k in 0..8u64 {
            let sport = 1000 + (round * 8 + k) as u16 % 50;
            let f = tcp_frame(
                mac(2),
                mac(1),
                ([10, 0, 0, 1], sport),
                ([10, 0, 0, 2], 80),
                &round.to_be_bytes(),
            );
            send(&mut a[(k % 2) as usize], &f);
            if k == 3 {
                send(&mut b[0], &arp_frame(mac(2)));
            }
        }
        a[0].flush();
        a[1].flush();
        b[0].flush();
        fabric.advance_to(fabric.now() + 37);
        for (station, ports) in [(0, &mut a), (1, &mut b)] {
            for (q, port) in ports.iter_mut().enumerate() {
                let now = fabric.now();
                port.rx_burst(64, &mut |f: &[u8]| out.push((now, station, q, f.to_vec())));
            }
        }
    }
    (out, format!("{:?}", fabric.stats()))
}

#[test]
fn same_seed_same_outcome_byte_for_byte() {
    let (one, stats_one) = transcript(42);
    let (two, stats_two) = transcript(42);
    assert!(one.len() > 1000);
    assert_eq!(stats_one, stats_two);
    assert!(
        one == two,
        "same seed and sends must give identical deliveries"
    );
    let (other, _) = transcript(43);
    assert!(one != other, "another seed should give another run");
}

#[test]
fn reorder_lets_later_frames_overtake() {
    const N: u64 = 2000;
    let (fabric, mut a, mut b) = pair(
        5,
        Impairments {
            reorder: 0.1,
            ..imp(100)
        },
    );
    let mut seqs = Vec::new();
    for i in 0..N {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
        a.flush();
        fabric.advance_to(fabric.now() + 5);
        b.rx_burst(64, &mut |f: &[u8]| seqs.push(seq_of(f)));
    }
    let rest = run_to_idle(&fabric, &mut b);
    seqs.extend(rest.iter().map(|(_, f)| seq_of(f)));
    // Nothing lost or invented, only the order changed.
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..N).collect::<Vec<_>>());
    let inversions = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    let reordered = fabric.stats().reordered;
    assert!((140..=260).contains(&reordered), "reordered {reordered}");
    assert!(inversions as u64 > reordered / 2, "inversions {inversions}");

    // Without reorder (and even with jitter) the order is kept.
    let (fabric, mut a, mut b) = pair(
        5,
        Impairments {
            jitter_us: 500,
            ..imp(100)
        },
    );
    let mut seqs = Vec::new();
    for i in 0..N {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
        a.flush();
        fabric.advance_to(fabric.now() + 5);
        b.rx_burst(64, &mut |f: &[u8]| seqs.push(seq_of(f)));
    }
    let rest = run_to_idle(&fabric, &mut b);
    seqs.extend(rest.iter().map(|(_, f)| seq_of(f)));
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
}

#[test]
fn duplicates_are_counted_and_delivered_twice() {
    const N: u64 = 10_000;
    let (fabric, mut a, mut b) = pair(
        11,
        Impairments {
            duplicate: 0.25,
            ..imp(3)
        },
    );
    let mut seqs = Vec::new();
    for i in 0..N {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
        a.flush();
        fabric.advance_to(fabric.now() + 10);
        b.rx_burst(64, &mut |f: &[u8]| seqs.push(seq_of(f)));
    }
    let dup = fabric.stats().duplicated;
    assert!((dup as f64 - 2500.0).abs() < 6.0 * 43.3, "duplicated {dup}");
    assert_eq!(seqs.len() as u64, N + dup);
    let twice = seqs.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(twice, dup, "a duplicate follows its original");
    assert_eq!(fabric.stats().delivered, N + dup);
}

#[test]
fn corruption_flips_exactly_one_byte_after_the_ethernet_header() {
    const N: u64 = 10_000;
    let (fabric, mut a, mut b) = pair(
        13,
        Impairments {
            corrupt: 0.25,
            ..imp(3)
        },
    );
    let mut damaged = 0u64;
    for i in 0..N {
        let frame = seq_frame(mac(2), mac(1), i, 80);
        send(&mut a, &frame);
        a.flush();
        fabric.advance_to(fabric.now() + 10);
        let mut got = Vec::new();
        b.rx_burst(64, &mut |f: &[u8]| got.push(f.to_vec()));
        assert_eq!(got.len(), 1);
        let diff: Vec<usize> = (0..frame.len())
            .filter(|&k| frame[k] != got[0][k])
            .collect();
        assert!(diff.len() <= 1 && diff.iter().all(|&k| k >= 14), "{diff:?}");
        damaged += diff.len() as u64;
    }
    assert_eq!(damaged, fabric.stats().corrupted);
    assert!(
        (damaged as f64 - 2500.0).abs() < 6.0 * 43.3,
        "corrupted {damaged}"
    );
}

#[test]
fn oversized_and_unroutable_frames_are_dropped() {
    let (fabric, mut a, mut b) = pair(
        1,
        Impairments {
            mtu: 1000,
            ..imp(1)
        },
    );
    assert_eq!(a.caps().mtu, 1000);
    send(&mut a, &seq_frame(mac(2), mac(1), 1, 1015));
    send(&mut a, &seq_frame(mac(2), mac(1), 2, 1014));
    send(&mut a, &seq_frame(mac(9), mac(1), 3, 64));
    a.flush();
    let got = run_to_idle(&fabric, &mut b);
    assert_eq!(
        got.iter().map(|(_, f)| seq_of(f)).collect::<Vec<_>>(),
        vec![2]
    );
    let stats = fabric.stats();
    assert_eq!((stats.sent, stats.oversize, stats.unroutable), (3, 1, 1));
}

#[test]
fn scripted_drops_by_index_and_by_predicate() {
    let (fabric, mut a, mut b) = pair(1, imp(1));
    fabric.drop_frames([1, 3]);
    // Drop the next two frames whose sequence number is a multiple of 5.
    fabric.drop_next(2, |f: &[u8]| seq_of(f) % 5 == 0);
    for i in 0..12 {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
    }
    a.flush();
    let got: Vec<u64> = run_to_idle(&fabric, &mut b)
        .iter()
        .map(|(_, f)| seq_of(f))
        .collect();
    assert_eq!(got, vec![2, 4, 6, 7, 8, 9, 10, 11]);
    assert_eq!(fabric.stats().scripted_drops, 4);
}

#[test]
fn per_direction_impairments_override_the_fabric() {
    let (fabric, mut a, mut b) = pair(1, imp(10));
    fabric.configure_direction(
        mac(1),
        mac(2),
        Some(Impairments {
            loss: 1.0,
            ..imp(10)
        }),
    );
    fabric.configure_direction(mac(2), mac(1), Some(imp(300)));
    send(&mut a, &seq_frame(mac(2), mac(1), 1, 64));
    a.flush();
    send(&mut b, &seq_frame(mac(1), mac(2), 2, 64));
    b.flush();
    assert_eq!(fabric.next_event(), Some(300));
    fabric.advance_to(1000);
    assert_eq!(b.rx_burst(64, &mut |_| {}), 0);
    assert_eq!(a.rx_burst(64, &mut |_| {}), 1);
    // Cleared: back to the fabric's settings; configure() changes those.
    fabric.configure_direction(mac(1), mac(2), None);
    fabric.configure(imp(7));
    assert_eq!(fabric.impairments(), imp(7));
    send(&mut a, &seq_frame(mac(2), mac(1), 3, 64));
    a.flush();
    assert_eq!(fabric.next_event(), Some(1007));
}

#[test]
fn steering_notify_and_broadcast_across_stations() {
    let fabric = SimFabric::new(1, imp(5));
    let mut a = fabric.attach(mac(1), 1);
    let mut b = fabric.attach(mac(2), 4);
    let mut c = fabric.attach(mac(3), 2);
    let woken = Arc::new(CountingNotify::default());
    for q in b.iter_mut() {
        q.set_notify(woken.clone());
    }
    let (ip_a, ip_b) = ([198, 18, 0, 1], [198, 18, 0, 2]);
    for sport in 5000..5040u16 {
        send(
            &mut a[0],
            &tcp_frame(mac(2), mac(1), (ip_a, sport), (ip_b, 443), b"z"),
        );
    }
    a[0].flush();
    fabric.advance_to(5);
    let mut hit = 0;
    for (q, port) in b.iter_mut().enumerate() {
        port.rx_burst(64, &mut |f: &[u8]| {
            let sport = u16::from_be_bytes([f[34], f[35]]);
            assert_eq!(queue_for(flow_hash(ip_a, ip_b, sport, 443), 4), q);
            hit += 1;
        });
    }
    assert_eq!(hit, 40);
    // One wake-up per queue that received frames, per advance.
    let queues_used = (5000..5040u16)
        .map(|p| queue_for(flow_hash(ip_a, ip_b, p, 443), 4))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(woken.count(), queues_used);
    assert!(recv_all(&mut c[0]).is_empty());

    // Broadcast: every queue of every other station.
    send(&mut a[0], &arp_frame(mac(1)));
    a[0].flush();
    fabric.advance_to(100);
    for port in b.iter_mut().chain(c.iter_mut()) {
        assert_eq!(recv_all(port).len(), 1);
    }
    assert!(recv_all(&mut a[0]).is_empty());
    assert_eq!(fabric.stats().delivered, 40 + 2);

    // A station that detaches gets nothing more.
    drop(c);
    send(&mut a[0], &arp_frame(mac(1)));
    a[0].flush();
    fabric.advance_to(200);
    assert_eq!(fabric.stats().delivered, 43);
}

#[test]
fn rx_queue_overflow_is_counted() {
    let (fabric, mut a, mut b) = pair(1, imp(1));
    let n = mtcp_io::sim::RX_QUEUE_FRAMES as u64 + 10;
    for i in 0..n {
        send(&mut a, &seq_frame(mac(2), mac(1), i, 64));
    }
    a.flush();
    fabric.advance_to(10);
    assert_eq!(b.stats().drops, 10);
    assert_eq!(fabric.stats().rx_drops, 10);
    assert_eq!(recv_all(&mut b).len(), mtcp_io::sim::RX_QUEUE_FRAMES);
}

#[test]
fn capture_writes_a_valid_pcap_of_every_frame_as_sent() {
    let path = std::env::temp_dir().join(format!("mtcp-io-sim-{}.pcap", std::process::id()));
    let (fabric, mut a, mut b) = pair(
        9,
        Impairments {
            loss: 0.5,
            ..imp(20)
        },
    );
    fabric.capture(&path).unwrap();
    let mut sent = Vec::new();
    for i in 0..50u64 {
        fabric.advance_to(i * 1_000_003); // crosses second boundaries
        let f = seq_frame(mac(2), mac(1), i, 60 + i as usize);
        send(&mut a, &f);
        a.flush();
        sent.push((fabric.now(), f));
    }
    run_to_idle(&fabric, &mut b);
    assert!(
        fabric.stats().lost > 0,
        "lost frames are in the capture too"
    );

    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let u32_at = |o: usize| u32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_ne_bytes(bytes[o..o + 2].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "magic (microsecond pcap)");
    assert_eq!((u16_at(4), u16_at(6)), (2, 4), "version");
    assert_eq!(u32_at(20), 1, "LINKTYPE_ETHERNET");
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let (sec, usec, caplen, len) =
            (u32_at(at), u32_at(at + 4), u32_at(at + 8), u32_at(at + 12));
        assert_eq!(caplen, len);
        let data = bytes[at + 16..at + 16 + caplen as usize].to_vec();
        records.push((u64::from(sec) * 1_000_000 + u64::from(usec), data));
        at += 16 + caplen as usize;
    }
    assert_eq!(at, bytes.len(), "no trailing garbage");
    assert_eq!(records.len(), 50);
    assert_eq!(records, sent);
}
