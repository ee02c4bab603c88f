//! Goodput table (issue 5 item 7): one flow, 100 ms RTT, 10 MiB client → server, with 32 KiB
//! and 4 MiB buffers, at 0%, 1%, 5% and 10% random loss each way, in the simulated network.
//! The set-up is smoltcp's `tests/netsim.rs` (50 ms one-way latency, independent loss per
//! frame, no rate limit, time counted from the SYN to the last byte read), so the figures
//! compare with its published ones. Each buffer size is run with CUBIC, NewReno and BBR.
//!
//! `cargo run --release -p mtcp --example goodput [-- SEEDS [MBITS]]` prints a Markdown
//! table; each cell is the mean over SEEDS seeds (default 3). With MBITS the path also has a
//! bottleneck of MBITS Mbit/s each way with a queue of one bandwidth-delay product, as a real
//! path would (smoltcp's set-up has none).
use std::net::SocketAddrV4;

use mtcp::consts::{AF_INET, SHUT_WR, SOCK_STREAM};
use mtcp::sim::{Impairments, Network};
use mtcp::{Config, Errno};
use mtcp_proto::Duration;

const BYTES: usize = 10 * 1024 * 1024;
const LOSSES: [f64; 4] = [0.0, 0.01, 0.05, 0.10];
const BUFFERS: [(usize, &str); 2] = [(32 * 1024, "32 KiB"), (4 * 1024 * 1024, "4 MiB")];

fn would_block(e: &std::io::Error) -> bool {
    mtcp::errno_of(e) == Some(Errno::EAGAIN)
}

/// Seconds of virtual time to move `BYTES` from the client's `write` to the server's `read`,
/// through a bottleneck of `mbits` Mbit/s when given.
fn run(seed: u64, loss: f64, buffer: usize, cc: &str, mbits: Option<u64>) -> f64 {
    let config = Config {
        rcvbuf: buffer,
        sndbuf: buffer,
        cc: cc.into(),
        ..Config::default()
    };
    let imp = Impairments {
        loss,
        delay_us: 50_000,
        rate_bps: mbits.map(|m| m * 1_000_000),
        // Without a bottleneck, enough queue that only the random loss drops frames; with
        // one, a bandwidth-delay product (rate × 100 ms).
        queue_bytes: mbits.map_or(64 * 1024 * 1024, |m| (m * 1_000_000 / 8 / 10) as usize),
        ..Impairments::default()
    };
    let net = Network::new(seed, imp);
    let server = net
        .add_host("198.18.0.1".parse().unwrap(), config.clone())
        .unwrap()
        .create_context(0)
        .unwrap();
    let client = net
        .add_host("198.18.0.2".parse().unwrap(), config)
        .unwrap()
        .create_context(0)
        .unwrap();
    let addr: SocketAddrV4 = "198.18.0.1:80".parse().unwrap();
    let listener = server.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    server.bind(listener, addr).unwrap();
    server.listen(listener, 16).unwrap();
    let sock = client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
    let start = net.now();
    let _ = client.connect(sock, addr); // EINPROGRESS
    let payload = vec![0x5au8; 64 * 1024];
    let mut accepted = None;
    let (mut sent, mut received) = (0usize, 0usize);
    let mut shut = false;
    let mut buf = vec![0u8; 64 * 1024];
    let mut finished_at = None;
    let ok = net.run_until(Duration::from_secs(24 * 3600), &mut || {
        if accepted.is_none() {
            accepted = server.accept(listener).ok().map(|(s, _)| s);
        }
        while sent < BYTES {
            let n = (BYTES - sent).min(payload.len());
            match client.write(sock, &payload[..n]) {
                Ok(n) => sent += n,
                Err(e) if would_block(&e) || mtcp::errno_of(&e) == Some(Errno::ENOTCONN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        if sent == BYTES && !shut {
            client.shutdown(sock, SHUT_WR).unwrap();
            shut = true;
        }
        if let Some(s) = accepted {
            loop {
                match server.read(s, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => received += n,
                    Err(e) if would_block(&e) => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
        if received == BYTES && finished_at.is_none() {
            finished_at = Some(net.now());
        }
        finished_at.is_some()
    });
    assert!(
        ok,
        "seed {seed} loss {loss} buffer {buffer}: unfinished ({received} bytes)"
    );
    let took = finished_at.unwrap() - start;
    took.total_micros() as f64 / 1e6
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SEEDS is a number"))
        .unwrap_or(3);
    let mbits: Option<u64> = std::env::args()
        .nth(2)
        .map(|s| s.parse().expect("MBITS is a number"));
    println!("One flow, 100 ms RTT, 10 MiB, loss each way; mean of {seeds} seeds per cell.");
    if let Some(m) = mbits {
        println!("Bottleneck {m} Mbit/s each way, queue of one bandwidth-delay product.");
    }
    println!("Goodput in KiB/s (% of the lossless goodput with the same buffer and controller).");
    println!();
    print!("| buffer | cc |");
    for loss in LOSSES {
        print!(" {:.0}% loss |", loss * 100.0);
    }
    println!();
    print!("|---|---|");
    for _ in LOSSES {
        print!("---:|");
    }
    println!();
    for (buffer, name) in BUFFERS {
        for cc in ["cubic", "newreno", "bbr"] {
            print!("| {name} | {cc} |");
            let mut lossless = 0.0;
            for loss in LOSSES {
                let mean_secs = (0..seeds)
                    .map(|s| run(s + 1, loss, buffer, cc, mbits))
                    .sum::<f64>()
                    / seeds as f64;
                let goodput = BYTES as f64 / 1024.0 / mean_secs;
                if loss == 0.0 {
                    lossless = goodput;
                    print!(" {goodput:.0} |");
                } else {
                    print!(" {goodput:.0} ({:.0}%) |", 100.0 * goodput / lossless);
                }
                use std::io::Write;
                std::io::stdout().flush().ok();
            }
            println!();
        }
    }
}
