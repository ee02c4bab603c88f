//! Two contexts of one stack serve one port: the hub's software RSS (Toeplitz, symmetric key)
//! splits flows between them, and client contexts pick source ports whose replies hash back
//! to themselves (mtcp_init_rss), so every connection is handled by one context only.
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::{Config, Context, Errno, Ipv4Cidr, RunMode, Stack};

fn stack(hub: &str, addr: &str, cores: usize) -> Stack {
    Stack::new(Config {
        port: vec![hub.to_string()],
        addr: Some(Ipv4Cidr {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
        }),
        num_cores: cores,
        max_concurrency: 512,
        mode: RunMode::Inline,
        ..Config::default()
    })
    .unwrap()
}

/// Opens `n` connections from each client context and checks each echoes one byte.
fn run(server_ctxs: &[Context], client_ctxs: &[Context], n: usize) -> Vec<u64> {
    let listeners: Vec<_> = server_ctxs
        .iter()
        .map(|ctx| {
            let l = ctx.socket(AF_INET, SOCK_STREAM, 0).unwrap();
            ctx.bind(l, "198.18.7.1:80".parse().unwrap()).unwrap();
            ctx.listen(l, 512).unwrap();
            l
        })
        .collect();
    for c in client_ctxs {
        c.init_rss(
            "0.0.0.0".parse().unwrap(),
            1,
            "198.18.7.1".parse().unwrap(),
            80,
        )
        .unwrap();
    }
    let mut accepted = vec![0u64; server_ctxs.len()];
    let mut done = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for round in 0..n {
        let socks: Vec<_> = client_ctxs
            .iter()
            .map(|c| {
                let s = c.socket(AF_INET, SOCK_STREAM, 0).unwrap();
                assert_eq!(
                    errno(c.connect(s, "198.18.7.1:80".parse().unwrap())),
                    Errno::EINPROGRESS
                );
                s
            })
            .collect();
        let mut pending: Vec<Option<(usize, i32)>> = vec![None; client_ctxs.len()];
        let mut finished = vec![false; client_ctxs.len()];
        let mut written = vec![false; client_ctxs.len()];
        while finished.iter().any(|f| !f) {
            assert!(std::time::Instant::now() < deadline, "round {round} stuck");
            for (i, sctx) in server_ctxs.iter().enumerate() {
                sctx.poll();
                while let Ok((a, _)) = sctx.accept(listeners[i]) {
                    accepted[i] += 1;
                    let k = pending.iter().position(|p| p.is_none()).unwrap();
                    pending[k] = Some((i, a));
                }
                for slot in pending.iter_mut() {
                    if let Some((ctx_i, a)) = *slot {
                        if ctx_i != i {
                            continue;
                        }
                        let mut b = [0u8; 1];
                        if let Ok(1) = sctx.read(a, &mut b) {
                            sctx.write(a, &b).unwrap();
                            sctx.close(a).unwrap();
                            *slot = None;
                        }
                    }
                }
            }
            for (j, c) in client_ctxs.iter().enumerate() {
                c.poll();
                if finished[j] {
                    continue;
                }
                let s = socks[j];
                if !written[j] && c.getpeername(s).is_ok() {
                    assert_eq!(c.write(s, b"x").unwrap(), 1);
                    written[j] = true;
                }
                let mut b = [0u8; 1];
                if let Ok(1) = c.read(s, &mut b) {
                    assert_eq!(&b, b"x");
                    c.close(s).unwrap();
                    finished[j] = true;
                    done += 1;
                }
            }
        }
    }
    assert_eq!(done, n * client_ctxs.len());
    accepted
}

#[test]
fn two_server_contexts_split_flows_of_one_port() {
    let server = stack("test-multicore-a", "198.18.7.1", 2);
    let client = stack("test-multicore-a", "198.18.7.2", 1);
    let sctx = [
        server.create_context(0).unwrap(),
        server.create_context(1).unwrap(),
    ];
    let cctx = [client.create_context(0).unwrap()];
    let accepted = run(&sctx, &cctx, 200);
    assert_eq!(accepted.iter().sum::<u64>(), 200);
    // The hash spreads client ports over both contexts.
    assert!(
        accepted.iter().all(|&a| a >= 40),
        "uneven split: {accepted:?}"
    );
    // A frame steered to the wrong context would find no flow there and be answered with RST
    // or dropped: nothing of that kind happened.
    for (i, ctx) in sctx.iter().enumerate() {
        // Each SYN was handled by the context that accepted its connection, and no other.
        assert_eq!(
            ctx.stats().connections_opened,
            accepted[i],
            "server context {i}"
        );
    }
    for ctx in sctx.iter().chain(&cctx) {
        assert_eq!(ctx.stats().drops, 0);
    }
}

#[test]
fn client_contexts_pick_ports_that_hash_back() {
    let server = stack("test-multicore-b", "198.18.7.1", 2);
    let client = stack("test-multicore-b", "198.18.7.2", 2);
    let sctx = [
        server.create_context(0).unwrap(),
        server.create_context(1).unwrap(),
    ];
    let cctx = [
        client.create_context(0).unwrap(),
        client.create_context(1).unwrap(),
    ];
    let accepted = run(&sctx, &cctx, 100);
    assert_eq!(accepted.iter().sum::<u64>(), 200);
    for (i, ctx) in sctx.iter().enumerate() {
        assert_eq!(
            ctx.stats().connections_opened,
            accepted[i],
            "server context {i}"
        );
    }
    for (i, c) in cctx.iter().enumerate() {
        assert_eq!(c.stats().connections_opened, 100, "client context {i}");
        assert_eq!(c.stats().drops, 0);
    }
}
