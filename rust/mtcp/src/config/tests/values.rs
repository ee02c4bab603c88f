//! Single values: CIDRs, MACs, enums, table entries.
use std::net::Ipv4Addr;

use crate::config::{format_mac, parse_mac, ArpEntry, IoKind, Ipv4Cidr, Route, RunMode};

#[test]
fn cidr_with_prefix() {
    let c: Ipv4Cidr = "198.18.0.1/24".parse().unwrap();
    assert_eq!(c.addr, Ipv4Addr::new(198, 18, 0, 1));
    assert_eq!(c.prefix_len, 24);
    assert_eq!(c.network(), Ipv4Addr::new(198, 18, 0, 0));
    assert_eq!(c.to_string(), "198.18.0.1/24");
}

#[test]
fn bare_address_is_slash_32() {
    let c: Ipv4Cidr = "198.19.255.254".parse().unwrap();
    assert_eq!(c.prefix_len, 32);
    assert!(c.contains(Ipv4Addr::new(198, 19, 255, 254)));
    assert!(!c.contains(Ipv4Addr::new(198, 19, 255, 253)));
}

#[test]
fn cidr_prefix_bounds() {
    assert_eq!("198.18.0.0/0".parse::<Ipv4Cidr>().unwrap().mask(), 0);
    assert_eq!(
        "198.18.0.0/32".parse::<Ipv4Cidr>().unwrap().mask(),
        u32::MAX
    );
    assert_eq!(
        "198.18.0.0/15".parse::<Ipv4Cidr>().unwrap().mask(),
        0xfffe_0000
    );
    let e = "198.18.0.0/33".parse::<Ipv4Cidr>().unwrap_err();
    assert!(e.message.contains("out of range"), "{e}");
}

#[test]
fn cidr_errors_are_descriptive() {
    for (text, needle) in [
        ("198.18.0/24", "'198.18.0' is not an IPv4 address"),
        ("198.18.0.256", "not an IPv4 address"),
        ("", "not an IPv4 address"),
        ("198.18.0.1/", "prefix length 0 to 32"),
        ("198.18.0.1/x", "found 'x'"),
        ("198.18.0.1/-1", "found '-1'"),
        ("198.18.0.1/+8", "found '+8'"),
        ("198.18.0.1/24/1", "found '24/1'"),
        ("fe80::1/64", "not an IPv4 address"),
    ] {
        let e = text.parse::<Ipv4Cidr>().unwrap_err();
        assert!(e.message.contains(needle), "{text:?}: {e}");
        assert_eq!((e.file, e.line, e.key), (None, None, None));
    }
}

#[test]
fn mask_never_panics_on_a_bad_prefix_field() {
    let c = Ipv4Cidr {
        addr: Ipv4Addr::new(198, 18, 0, 1),
        prefix_len: 40,
    };
    assert_eq!(c.mask(), u32::MAX);
}

#[test]
fn mac_forms() {
    let want = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0a];
    assert_eq!(parse_mac("02:00:c6:12:00:0a").unwrap(), want);
    assert_eq!(parse_mac("02:00:C6:12:00:0A").unwrap(), want);
    assert_eq!(parse_mac("2:0:c6:12:0:a").unwrap(), want);
    assert_eq!(parse_mac("02-00-c6-12-00-0a").unwrap(), want);
    assert_eq!(format_mac(&want), "02:00:c6:12:00:0a");
}

#[test]
fn mac_errors() {
    for text in [
        "",
        "02:00:c6:12:00",
        "02:00:c6:12:00:0a:01",
        "02:00:c6:12:00:0g",
        "002:00:c6:12:00:0a",
        "02:00:c6:12::0a",
        "02:00-c6:12:00:0a",
        "0200c612000a",
    ] {
        let e = parse_mac(text).unwrap_err();
        assert!(
            e.message.contains("expected a MAC address"),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn io_kinds() {
    for kind in IoKind::ALL {
        assert_eq!(kind.name().parse::<IoKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
    }
    assert_eq!("AF_PACKET".parse::<IoKind>().unwrap(), IoKind::AfPacket);
    assert_eq!("af_xdp".parse::<IoKind>().unwrap(), IoKind::AfXdp);
    assert_eq!("DPDK".parse::<IoKind>().unwrap(), IoKind::Dpdk);
}

#[test]
fn mtcp_io_modules_are_refused_by_name() {
    for name in ["psio", "netmap", "onvm"] {
        let e = name.parse::<IoKind>().unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
        assert!(e.message.contains(name), "{e}");
    }
    let e = "pcap".parse::<IoKind>().unwrap_err();
    assert!(e.message.contains("unknown I/O backend 'pcap'"), "{e}");
    assert!(e.message.contains("afxdp"), "lists the valid ones: {e}");
}

#[test]
fn run_modes() {
    assert_eq!("threaded".parse::<RunMode>().unwrap(), RunMode::Threaded);
    assert_eq!("Inline".parse::<RunMode>().unwrap(), RunMode::Inline);
    assert_eq!(RunMode::Inline.to_string(), "inline");
    let e = "polling".parse::<RunMode>().unwrap_err();
    assert!(e.message.contains("threaded or inline"), "{e}");
}

#[test]
fn arp_entry_line() {
    let e: ArpEntry = "198.18.0.2/32 02:00:c6:12:00:02".parse().unwrap();
    assert_eq!(e.dest, "198.18.0.2/32".parse().unwrap());
    assert_eq!(e.mac, [2, 0, 0xc6, 0x12, 0, 2]);
    assert_eq!(e.to_string(), "198.18.0.2/32 02:00:c6:12:00:02");
    assert_eq!("198.18.0.2 2:0:c6:12:0:2".parse::<ArpEntry>().unwrap(), e);
    assert!("198.18.0.2/32"
        .parse::<ArpEntry>()
        .unwrap_err()
        .message
        .contains("expected '<ip>"));
    assert!("198.18.0.2/32 02:00:c6:12:00:02 x"
        .parse::<ArpEntry>()
        .is_err());
    assert!("198.18.0.2/32 zz"
        .parse::<ArpEntry>()
        .unwrap_err()
        .message
        .contains("MAC"));
}

#[test]
fn route_lines() {
    let r: Route = "198.18.1.0/24 mtcp0".parse().unwrap();
    assert_eq!(
        (r.dest.prefix_len, r.iface.as_str(), r.gateway),
        (24, "mtcp0", None)
    );
    assert_eq!(r.to_string(), "198.18.1.0/24 mtcp0");

    let d: Route = "198.18.0.254/0 mtcp0".parse().unwrap();
    assert_eq!(
        d.dest,
        Ipv4Cidr {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0
        }
    );
    assert_eq!(d.gateway, Some(Ipv4Addr::new(198, 18, 0, 254)));
    assert_eq!(d.to_string(), "198.18.0.254/0 mtcp0");

    let v: Route = "198.19.0.0/16 mtcp0 via 198.18.0.253".parse().unwrap();
    assert_eq!(v.gateway, Some(Ipv4Addr::new(198, 18, 0, 253)));
    assert_eq!(v.to_string().parse::<Route>().unwrap(), v);
}

#[test]
fn route_line_errors() {
    for (text, needle) in [
        ("198.18.1.0/24", "expected '<ip>/<prefix> <interface>'"),
        ("198.18.1.0/24 a b", "expected '<ip>/<prefix> <interface>'"),
        (
            "198.18.1.0/24 a via",
            "expected '<ip>/<prefix> <interface>'",
        ),
        ("198.18.1.0/24 a,b", "contains ','"),
        (
            "198.18.0.254/0 mtcp0 via 198.18.0.1",
            "'via' is not allowed",
        ),
        (
            "198.18.1.0/24 mtcp0 via 198.18.0",
            "expected an IPv4 address",
        ),
        ("198.18.1.0/99 mtcp0", "out of range"),
    ] {
        let e = text.parse::<Route>().unwrap_err();
        assert!(e.message.contains(needle), "{text:?}: {e}");
    }
}
