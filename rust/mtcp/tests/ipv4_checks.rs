//! IPv4 header checks on receive (RFC 1122 §3.2.1): fragments, bad checksums and inconsistent
//! lengths are dropped, each with its own counter, and never reach TCP. A raw station on the
//! in-memory hub sends hand-built SYNs to a listening stack; a valid SYN is answered, so the
//! frames differ from acceptable ones only in the fault under test.
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use mtcp::config::ArpEntry;
use mtcp::consts::*;
use mtcp::{Config, ContextStats, Ipv4Cidr, RunMode, Stack};
use mtcp_io::PacketIo;

const HUB: &str = "ipv4-checks";
const STACK_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 1);
const RAW_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 7, 2);
const RAW_MAC: [u8; 6] = [0x02, 0, 0xc6, 0x12, 7, 2];
const PORT: u16 = 80;

/// RFC 1071 sum, complemented.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            sum += u32::from(pair[0]) << 8 | pair.get(1).map_or(0, |&b| u32::from(b));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying a TCP SYN from the raw station to the stack's listener, with
/// correct checksums.
fn syn(stack_mac: [u8; 6], src_port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 20];
    f[0..6].copy_from_slice(&stack_mac);
    f[6..12].copy_from_slice(&RAW_MAC);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&RAW_IP.octets());
    ip[16..20].copy_from_slice(&STACK_IP.octets());
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&src_port.to_be_bytes());
    tcp[2..4].copy_from_slice(&PORT.to_be_bytes());
    tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x02; // SYN
    tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
    fill_checksums(&mut f);
    f
}

fn fill_checksums(f: &mut [u8]) {
    f[24..26].fill(0);
    let ip_sum = checksum(&[&f[14..34]]);
    f[24..26].copy_from_slice(&ip_sum.to_be_bytes());
    f[50..52].fill(0);
    let len = (f.len() - 34) as u16;
    let pseudo = [&f[26..34], &[0, 6], &len.to_be_bytes()[..]].concat();
    let tcp_sum = checksum(&[&pseudo, &f[34..]]);
    f[50..52].copy_from_slice(&tcp_sum.to_be_bytes());
}

/// SYN-ACKs (to the raw station) received within `wait`.
fn syn_acks(raw: &mut dyn PacketIo, wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut count = 0;
    while Instant::now() < deadline {
        raw.rx_burst(64, &mut |frame| {
            if frame.len() >= 54 && frame[23] == 6 && frame[47] & 0x12 == 0x12 {
                count += 1;
            }
        });
        std::thread::sleep(Duration::from_millis(2));
    }
    count
}

fn send(raw: &mut dyn PacketIo, frame: &[u8]) {
    assert!(raw.tx(frame.len(), &mut |buf| {
        buf[..frame.len()].copy_from_slice(frame);
        frame.len()
    }));
    raw.flush();
}

/// Waits until `check` holds for the context's counters (they update on its loop thread).
fn wait_stats(ctx: &mtcp::Context, check: impl Fn(&ContextStats) -> bool) -> ContextStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = ctx.stats();
        if check(&stats) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn fragments_bad_checksums_and_bad_lengths_are_dropped_and_counted() {
    let config = Config {
        port: vec![HUB.to_string()],
        addr: Some(Ipv4Cidr {
            addr: STACK_IP,
            prefix_len: 24,
        }),
        arp: vec![ArpEntry {
            dest: Ipv4Cidr {
                addr: RAW_IP,
                prefix_len: 32,
            },
            mac: RAW_MAC,
        }],
        mode: RunMode::Threaded,
        // The stack checks every checksum itself and counts what is wrong (with offload the
        // hub would check the raw station's frames and drop the bad ones before the stack).
        checksum_offload: false,
        ..Config::default()
    };
    let stack_mac = config.effective_mac();
    let stack = Stack::new(config).unwrap();
    let ctx = stack.create_context(0).unwrap();
    let l = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    ctx.bind(l, format!("0.0.0.0:{PORT}").parse().unwrap())
        .unwrap();
    ctx.listen(l, 64).unwrap();
    let mut raw = mtcp_io::memory::attach(HUB, RAW_MAC, 1, 1500)
        .unwrap()
        .pop()
        .unwrap();
    let base = ctx.stats();

    // A first fragment (more-fragments set) of an otherwise valid SYN.
    let mut fragment = syn(stack_mac, 40001);
    fragment[20] |= 0x20;
    fill_checksums(&mut fragment);
    // A later fragment (offset 8 × 8 bytes).
    let mut later = syn(stack_mac, 40002);
    later[20..22].copy_from_slice(&8u16.to_be_bytes());
    fill_checksums(&mut later);
    // A wrong IPv4 header checksum.
    let mut bad_ip = syn(stack_mac, 40003);
    bad_ip[24] ^= 0x01;
    // A wrong TCP checksum.
    let mut bad_tcp = syn(stack_mac, 40004);
    bad_tcp[50] ^= 0x01;
    // A total length beyond the frame, and one shorter than the header.
    let mut long = syn(stack_mac, 40005);
    long[16..18].copy_from_slice(&60u16.to_be_bytes());
    fill_checksums(&mut long);
    let mut short = syn(stack_mac, 40006);
    short[16..18].copy_from_slice(&12u16.to_be_bytes());
    fill_checksums(&mut short);
    // A header length below 20 bytes.
    let mut ihl = syn(stack_mac, 40007);
    ihl[14] = 0x44;

    for frame in [&fragment, &later, &bad_ip, &bad_tcp, &long, &short, &ihl] {
        send(&mut raw, frame);
    }
    let stats = wait_stats(&ctx, |s| s.drops >= base.drops + 7);
    assert_eq!(stats.rx_fragments - base.rx_fragments, 2, "{stats:?}");
    assert_eq!(stats.rx_bad_checksum - base.rx_bad_checksum, 2, "{stats:?}");
    assert_eq!(stats.rx_malformed - base.rx_malformed, 3, "{stats:?}");
    assert_eq!(stats.drops - base.drops, 7, "{stats:?}");
    assert_eq!(syn_acks(&mut raw, Duration::from_millis(200)), 0);

    // The same SYN, intact, is answered: the faults alone made the difference.
    send(&mut raw, &syn(stack_mac, 40008));
    assert_eq!(syn_acks(&mut raw, Duration::from_millis(500)), 1);
    assert_eq!(ctx.stats().drops, stats.drops);
    ctx.destroy();
    stack.destroy();
}
