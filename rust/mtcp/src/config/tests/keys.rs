//! `Config::{set, get, update, keys}`: per-key parsing and canonical text.
use super::{assert_err, TempDir};
use crate::config::{Config, IoKind, RunMode};

/// A configuration in which every stored key differs from its default, loaded from files in
/// `dir` (so `arp_conf`/`route_conf` are set too).
fn rich(dir: &TempDir) -> Config {
    dir.write(
        "arp.conf",
        "ARP_ENTRY 2\n198.18.0.2/32 02:00:c6:12:00:02\n198.18.0.254 02:00:c6:12:00:fe\n",
    );
    dir.write(
        "route.conf",
        "ROUTES 2\n198.19.0.0/16 veth1 via 198.18.0.253\n198.18.0.254/0 veth0\n",
    );
    let path = dir.write(
        "mtcp.conf",
        "io = afxdp\nnum_cores = 2\ncore_mask = 0xc\nport = veth0 veth1\nmax_concurrency = 77\n\
         max_num_buffers = 88\nrcvbuf = 4096\nsndbuf = 2048\ntcp_timeout = -1\ntcp_timewait = 3\n\
         stat_print = veth1 veth0\naddr = 198.18.0.9/24\ngateway = 198.18.0.254\n\
         mac = 02:00:c6:12:00:99\nmtu = 4000\nmode = inline\ncc = cubic\n\
         tcp_syncookies = 2\ntcp_hystart = 0\ntcp_pacing = 1\n\
         tcp_timestamps = 0\ntcp_window_scaling = 0\ntcp_sack = 0\ntcp_recovery = 0\n\
         tcp_frto = 0\ntcp_prr = 0\n\
         tcp_retries2 = 8\ntcp_syn_retries = 2\ntcp_challenge_ack_limit = 100\n\
         tcp_rto_min_ms = 5\ntcp_rto_max_ms = 120000\ntcp_rto_initial_ms = 3000\n\
         tcp_delack_ms = 10\ntcp_quickack = 0\n\
         checksum_offload = 0\ndpdk_eal_args = --no-pci  --vdev=net_tap0,iface=t0 # EAL\n\
         xdp_mode = SKB\nxdp_zerocopy = 1\n",
    );
    let c = Config::load(path).unwrap();
    c.validate().unwrap();
    c
}

#[test]
fn keys_lists_every_key_once() {
    let keys = Config::keys();
    assert_eq!(keys.len(), 44);
    for (i, k) in keys.iter().enumerate() {
        assert!(!keys[..i].contains(k), "{k} listed twice");
        assert!(Config::default().get(k).is_some(), "get({k})");
    }
    for k in [
        "io",
        "num_cores",
        "core_mask",
        "num_mem_ch",
        "port",
        "max_concurrency",
        "max_num_buffers",
        "rcvbuf",
        "sndbuf",
        "tcp_timeout",
        "tcp_timewait",
        "stat_print",
        "multiprocess",
        "addr",
        "gateway",
        "mac",
        "mtu",
        "mode",
        "cc",
        "tcp_syncookies",
        "tcp_hystart",
        "tcp_pacing",
        "tcp_timestamps",
        "tcp_window_scaling",
        "tcp_sack",
        "tcp_recovery",
        "tcp_frto",
        "tcp_prr",
        "tcp_retries2",
        "tcp_syn_retries",
        "tcp_challenge_ack_limit",
        "tcp_rto_min_ms",
        "tcp_rto_max_ms",
        "tcp_rto_initial_ms",
        "tcp_delack_ms",
        "tcp_quickack",
        "arp",
        "route",
        "arp_conf",
        "route_conf",
    ] {
        assert!(keys.contains(&k), "{k} missing");
    }
    for k in Config::ignored_keys() {
        assert!(keys.contains(k));
    }
}

#[test]
fn get_unknown_key_is_none() {
    assert_eq!(Config::default().get("nope"), None);
    assert_eq!(Config::default().get("IO"), None);
}

#[test]
fn get_canonical_forms() {
    let dir = TempDir::new("canon");
    let c = rich(&dir);
    let want = [
        ("io", "afxdp"),
        ("num_cores", "2"),
        ("core_mask", "0xc"),
        ("num_mem_ch", ""),
        ("port", "veth0 veth1"),
        ("rcvbuf", "4096"),
        ("tcp_timeout", "-1"),
        ("stat_print", "veth1 veth0"),
        ("addr", "198.18.0.9/24"),
        ("gateway", "198.18.0.254"),
        ("mac", "02:00:c6:12:00:99"),
        ("mode", "inline"),
        ("cc", "cubic"),
        ("tcp_syncookies", "2"),
        // Verbatim after the first '=', whitespace runs made single, the comment cut.
        ("dpdk_eal_args", "--no-pci --vdev=net_tap0,iface=t0"),
        ("xdp_mode", "skb"),
        ("xdp_zerocopy", "1"),
        (
            "arp",
            "198.18.0.2/32 02:00:c6:12:00:02, 198.18.0.254/32 02:00:c6:12:00:fe",
        ),
        (
            "route",
            "198.19.0.0/16 veth1 via 198.18.0.253, 198.18.0.254/0 veth0",
        ),
    ];
    for (k, v) in want {
        assert_eq!(c.get(k).unwrap(), v, "{k}");
    }
    assert_eq!(
        c.get("arp_conf").unwrap(),
        dir.path().join("arp.conf").display().to_string()
    );
    let d = Config::default();
    for k in [
        "core_mask",
        "stat_print",
        "addr",
        "gateway",
        "mac",
        "arp",
        "route",
        "arp_conf",
        "route_conf",
        "dpdk_eal_args",
    ] {
        assert_eq!(d.get(k).unwrap(), "", "unset {k} reads as empty");
    }
}

#[test]
fn set_get_round_trips_for_every_key_into_a_fresh_config() {
    let dir = TempDir::new("roundtrip");
    let c = rich(&dir);
    let default = Config::default();
    for &k in Config::keys() {
        let text = c.get(k).unwrap();
        let mut d = Config::default();
        d.set(k, &text)
            .unwrap_or_else(|e| panic!("set({k}, {text:?}): {e}"));
        assert_eq!(d.get(k).unwrap(), text, "{k}");
        if !Config::ignored_keys().contains(&k) {
            assert_ne!(
                default.get(k).unwrap(),
                text,
                "{k} should differ from its default in this test"
            );
        }
    }
}

#[test]
fn set_of_get_leaves_the_config_unchanged() {
    let dir = TempDir::new("idem");
    let c = rich(&dir);
    for &k in Config::keys() {
        let mut d = c.clone();
        d.set(k, &c.get(k).unwrap()).unwrap();
        assert_eq!(d, c, "{k}");
    }
    let d0 = Config::default();
    for &k in Config::keys() {
        let mut d = d0.clone();
        d.set(k, &d0.get(k).unwrap()).unwrap();
        assert_eq!(d, d0, "{k} on the default config");
    }
}

#[test]
fn set_parses_like_the_file() {
    let mut c = Config::default();
    c.set("io", "tap").unwrap();
    c.set("num_cores", "8").unwrap();
    c.set("addr", "198.18.7.7").unwrap();
    c.set("mode", "inline").unwrap();
    c.set(
        "arp",
        "198.18.7.1/32 02:00:00:00:00:01, 198.18.7.2/32 02:00:00:00:00:02",
    )
    .unwrap();
    assert_eq!(c.io, IoKind::Tap);
    assert_eq!(c.num_cores, 8);
    assert_eq!(c.addr.unwrap().prefix_len, 32);
    assert_eq!(c.mode, RunMode::Inline);
    assert_eq!(c.arp.len(), 2);
    c.set("arp", "198.18.7.3/32 02:00:00:00:00:03").unwrap();
    assert_eq!(c.arp.len(), 1, "set replaces the list");
}

#[test]
fn set_does_not_mirror_buffers() {
    let mut c = Config::default();
    c.set("rcvbuf", "4096").unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (4096, 8192));
}

#[test]
fn update_mirrors_buffers_like_a_file() {
    let mut c = Config::default();
    c.update([("io", "memory"), ("rcvbuf", "4096")]).unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (4096, 4096));
    c.update([("sndbuf", "1000"), ("rcvbuf", "2000")]).unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (2000, 1000));
}

#[test]
fn update_stops_at_the_first_error() {
    let mut c = Config::default();
    let e = c
        .update([("mtu", "1400"), ("num_cores", "0"), ("mode", "inline")])
        .unwrap_err();
    assert_err(&e, None, None, Some("num_cores"), "between 1 and 64");
    assert_eq!(c.mtu, 1400);
    assert_eq!(c.mode, RunMode::Threaded);
}

#[test]
fn set_errors_name_the_key_only() {
    let mut c = Config::default();
    let cases = [
        ("rcvbuf", "32", "between 64 and"),
        ("num_cores", "", "non-negative whole number"),
        ("io", "psio", "not supported"),
        ("addr", "198.18.0.1/33", "out of range"),
        ("mac", "zz", "MAC"),
        ("route", "198.18.0.1/0 p0, 198.18.0.2/0 p0", "default route"),
        ("mtu", "1500 bytes", "whole number"),
    ];
    for (k, v, needle) in cases {
        let e = c.set(k, v).unwrap_err();
        assert_err(&e, None, None, Some(k), needle);
    }
    let e = c.set("sndbuff", "4096").unwrap_err();
    assert_err(&e, None, None, Some("sndbuff"), "did you mean 'sndbuf'");
    assert_eq!(c, Config::default(), "failed sets change nothing");
}

#[test]
fn empty_value_unsets_optional_keys() {
    let mut c = Config::default();
    c.set("addr", "198.18.0.1/24").unwrap();
    c.set("gateway", "198.18.0.254").unwrap();
    c.set("mac", "02:00:00:00:00:01").unwrap();
    c.set("core_mask", "ff").unwrap();
    for k in ["addr", "gateway", "mac", "core_mask"] {
        c.set(k, "").unwrap();
    }
    assert_eq!(c, Config::default());
    assert!(
        c.set("mtu", "").is_err(),
        "a required value cannot be empty"
    );
}

#[test]
fn set_values_are_trimmed() {
    let mut c = Config::default();
    c.set(" mtu ", " 1400 ").unwrap();
    assert_eq!(c.mtu, 1400);
}

#[test]
fn effective_mac_derives_from_addr() {
    let mut c = Config::default();
    assert_eq!(c.effective_mac(), [2, 0, 0, 0, 0, 0]);
    c.set("addr", "198.18.0.7/24").unwrap();
    assert_eq!(c.effective_mac(), [2, 0, 198, 18, 0, 7]);
    c.set("mac", "02:aa:bb:cc:dd:ee").unwrap();
    assert_eq!(c.effective_mac(), [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
}

#[test]
fn tcp_syncookies_takes_linux_values() {
    let mut c = Config::default();
    assert_eq!(
        c.tcp_syncookies, 1,
        "default: cookies when the SYN queue is full"
    );
    assert_eq!(c.get("tcp_syncookies").unwrap(), "1");
    for (text, want) in [("0", 0), ("2", 2), ("1", 1)] {
        c.set("tcp_syncookies", text).unwrap();
        assert_eq!(c.tcp_syncookies, want);
        assert_eq!(c.get("tcp_syncookies").unwrap(), text);
    }
    for bad in ["3", "-1", "yes", ""] {
        let err = c.set("tcp_syncookies", bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("tcp_syncookies"), "{bad}");
    }
    assert_eq!(c.tcp_syncookies, 1, "a rejected value leaves the key alone");
    let parsed = Config::parse_str("tcp_syncookies = 0\n", None).unwrap();
    assert_eq!(parsed.tcp_syncookies, 0);
    let bad = Config {
        tcp_syncookies: 9,
        ..Config::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().key.as_deref(),
        Some("tcp_syncookies")
    );
}

#[test]
fn tcp_hystart_and_tcp_pacing_are_switches() {
    let mut c = Config::default();
    assert!(c.tcp_hystart, "HyStart++ on by default");
    assert!(!c.tcp_pacing, "pacing off by default");
    assert_eq!(c.get("tcp_hystart").unwrap(), "1");
    assert_eq!(c.get("tcp_pacing").unwrap(), "0");
    c.set("tcp_hystart", "0").unwrap();
    c.set("tcp_pacing", "1").unwrap();
    assert!(!c.tcp_hystart && c.tcp_pacing);
    assert_eq!(c.get("tcp_hystart").unwrap(), "0");
    assert_eq!(c.get("tcp_pacing").unwrap(), "1");
    for bad in ["2", "-1", "yes"] {
        let err = c.set("tcp_pacing", bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("tcp_pacing"), "{bad}");
    }
    assert!(c.tcp_pacing, "a rejected value leaves the key alone");
    let parsed = Config::parse_str("tcp_hystart = 0\ntcp_pacing = 1\n", None).unwrap();
    assert!(!parsed.tcp_hystart && parsed.tcp_pacing);
}

#[test]
fn tcp_switches_default_to_linux_and_round_trip() {
    let keys = [
        "tcp_timestamps",
        "tcp_window_scaling",
        "tcp_sack",
        "tcp_recovery",
    ];
    let mut c = Config::default();
    assert!(c.tcp_timestamps && c.tcp_window_scaling && c.tcp_sack && c.tcp_recovery);
    for k in keys {
        assert_eq!(c.get(k).unwrap(), "1", "{k} on by default, as Linux");
        c.set(k, "0").unwrap();
        assert_eq!(c.get(k).unwrap(), "0", "{k}");
        for bad in ["2", "-1", "on", ""] {
            let err = c.set(k, bad).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(k), "{k} = {bad:?}");
        }
        assert_eq!(c.get(k).unwrap(), "0", "a rejected value leaves {k} alone");
    }
    assert!(!c.tcp_timestamps && !c.tcp_window_scaling && !c.tcp_sack && !c.tcp_recovery);
    let parsed = Config::parse_str(
        "tcp_timestamps = 0\ntcp_window_scaling = 0\ntcp_sack = 0\ntcp_recovery = 0\n",
        None,
    )
    .unwrap();
    assert_eq!(parsed, c);
}

#[test]
fn tcp_counts_and_times_default_to_tcp_config_and_check_ranges() {
    let proto = mtcp_proto::tcp::TcpConfig::default();
    let c = Config::default();
    assert_eq!(c.tcp_retries2, proto.max_retries);
    assert_eq!(c.tcp_syn_retries, proto.max_syn_retries);
    assert_eq!(c.tcp_challenge_ack_limit, proto.challenge_ack_limit);
    assert_eq!(c.tcp_quickack, proto.quick_acks);
    let ms = |d: mtcp_proto::time::Duration| d.total_millis();
    assert_eq!(c.tcp_rto_min_ms, ms(proto.min_rto));
    assert_eq!(c.tcp_rto_max_ms, ms(proto.max_rto));
    assert_eq!(c.tcp_rto_initial_ms, ms(proto.initial_rto));
    assert_eq!(c.tcp_delack_ms, ms(proto.delayed_ack));
    // (key, lowest, highest accepted): one below and one above are errors naming the key.
    let ranges: [(&str, u64, u64); 8] = [
        ("tcp_retries2", 0, 255),
        ("tcp_syn_retries", 1, 127),
        ("tcp_challenge_ack_limit", 0, i32::MAX as u64),
        ("tcp_rto_min_ms", 1, 120_000),
        ("tcp_rto_max_ms", 1000, 120_000),
        ("tcp_rto_initial_ms", 1, 120_000),
        ("tcp_delack_ms", 1, 500),
        ("tcp_quickack", 0, 65_535),
    ];
    for (k, lo, hi) in ranges {
        let mut d = Config::default();
        let before = d.get(k).unwrap();
        for good in [lo, hi] {
            d.set(k, &good.to_string()).unwrap();
            assert_eq!(d.get(k).unwrap(), good.to_string(), "{k}");
        }
        d.set(k, &before).unwrap();
        let mut bad = vec![(hi + 1).to_string(), "x".to_string(), "-1".to_string()];
        if lo > 0 {
            bad.push((lo - 1).to_string());
        }
        for text in bad {
            let err = d.set(k, &text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(k), "{k} = {text}");
            assert_eq!(
                d.get(k).unwrap(),
                before,
                "a rejected value leaves {k} alone"
            );
        }
    }
}

#[test]
fn tcp_rto_min_may_not_exceed_max() {
    let c = Config::parse_str("tcp_rto_min_ms = 5000\ntcp_rto_max_ms = 2000\n", None).unwrap();
    let err = c.validate().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("tcp_rto_min_ms"));
    // Either order in a file is fine once the pair agrees.
    let c = Config::parse_str("tcp_rto_min_ms = 5000\ntcp_rto_max_ms = 90000\n", None).unwrap();
    c.validate().unwrap();
    let struct_set = Config {
        tcp_syn_retries: 0,
        ..Config::default()
    };
    assert_eq!(
        struct_set.validate().unwrap_err().key.as_deref(),
        Some("tcp_syn_retries")
    );
}

#[test]
fn tcp_frto_and_tcp_prr_default_on_and_map_to_tcp_config() {
    let mut c = Config::default();
    assert_eq!(c.get("tcp_frto").unwrap(), "2", "Linux's default");
    assert_eq!(c.get("tcp_prr").unwrap(), "1");
    let tcp = crate::engine::tcp_config_from(&c);
    assert!(tcp.frto && tcp.prr);
    for (v, on) in [("0", false), ("1", true), ("2", true)] {
        c.set("tcp_frto", v).unwrap();
        assert_eq!(c.get("tcp_frto").unwrap(), v);
        assert_eq!(
            crate::engine::tcp_config_from(&c).frto,
            on,
            "tcp_frto = {v}"
        );
    }
    c.set("tcp_prr", "0").unwrap();
    assert!(!crate::engine::tcp_config_from(&c).prr);
    for bad in ["3", "-1", "on", ""] {
        assert_eq!(
            c.set("tcp_frto", bad).unwrap_err().key.as_deref(),
            Some("tcp_frto")
        );
    }
    assert_eq!(
        c.set("tcp_prr", "2").unwrap_err().key.as_deref(),
        Some("tcp_prr")
    );
    let parsed = Config::parse_str("tcp_frto = 0\ntcp_prr = 0\n", None).unwrap();
    assert!(parsed.tcp_frto == 0 && !parsed.tcp_prr);
}
