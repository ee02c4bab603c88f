//! Frames per second through one in-memory station pair, in one thread: a transmit burst of 32
//! frames, a flush, then a receive burst on the other side (the cost of the hub itself: buffer
//! recycling, steering, one lock per burst per side).
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mtcp_io::memory;
use mtcp_io::PacketIo;

const BURST: usize = 32;

fn tcp_frame(sport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[23] = 6;
    f[26..30].copy_from_slice(&[198, 18, 0, 1]);
    f[30..34].copy_from_slice(&[198, 18, 0, 2]);
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f
}

fn burst_through_pair(c: &mut Criterion, name: &str, len: usize, queues: usize) {
    let hub = format!("bench-{name}");
    let mut a = memory::attach(&hub, [2, 0, 0, 0, 0, 1], 1, 1500).unwrap();
    let mut b = memory::attach(&hub, [2, 0, 0, 0, 0, 2], queues, 1500).unwrap();
    let mut frame = tcp_frame(40_000);
    frame.resize(len, 0);
    let mut group = c.benchmark_group("memory");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function(name, |bench| {
        bench.iter(|| {
            for _ in 0..BURST {
                a[0].tx(frame.len(), &mut |buf: &mut [u8]| {
                    buf[..frame.len()].copy_from_slice(&frame);
                    frame.len()
                });
            }
            a[0].flush();
            let mut bytes = 0usize;
            for q in b.iter_mut() {
                q.rx_burst(BURST, &mut |f: &[u8]| bytes += f.len());
            }
            black_box(bytes)
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    burst_through_pair(c, "burst32_64B", 64, 1);
    burst_through_pair(c, "burst32_1514B", 1514, 1);
    burst_through_pair(c, "burst32_64B_4queues", 64, 4);
}

criterion_group!(memory_benches, benches);
criterion_main!(memory_benches);
