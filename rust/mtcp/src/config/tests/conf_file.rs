//! `mtcp.conf` text: tokenising, every key, defaults, mirroring, errors with their place.
use std::net::Ipv4Addr;

use super::{assert_err, parse_err, TempDir};
use crate::config::{Config, IoKind, Ipv4Cidr, RunMode};

#[test]
fn defaults_are_mtcps() {
    let c = Config::default();
    assert_eq!(c.max_concurrency, 10000);
    assert_eq!(c.max_num_buffers, 10000);
    assert_eq!(c.rcvbuf, 8192);
    assert_eq!(c.sndbuf, 8192);
    assert_eq!(c.tcp_timeout, 30);
    assert_eq!(c.tcp_timewait, 0);
    assert_eq!(c.cc, "newreno");
    assert_eq!(c.io, IoKind::Memory);
    assert_eq!(c.port, ["mtcp0"]);
    assert_eq!(c.mtu, 1500);
}

#[test]
fn empty_text_gives_defaults() {
    assert_eq!(Config::parse_str("", None).unwrap(), Config::default());
    assert_eq!(
        Config::parse_str("\n# only a comment\n\n   \t\n", None).unwrap(),
        Config::default()
    );
}

#[test]
fn every_key_parses() {
    let text = "\
io = afpacket
num_cores = 4
core_mask = 0xf0
num_mem_ch = 4
port = veth0 veth1
max_concurrency = 2000
max_num_buffers = 3000
rcvbuf = 16384
sndbuf = 32768
tcp_timeout = 60
tcp_timewait = 2
stat_print = veth0
multiprocess = 0 master
addr = 198.18.0.10/16
gateway = 198.18.0.1
mac = 02:00:c6:12:00:0a
mtu = 9000
mode = inline
cc = cubic
arp = 198.18.0.1/32 02:00:c6:12:00:01
route = 198.19.0.0/16 veth1
";
    let c = Config::parse_str(text, None).unwrap();
    assert_eq!(c.io, IoKind::AfPacket);
    assert_eq!(c.num_cores, 4);
    assert_eq!(c.core_mask, Some(0xf0));
    assert_eq!(c.port, ["veth0", "veth1"]);
    assert_eq!(c.max_concurrency, 2000);
    assert_eq!(c.max_num_buffers, 3000);
    assert_eq!((c.rcvbuf, c.sndbuf), (16384, 32768));
    assert_eq!((c.tcp_timeout, c.tcp_timewait), (60, 2));
    assert_eq!(c.stat_print, ["veth0"]);
    assert_eq!(
        c.addr,
        Some(Ipv4Cidr {
            addr: Ipv4Addr::new(198, 18, 0, 10),
            prefix_len: 16
        })
    );
    assert_eq!(c.gateway, Some(Ipv4Addr::new(198, 18, 0, 1)));
    assert_eq!(c.mac, Some([2, 0, 0xc6, 0x12, 0, 0x0a]));
    assert_eq!(c.mtu, 9000);
    assert_eq!(c.mode, RunMode::Inline);
    assert_eq!(c.cc, "cubic");
    assert_eq!(c.arp.len(), 1);
    assert_eq!(c.arp[0].mac, [2, 0, 0xc6, 0x12, 0, 1]);
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.routes[0].iface, "veth1");
    assert_eq!(c.source, None);
    c.validate().unwrap();
}

#[test]
fn tokenised_on_spaces_tabs_and_equals() {
    for line in [
        "rcvbuf = 4096",
        "rcvbuf=4096",
        "rcvbuf 4096",
        "\trcvbuf\t=\t4096\t",
        "rcvbuf == 4096",
        "  rcvbuf =4096\r",
    ] {
        let c = Config::parse_str(line, None).unwrap();
        assert_eq!(c.rcvbuf, 4096, "{line:?}");
    }
}

#[test]
fn comments_whole_line_and_trailing() {
    let text = "# header\n\n   # indented comment\nmtu = 1400 # trailing\nmode = inline#no space\n";
    let c = Config::parse_str(text, None).unwrap();
    assert_eq!(c.mtu, 1400);
    assert_eq!(c.mode, RunMode::Inline);
    let c = Config::parse_str("#mtu = 1400\n", None).unwrap();
    assert_eq!(c.mtu, 1500);
}

#[test]
fn crlf_lines() {
    let c = Config::parse_str("mtu = 1400\r\nnum_cores = 2\r\n", None).unwrap();
    assert_eq!((c.mtu, c.num_cores), (1400, 2));
}

#[test]
fn duplicate_key_last_wins() {
    let c = Config::parse_str("mtu = 1400\nmtu = 1300\nio = tap\nio = memory\n", None).unwrap();
    assert_eq!(c.mtu, 1300);
    assert_eq!(c.io, IoKind::Memory);
}

#[test]
fn rcvbuf_alone_copies_into_sndbuf() {
    let c = Config::parse_str("rcvbuf = 65536", None).unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (65536, 65536));
}

#[test]
fn sndbuf_alone_copies_into_rcvbuf() {
    let c = Config::parse_str("sndbuf = 1024", None).unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (1024, 1024));
}

#[test]
fn both_buffers_are_kept_apart() {
    let c = Config::parse_str("sndbuf = 1024\nrcvbuf = 2048", None).unwrap();
    assert_eq!((c.rcvbuf, c.sndbuf), (2048, 1024));
}

#[test]
fn core_mask_with_and_without_0x() {
    assert_eq!(
        Config::parse_str("core_mask = ff", None).unwrap().core_mask,
        Some(0xff)
    );
    assert_eq!(
        Config::parse_str("core_mask = 0XFe", None)
            .unwrap()
            .core_mask,
        Some(0xfe)
    );
    assert_eq!(
        Config::parse_str("core_mask = 0", None).unwrap().core_mask,
        None
    );
    let c = Config::parse_str("core_mask = ffffffffffffffff", None).unwrap();
    assert_eq!(c.core_mask, Some(u64::MAX));
}

#[test]
fn tcp_timeout_may_be_negative_to_disable() {
    assert_eq!(
        Config::parse_str("tcp_timeout = -1", None)
            .unwrap()
            .tcp_timeout,
        -1
    );
    assert_eq!(
        Config::parse_str("tcp_timeout = 0", None)
            .unwrap()
            .tcp_timeout,
        0
    );
}

#[test]
fn accepted_and_ignored_keys() {
    for text in [
        "num_mem_ch = 4",
        "multiprocess = 1",
        "multiprocess = 0",
        "multiprocess = 0 master",
        "multiprocess = 3 slave",
    ] {
        assert_eq!(
            Config::parse_str(text, None).unwrap(),
            Config::default(),
            "{text}"
        );
    }
    let e = parse_err("multiprocess = 0 boss");
    assert_err(&e, None, Some(1), Some("multiprocess"), "master|slave");
    let e = parse_err("num_mem_ch = four");
    assert_err(
        &e,
        None,
        Some(1),
        Some("num_mem_ch"),
        "non-negative whole number",
    );
}

#[test]
fn io_values() {
    for kind in IoKind::ALL {
        let c = Config::parse_str(&format!("io = {}", kind.name()), None).unwrap();
        assert_eq!(c.io, kind);
    }
    let e = parse_err("\nio = netmap");
    assert_err(&e, None, Some(2), Some("io"), "not supported");
    let e = parse_err("io = psio");
    assert_err(
        &e,
        None,
        Some(1),
        Some("io"),
        "'psio' I/O module is not supported",
    );
    let e = parse_err("io = onvm");
    assert_err(&e, None, Some(1), Some("io"), "not supported");
    let e = parse_err("io = ethernet");
    assert_err(
        &e,
        None,
        Some(1),
        Some("io"),
        "expected one of memory, sim, tap",
    );
}

#[test]
fn errors_name_file_line_and_key() {
    let dir = TempDir::new("errors");
    let cases: &[(&str, &str, usize, &str)] = &[
        ("# c\nnum_cores = 0\n", "num_cores", 2, "between 1 and 64"),
        ("num_cores = 65\n", "num_cores", 1, "between 1 and 64"),
        (
            "num_cores = two\n",
            "num_cores",
            1,
            "non-negative whole number",
        ),
        (
            "\n\nnum_cores = -1\n",
            "num_cores",
            3,
            "negative values are not allowed",
        ),
        ("rcvbuf = 63\n", "rcvbuf", 1, "between 64 and"),
        ("mtu = 1500\nsndbuf = 10\n", "sndbuf", 2, "between 64 and"),
        (
            "rcvbuf = 2147483648\n",
            "rcvbuf",
            1,
            "between 64 and 1073741824",
        ),
        (
            "max_concurrency = 0\n",
            "max_concurrency",
            1,
            "between 1 and",
        ),
        (
            "max_num_buffers = 0\n",
            "max_num_buffers",
            1,
            "between 1 and",
        ),
        (
            "max_num_buffers = 99999999999999999999999\n",
            "max_num_buffers",
            1,
            "too large",
        ),
        ("tcp_timeout = 30s\n", "tcp_timeout", 1, "whole number"),
        (
            "tcp_timeout = 9999999\n",
            "tcp_timeout",
            1,
            "at most 2147483 seconds",
        ),
        (
            "tcp_timewait = -1\n",
            "tcp_timewait",
            1,
            "negative values are not allowed",
        ),
        ("core_mask = 0xg\n", "core_mask", 1, "hexadecimal CPU mask"),
        (
            "core_mask = 1ffffffffffffffff\n",
            "core_mask",
            1,
            "wider than 64 bits",
        ),
        ("mtu = 67\n", "mtu", 1, "between 68 and 9000"),
        ("mtu = 9001\n", "mtu", 1, "between 68 and 9000"),
        ("mode = fast\n", "mode", 1, "threaded or inline"),
        ("cc = vegas\n", "cc", 1, "reno, newreno, cubic or bbr"),
        (
            "xdp_mode = fast\n",
            "xdp_mode",
            1,
            "auto, drv (native), skb (generic)",
        ),
        ("xdp_zerocopy = 2\n", "xdp_zerocopy", 1, "between 0 and 1"),
        ("addr = 198.18.0.1/40\n", "addr", 1, "out of range"),
        ("addr = 198.18.0\n", "addr", 1, "not an IPv4 address"),
        (
            "gateway = 198.18.0.1/24\n",
            "gateway",
            1,
            "expected an IPv4 address",
        ),
        ("mac = 02:00:c6:12:00\n", "mac", 1, "expected a MAC address"),
        ("mac = 01:00:5e:00:00:01\n", "mac", 1, "multicast"),
        ("mac = ff:ff:ff:ff:ff:ff\n", "mac", 1, "multicast/broadcast"),
        ("mac = 00:00:00:00:00:00\n", "mac", 1, "not a usable"),
        (
            "arp = 198.18.0.2/32\n",
            "arp",
            1,
            "expected '<ip>/<prefix> <mac>'",
        ),
        (
            "route = 198.18.1.0/24\n",
            "route",
            1,
            "expected '<ip>/<prefix> <interface>'",
        ),
        ("mtu =\n", "mtu", 1, "no value given"),
        ("\n\n\nport\n", "port", 4, "no value given"),
        ("rcvbuff = 4096\n", "rcvbuff", 1, "did you mean 'rcvbuf'"),
        ("onvm_serv = 1\n", "onvm_serv", 1, "openNetVM"),
        ("IO = memory\n", "IO", 1, "unknown key 'IO'"),
        (
            "listen_backlog = 4\n",
            "listen_backlog",
            1,
            "known keys: io, num_cores",
        ),
    ];
    for (i, &(text, key, line, needle)) in cases.iter().enumerate() {
        let path = dir.write(&format!("case{i}.conf"), text);
        let e = Config::load(&path).expect_err(text);
        assert_err(&e, Some(&path), Some(line), Some(key), needle);
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("{}:{line}: {key}: ", path.display())),
            "{shown}"
        );
    }
}

#[test]
fn first_error_stops_parsing() {
    let e = parse_err("mtu = 1\nmtu = 2\n");
    assert_eq!(e.line, Some(1));
}

#[test]
fn error_without_file_has_no_file() {
    let e = parse_err("mtu = big");
    assert_err(&e, None, Some(1), Some("mtu"), "whole number");
    assert_eq!(
        e.to_string(),
        "mtu: expected a non-negative whole number, found 'big'"
    );
}

#[test]
fn load_missing_file() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("absent.conf");
    let e = Config::load(&path).unwrap_err();
    assert_err(&e, Some(&path), None, None, "cannot read the file");
}

#[test]
fn load_records_source() {
    let dir = TempDir::new("source");
    let path = dir.write("mtcp.conf", "mtu = 1400\n");
    let c = Config::load(&path).unwrap();
    assert_eq!(c.source.as_deref(), Some(path.as_path()));
    assert_eq!(
        (c.arp_conf.clone(), c.route_conf.clone()),
        (None, None),
        "no default tables here"
    );
    assert!(c.arp.is_empty() && c.routes.is_empty());
}

#[test]
fn lists_split_on_whitespace() {
    let c = Config::parse_str("port = a  b\tc\nstat_print = a c", None).unwrap();
    assert_eq!(c.port, ["a", "b", "c"]);
    assert_eq!(c.stat_print, ["a", "c"]);
}

#[test]
fn repeated_arp_and_route_lines_accumulate() {
    let text = "\
arp = 198.18.0.2/32 02:00:c6:12:00:02
arp = 198.18.0.3/32 02:00:c6:12:00:03, 198.18.0.4 02:00:c6:12:00:04
route = 198.18.0.254/0 mtcp0
route = 198.19.0.0/16 mtcp0
";
    let c = Config::parse_str(text, None).unwrap();
    assert_eq!(c.arp.len(), 3);
    assert_eq!(c.arp[2].dest.prefix_len, 32);
    assert_eq!(c.routes.len(), 2);
    // The default route is kept last whatever the order of the lines.
    assert_eq!(c.routes[1].dest.prefix_len, 0);
    assert_eq!(c.routes[0].iface, "mtcp0");
}

#[test]
fn two_default_routes_are_an_error() {
    let e = parse_err("route = 198.18.0.254/0 mtcp0\n\nroute = 198.18.0.253/0 mtcp0\n");
    assert_err(&e, None, Some(3), Some("route"), "default route");
}

#[test]
fn to_conf_string_round_trips() {
    let mut c = Config::parse_str(
        "io = tap\nport = tap0 tap1\nnum_cores = 3\ncore_mask = 0x7\nrcvbuf = 1000\nsndbuf = 2000\n\
         tcp_timeout = -1\ntcp_timewait = 5\nstat_print = tap1\naddr = 198.18.3.4/23\n\
         gateway = 198.18.2.1\nmac = 02:00:00:00:00:99\nmtu = 1280\nmode = inline\ncc = reno\n\
         arp = 198.18.2.1/32 02:00:00:00:00:01, 198.18.2.2/32 02:00:00:00:00:02\n\
         route = 198.18.2.1/0 tap0\nroute = 198.19.0.0/16 tap1 via 198.18.2.7\n",
        None,
    )
    .unwrap();
    let text = c.to_conf_string();
    let back = Config::parse_str(&text, None).unwrap();
    assert_eq!(back, c, "{text}");
    c.addr = None;
    c.arp.clear();
    let back = Config::parse_str(&c.to_conf_string(), None).unwrap();
    assert_eq!(back, c);
}

#[test]
fn parse_str_with_file_resolves_tables_beside_it() {
    let dir = TempDir::new("beside");
    dir.write(
        "t/arp.conf",
        "ARP_ENTRY 1\n198.18.0.2/32 02:00:c6:12:00:02\n",
    );
    let conf = dir.path().join("t/virtual.conf");
    let c = Config::parse_str("mtu = 1400", Some(&conf)).unwrap();
    assert_eq!(c.arp.len(), 1);
    assert_eq!(c.arp_conf, Some(dir.path().join("t/arp.conf")));
    assert_eq!(c.source.as_deref(), Some(conf.as_path()));
    // Without a file no default table is looked for.
    let c = Config::parse_str("mtu = 1400", None).unwrap();
    assert!(c.arp.is_empty());
}
