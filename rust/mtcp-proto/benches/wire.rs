//! Per-segment cost of the wire layer: parsing a received data segment, building one to send,
//! and the Internet checksum over a full-MSS payload.
//!
//! Run: `cargo bench -p mtcp-proto --bench wire`.
use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mtcp_proto::wire::{checksum, ChecksumCaps, SeqNumber, TcpFlags, TcpRepr, TcpTimestamp};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A typical bulk-transfer data segment: ACK|PSH with the timestamps option.
fn data_segment(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        seq_number: SeqNumber(0x1234_5678),
        ack_number: SeqNumber(0x9abc_def0),
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window_len: 502,
        timestamp: Some(TcpTimestamp {
            tsval: 1_000_000,
            tsecr: 999_000,
        }),
        payload,
        ..TcpRepr::new(45678, 80)
    }
}

/// Fills `buf` with header, payload and checksum, as the engine does for each segment it sends.
fn build(repr: &TcpRepr<'_>, buf: &mut [u8]) -> usize {
    let header_len = repr.emit_header(buf);
    let len = header_len + repr.payload.len();
    buf[header_len..len].copy_from_slice(repr.payload);
    TcpRepr::fill_checksum(&mut buf[..len], SRC, DST);
    len
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn tcp_parse(c: &mut Criterion) {
    let data = payload(64);
    let mut segment = [0u8; 128];
    let len = build(&data_segment(&data), &mut segment);
    let segment = &segment[..len];

    let mut group = c.benchmark_group("tcp_parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("data_64B_ts", |b| {
        b.iter(|| TcpRepr::parse(black_box(segment), SRC, DST, ChecksumCaps::default()).unwrap())
    });
    group.bench_function("data_64B_ts_no_checksum", |b| {
        let caps = ChecksumCaps {
            rx: false,
            tx: false,
        };
        b.iter(|| TcpRepr::parse(black_box(segment), SRC, DST, caps).unwrap())
    });
    group.finish();
}

fn tcp_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_build");
    group.throughput(Throughput::Elements(1));
    for size in [64, 1448] {
        let data = payload(size);
        let repr = data_segment(&data);
        let mut buf = [0u8; 1600];
        group.bench_function(format!("data_{size}B_ts"), |b| {
            b.iter(|| build(black_box(&repr), black_box(&mut buf)))
        });
    }
    group.finish();
}

fn internet_checksum(c: &mut Criterion) {
    let data = payload(1460);
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("data_1460B", |b| {
        b.iter(|| checksum::data(black_box(&data)))
    });
    group.finish();
}

criterion_group!(benches, tcp_parse, tcp_build, internet_checksum);
criterion_main!(benches);
