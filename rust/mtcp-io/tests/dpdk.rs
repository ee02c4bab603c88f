//! The DPDK backend on a `net_ring` vdev (cargo feature `dpdk`; needs root for the EAL).
//!
//! A `net_ring` port made without arguments loops every queue back on itself (its TX ring is
//! its RX ring), so frames sent come back: enough to check the burst paths, the mbuf
//! ownership (hundreds of frames through a pool), port open/close/reopen and the errors. One
//! test function, because the EAL initialises once per process.
#![cfg(feature = "dpdk")]

use std::io::ErrorKind;

use mtcp_io::dpdk;
use mtcp_io::{PacketIo, BURST};

fn eal_args() -> String {
    "--no-pci --no-huge -m 128 --no-telemetry -l 0 --file-prefix=mtcp-io-test --vdev=net_ring0"
        .to_owned()
}

/// A frame of `len` bytes starting with `seq`, the rest derived from it.
fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq) as u8)
        .collect();
    f[..4].copy_from_slice(&seq.to_be_bytes());
    f
}

fn send(q: &mut dpdk::DpdkQueue, bytes: &[u8]) -> bool {
    q.tx(bytes.len(), &mut |buf: &mut [u8]| {
        buf[..bytes.len()].copy_from_slice(bytes);
        bytes.len()
    })
}

fn receive_all(q: &mut dpdk::DpdkQueue) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for _ in 0..100 {
        let n = q.rx_burst(BURST, &mut |f| got.push(f.to_vec()));
        if n == 0 && !got.is_empty() {
            break;
        }
    }
    got
}

#[test]
fn ring_vdev_loops_frames_back_and_ports_reopen() {
    // The effective uid, from /proc (keeps `unsafe` out of the tests).
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: the DPDK EAL needs root");
        return;
    }
    let args = eal_args();
    let mut queues = dpdk::open("net_ring0", &args, None, 1500, 1).expect("open net_ring0");
    assert_eq!(queues.len(), 1);
    let q = &mut queues[0];
    let caps = q.caps();
    assert_eq!(caps.mtu, 1500);
    assert!(!caps.tx_checksum, "net_ring has no checksum offload");

    // More frames than a burst, of several sizes: every one comes back, in order, intact.
    let sent: Vec<Vec<u8>> = (0..300u32)
        .map(|seq| frame(seq, 60 + (seq as usize * 7) % 1455))
        .collect();
    let mut got = Vec::new();
    for chunk in sent.chunks(50) {
        for f in chunk {
            assert!(send(q, f));
        }
        q.flush();
        got.extend(receive_all(q));
    }
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "frames came back changed or out of order");
    let stats = q.stats();
    assert_eq!(stats.tx_frames, 300);
    assert_eq!(stats.rx_frames, 300);
    assert_eq!(stats.rx_bytes, sent.iter().map(|f| f.len() as u64).sum());

    // A frame longer than the MTU allows is cut to what fits.
    let long = vec![0xabu8; 4000];
    assert!(q.tx(long.len(), &mut |buf: &mut [u8]| {
        assert_eq!(buf.len(), 1514);
        buf.fill(0xab);
        buf.len()
    }));
    q.flush();
    assert_eq!(receive_all(q), vec![vec![0xabu8; 1514]]);

    // Errors: the port is held; other EAL arguments; an unknown port.
    let busy = dpdk::open("net_ring0", &args, None, 1500, 1).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::ResourceBusy, "{busy}");
    let other = dpdk::open("net_ring0", "--no-pci", None, 1500, 1).unwrap_err();
    assert_eq!(other.kind(), ErrorKind::InvalidInput, "{other}");
    assert!(other.to_string().contains("initialised"), "{other}");
    let missing = dpdk::open("net_nosuch0", &args, None, 1500, 1).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(missing.to_string().contains("net_nosuch0"), "{missing}");

    // Dropping the queues closes the port; opening it again creates the vdev again.
    drop(queues);
    // Two queues without RSS open (the stack corrects their steering in software).
    let two = dpdk::open("net_ring0", &args, None, 1500, 2).expect("2 queues without RSS");
    assert_eq!(two.len(), 2);
    drop(two);
    let mut again = dpdk::open("net_ring0", &args, Some([2, 0, 0, 0, 0, 9]), 1000, 1)
        .expect("reopen net_ring0");
    let q = &mut again[0];
    assert_eq!(q.caps().mac, [2, 0, 0, 0, 0, 9]);
    assert_eq!(q.caps().mtu, 1000);
    let f = frame(7, 200);
    assert!(send(q, &f));
    q.flush();
    assert_eq!(receive_all(q), vec![f]);
}
