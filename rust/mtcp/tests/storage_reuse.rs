//! Connections that take over the allocations of earlier ones (the per-context storage pool,
//! `mtcp_proto::tcp::Storage`) deliver every byte intact: 30 connections one after another
//! between the same two contexts, through loss, reordering, duplication and corruption, each
//! with other buffer sizes than the one before (so pooled rings are smaller or larger than
//! needed, and reassembly ranges and scoreboards are reused after holding state).
mod common;
use common::*;
use mtcp::consts::*;
use mtcp::sim::Impairments;
use mtcp::{Config, SockId};
use mtcp_proto::Duration;

/// Buffer sizes, client and server, of connection `i`.
fn sizes(i: usize) -> (i32, i32) {
    const SIZES: [i32; 5] = [4096, 65536, 8192, 2048, 32768];
    (SIZES[i % 5], SIZES[(i + 2) % 5])
}

fn set_buffers(ctx: &mtcp::Context, s: SockId, size: i32) {
    ctx.setsockopt(s, SOL_SOCKET, SO_RCVBUF, size).unwrap();
    ctx.setsockopt(s, SOL_SOCKET, SO_SNDBUF, size).unwrap();
}

#[test]
fn sequential_connections_on_reused_storage_deliver_intact() {
    let imp = Impairments {
        loss: 0.05,
        reorder: 0.05,
        duplicate: 0.02,
        corrupt: 0.02,
        delay_us: 300,
        ..Impairments::default()
    };
    let config = Config {
        tcp_timeout: 0,
        ..Config::default()
    };
    let p = sim_pair(11, imp, config);
    let lsock = listener(&p.server, p.server_addr);
    for i in 0..30 {
        let (client_size, server_size) = sizes(i);
        set_buffers(&p.server, lsock, server_size);
        let c = p.client.socket(AF_INET, SOCK_STREAM, 0).unwrap();
        set_buffers(&p.client, c, client_size);
        let s = sim_handshake(&p, c, lsock, Duration::from_secs(60));
        let data = pattern(48 * 1024, i as u64);
        let got = transfer_one_way(&p, c, s, &data, Duration::from_secs(300));
        assert!(
            got == data,
            "connection {i}: {} of {} bytes, or altered",
            got.len(),
            data.len()
        );
        p.client.close(c).unwrap();
        p.server.close(s).unwrap();
        let ok = p.net.run_until(Duration::from_secs(300), &mut || {
            p.client.stats().flows == 0 && p.server.stats().flows == 0
        });
        assert!(ok, "connection {i}: did not finish");
    }
}
