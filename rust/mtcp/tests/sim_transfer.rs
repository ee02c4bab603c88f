//! Whole transfers through the simulated network, checked byte for byte.
mod common;
use common::*;
use mtcp::sim::Impairments;
use mtcp::Config;
use mtcp_proto::Duration;

fn transfer_both_ways(seed: u64, imp: Impairments, len: usize, buf: usize) {
    let config = Config {
        rcvbuf: buf,
        sndbuf: buf,
        ..Config::default()
    };
    let p = sim_pair(seed, imp, config);
    let l = listener(&p.server, p.server_addr);
    let (c, s) = sim_connect(&p, l);
    let up = pattern(len, seed);
    let down = pattern(len, seed + 1);
    let mut client = Pump::new(&p.client, c, up.clone());
    let mut server = Pump::new(&p.server, s, down.clone());
    let ok = p.net.run_until(Duration::from_secs(3600), &mut || {
        client.step();
        server.step();
        client.done() && server.done()
    });
    assert!(
        ok,
        "seed {seed}: transfer did not finish ({} / {len} bytes up, {} / {len} down) at {:?}: \
         client {:?} server {:?} net {:?}",
        server.got.len(),
        client.got.len(),
        p.net.now(),
        p.client.stats(),
        p.server.stats(),
        p.net.stats()
    );
    assert!(server.got == up, "seed {seed}: upstream bytes differ");
    assert!(client.got == down, "seed {seed}: downstream bytes differ");
    let retransmits = p.client.stats().retransmits + p.server.stats().retransmits;
    if p.net.stats().lost > 0 {
        assert!(
            retransmits > 0,
            "seed {seed}: frames were lost but no retransmit was counted"
        );
    }
    p.client.close(c).unwrap();
    p.server.close(s).unwrap();
}

#[test]
fn lossless_transfer_both_ways() {
    transfer_both_ways(1, Impairments::default(), 256 * 1024, 64 * 1024);
}

#[test]
fn one_mib_both_ways_under_loss_and_reordering() {
    for seed in 0..4 {
        let imp = Impairments {
            loss: 0.05,
            reorder: 0.05,
            ..Impairments::default()
        };
        transfer_both_ways(100 + seed, imp, 1 << 20, 64 * 1024);
    }
}

#[test]
fn duplication_and_corruption_do_not_damage_data() {
    let imp = Impairments {
        duplicate: 0.05,
        corrupt: 0.02,
        loss: 0.01,
        ..Impairments::default()
    };
    transfer_both_ways(7, imp, 256 * 1024, 8192);
}

#[test]
fn small_buffers_and_slow_link() {
    let imp = Impairments {
        delay_us: 5_000,
        rate_bps: Some(10_000_000),
        ..Impairments::default()
    };
    transfer_both_ways(9, imp, 200 * 1024, 8192);
}

#[test]
fn same_seed_same_outcome() {
    let run = |seed| {
        let imp = Impairments {
            loss: 0.03,
            reorder: 0.03,
            ..Impairments::default()
        };
        let p = sim_pair(seed, imp, Config::default());
        let l = listener(&p.server, p.server_addr);
        let (c, s) = sim_connect(&p, l);
        let mut client = Pump::new(&p.client, c, pattern(100_000, 3));
        let mut server = Pump::new(&p.server, s, Vec::new());
        p.net.run_until(Duration::from_secs(600), &mut || {
            client.step();
            server.step();
            server.done() && client.done()
        });
        (
            p.net.now(),
            p.net.stats(),
            p.client.stats(),
            p.server.stats(),
        )
    };
    let a = run(42);
    let b = run(42);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
