//! A capture file is complete whenever the simulated network is not running: every frame sent
//! so far is on disk, without waiting for the network to be dropped.
mod common;
use common::*;
use mtcp::sim::Impairments;
use mtcp::Config;
use mtcp_proto::Duration;

fn records(pcap: &[u8]) -> u64 {
    let (mut off, mut n) = (24, 0);
    while off + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + incl;
        n += 1;
    }
    assert_eq!(off, pcap.len(), "a record is cut short");
    n
}

#[test]
fn capture_holds_every_frame_sent_when_run_returns() {
    let p = sim_pair(21, Impairments::default(), Config::default());
    let path = std::env::temp_dir().join(format!("mtcp-capture-{}.pcap", std::process::id()));
    p.net.capture(&path).unwrap();
    let l = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, l);
    let got = transfer_one_way(&p, c, s, &pattern(20_000, 1), Duration::from_secs(10));
    assert_eq!(got.len(), 20_000);
    for step in 0..3 {
        let on_disk = records(&std::fs::read(&path).unwrap());
        assert_eq!(on_disk, p.net.stats().sent, "after run {step}");
        // The server's delayed ACK goes out in a later step: step once more and look again.
        p.net.step();
    }
    std::fs::remove_file(&path).unwrap();
}
