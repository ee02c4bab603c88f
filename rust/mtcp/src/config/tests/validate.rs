//! `Config::validate`: cross-field rules, and per-key rules on directly assigned fields.
use std::net::Ipv4Addr;

use super::{assert_err, TempDir};
use crate::config::{ArpEntry, Config, IoKind, Ipv4Cidr, Route};

fn memory_host() -> Config {
    Config {
        addr: Some("198.18.0.1/24".parse().unwrap()),
        ..Config::default()
    }
}

#[track_caller]
fn invalid(c: &Config, key: &str, needle: &str) {
    let e = c.validate().expect_err(key);
    assert_err(&e, None, None, Some(key), needle);
}

fn route(text: &str) -> Route {
    text.parse().unwrap()
}

#[test]
fn a_memory_host_with_an_address_is_valid() {
    memory_host().validate().unwrap();
}

#[test]
fn every_backend_may_omit_addr() {
    Config::default().validate().unwrap();
    for io in IoKind::ALL {
        Config {
            io,
            ..Config::default()
        }
        .validate()
        .unwrap();
    }
}

#[test]
fn sim_needs_neither_port_nor_addr() {
    Config {
        io: IoKind::Sim,
        port: Vec::new(),
        ..Config::default()
    }
    .validate()
    .unwrap();
}

#[test]
fn other_backends_need_a_port() {
    for io in [
        IoKind::Memory,
        IoKind::Tap,
        IoKind::AfPacket,
        IoKind::AfXdp,
        IoKind::Dpdk,
    ] {
        let c = Config {
            io,
            port: Vec::new(),
            ..memory_host()
        };
        invalid(&c, "port", "at least one port is required");
    }
}

#[test]
fn host_address_must_be_unicast() {
    for a in ["0.0.0.0/24", "224.0.0.1/24", "255.255.255.255/32"] {
        invalid(
            &Config {
                addr: Some(a.parse().unwrap()),
                ..Config::default()
            },
            "addr",
            "cannot be a host's address",
        );
    }
}

#[test]
fn gateway_inside_the_network() {
    let mut c = memory_host();
    c.gateway = Some(Ipv4Addr::new(198, 18, 0, 254));
    c.validate().unwrap();
    c.gateway = Some(Ipv4Addr::new(198, 18, 1, 254));
    invalid(&c, "gateway", "outside this host's network 198.18.0.0/24");
    c.gateway = Some(Ipv4Addr::new(198, 18, 0, 1));
    invalid(&c, "gateway", "own address");
    c.gateway = Some(Ipv4Addr::UNSPECIFIED);
    invalid(&c, "gateway", "cannot be a gateway");
}

#[test]
fn default_route_gateway_rules() {
    let mut c = memory_host();
    c.routes = vec![route("198.18.9.1/0 mtcp0")];
    invalid(&c, "route", "outside this host's network");
    c.routes = vec![route("198.18.0.253/0 mtcp0")];
    c.validate().unwrap();
    assert_eq!(c.default_gateway(), Some(Ipv4Addr::new(198, 18, 0, 253)));
    c.gateway = Some(Ipv4Addr::new(198, 18, 0, 254));
    invalid(
        &c,
        "gateway",
        "disagrees with the default route's gateway 198.18.0.253",
    );
    assert_eq!(
        c.default_gateway(),
        Some(Ipv4Addr::new(198, 18, 0, 254)),
        "gateway comes first"
    );
}

#[test]
fn route_rules_on_assigned_fields() {
    let mut c = memory_host();
    c.routes = vec![route("198.18.0.254/0 mtcp0"), route("198.19.0.0/16 mtcp0")];
    invalid(&c, "route", "must be the last route");
    c.routes = vec![Route {
        dest: "0.0.0.0/0".parse().unwrap(),
        iface: "mtcp0".into(),
        gateway: None,
    }];
    invalid(&c, "route", "has no gateway");
    c.routes = vec![route("198.19.0.0/16 eth9")];
    invalid(&c, "route", "'eth9' is not one of the ports");
    c.routes = (0..65)
        .map(|i| route(&format!("198.19.{i}.0/24 mtcp0")))
        .collect();
    invalid(&c, "route", "limit of 64");
    c.routes = vec![Route {
        dest: Ipv4Cidr {
            addr: Ipv4Addr::new(198, 19, 0, 0),
            prefix_len: 33,
        },
        iface: "mtcp0".into(),
        gateway: None,
    }];
    invalid(&c, "route", "over 32");
    c.routes = vec![Route {
        dest: "198.19.0.0/16".parse().unwrap(),
        iface: "a b".into(),
        gateway: None,
    }];
    invalid(&c, "route", "contains ' '");
}

#[test]
fn port_all_admits_any_interface() {
    let mut c = Config {
        port: vec!["all".into()],
        stat_print: vec!["eth3".into()],
        ..memory_host()
    };
    c.routes = vec![route("198.19.0.0/16 eth9")];
    c.validate().unwrap();
}

#[test]
fn stat_print_names_ports() {
    let c = Config {
        stat_print: vec!["mtcp0".into()],
        ..memory_host()
    };
    c.validate().unwrap();
    let c = Config {
        stat_print: vec!["mtcp1".into()],
        ..memory_host()
    };
    invalid(&c, "stat_print", "'mtcp1' is not one of the ports (mtcp0)");
}

#[test]
fn core_mask_needs_enough_cpus() {
    let c = Config {
        num_cores: 3,
        core_mask: Some(0b1010),
        ..memory_host()
    };
    invalid(&c, "core_mask", "selects 2 CPUs but num_cores is 3");
    Config {
        num_cores: 2,
        core_mask: Some(0b1010),
        ..memory_host()
    }
    .validate()
    .unwrap();
    let c = Config {
        core_mask: Some(0),
        ..memory_host()
    };
    invalid(&c, "core_mask", "selects 0 CPUs");
}

#[test]
fn per_key_rules_apply_to_assigned_fields() {
    let base = memory_host();
    let cases: Vec<(Config, &str, &str)> = vec![
        (
            Config {
                num_cores: 0,
                ..base.clone()
            },
            "num_cores",
            "between 1 and 64",
        ),
        (
            Config {
                num_cores: 65,
                ..base.clone()
            },
            "num_cores",
            "between 1 and 64",
        ),
        (
            Config {
                rcvbuf: 63,
                ..base.clone()
            },
            "rcvbuf",
            "between 64",
        ),
        (
            Config {
                sndbuf: 0,
                ..base.clone()
            },
            "sndbuf",
            "between 64",
        ),
        (
            Config {
                max_concurrency: 0,
                ..base.clone()
            },
            "max_concurrency",
            "between 1",
        ),
        (
            Config {
                max_num_buffers: 0,
                ..base.clone()
            },
            "max_num_buffers",
            "between 1",
        ),
        (
            Config {
                mtu: 20,
                ..base.clone()
            },
            "mtu",
            "between 68 and 9000",
        ),
        (
            Config {
                tcp_timeout: i64::MAX,
                ..base.clone()
            },
            "tcp_timeout",
            "at most",
        ),
        (
            Config {
                tcp_timewait: u64::MAX,
                ..base.clone()
            },
            "tcp_timewait",
            "between 0 and",
        ),
        (
            Config {
                cc: "vegas".into(),
                ..base.clone()
            },
            "cc",
            "reno, newreno, cubic or bbr",
        ),
        (
            Config {
                mac: Some([1, 0, 0, 0, 0, 0]),
                ..base.clone()
            },
            "mac",
            "multicast",
        ),
        (
            Config {
                port: vec!["mtcp 0".into()],
                ..base.clone()
            },
            "port",
            "contains ' '",
        ),
        (
            Config {
                stat_print: vec!["".into()],
                ..base.clone()
            },
            "stat_print",
            "expected a name",
        ),
        (
            Config {
                addr: Some(Ipv4Cidr {
                    addr: Ipv4Addr::new(198, 18, 0, 1),
                    prefix_len: 40,
                }),
                ..base.clone()
            },
            "addr",
            "over 32",
        ),
    ];
    for (c, key, needle) in cases {
        invalid(&c, key, needle);
    }
    let c = Config {
        arp: vec![ArpEntry {
            dest: Ipv4Cidr {
                addr: Ipv4Addr::new(198, 18, 0, 2),
                prefix_len: 99,
            },
            mac: [2, 0, 0, 0, 0, 2],
        }],
        ..base
    };
    invalid(&c, "arp", "over 32");
}

#[test]
fn validate_names_the_source_file() {
    let dir = TempDir::new("validate");
    let path = dir.write("mtcp.conf", "# not a port\nstat_print = eth9\n");
    let c = Config::load(&path).unwrap();
    let e = c.validate().unwrap_err();
    assert_err(
        &e,
        Some(&path),
        None,
        Some("stat_print"),
        "'eth9' is not one of the ports",
    );
}
