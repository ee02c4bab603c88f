//! The sample files under `config/` and the addresses in `docs/configuration.md`.
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::config::{Config, IoKind, Ipv4Cidr};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn benchmarking_range() -> Ipv4Cidr {
    "198.18.0.0/15".parse().unwrap()
}

#[test]
fn sample_mtcp_conf_loads_and_validates() {
    let path = repo_root().join("config/mtcp.conf");
    let c = Config::load(&path).unwrap();
    c.validate().unwrap();
    assert_eq!(c.io, IoKind::Memory);
    assert_eq!(c.num_cores, 2);
    assert_eq!(c.arp.len(), 2, "arp.conf beside mtcp.conf is found");
    assert_eq!(c.routes.len(), 2, "route.conf beside mtcp.conf is found");
    assert_eq!(c.arp_conf, Some(repo_root().join("config/arp.conf")));
    assert_eq!(c.default_gateway(), Some(Ipv4Addr::new(198, 18, 0, 254)));
    let range = benchmarking_range();
    assert!(range.contains(c.addr.unwrap().addr));
    assert!(c.arp.iter().all(|e| range.contains(e.dest.addr)));
    assert!(c
        .routes
        .iter()
        .all(|r| r.dest.prefix_len == 0 || range.contains(r.dest.addr)));
    assert!(c
        .routes
        .iter()
        .filter_map(|r| r.gateway)
        .all(|g| range.contains(g)));
}

#[test]
fn sample_tables_load_by_name() {
    let mut c = Config::default();
    c.set(
        "arp_conf",
        &repo_root().join("config/arp.conf").display().to_string(),
    )
    .unwrap();
    c.set(
        "route_conf",
        &repo_root().join("config/route.conf").display().to_string(),
    )
    .unwrap();
    assert_eq!((c.arp.len(), c.routes.len()), (2, 2));
}

/// Every dotted quad in the samples and the documentation is in 198.18.0.0/15 (or is 0.0.0.0,
/// which the documentation uses for the default route's destination).
#[test]
fn samples_and_docs_use_only_benchmarking_addresses() {
    let range = benchmarking_range();
    for file in [
        "config/mtcp.conf",
        "config/arp.conf",
        "config/route.conf",
        "docs/configuration.md",
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        let mut found = 0;
        for token in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            let token = token.trim_matches('.');
            if token.split('.').count() != 4 {
                continue;
            }
            let ip: Ipv4Addr = token
                .parse()
                .unwrap_or_else(|_| panic!("{file}: odd address {token}"));
            found += 1;
            assert!(
                range.contains(ip) || ip.is_unspecified(),
                "{file}: {ip} is outside 198.18.0.0/15"
            );
        }
        assert!(found > 0, "{file} has addresses");
    }
}
