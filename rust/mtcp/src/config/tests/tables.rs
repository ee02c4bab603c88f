//! `arp.conf` and `route.conf`: formats, counts, rules, and how mtcp.conf finds them.
use std::net::Ipv4Addr;

use super::{assert_err, TempDir};
use crate::config::Config;

const ARP_OK: &str = "\
# static entries
ARP_ENTRY 2   # two of them

198.18.0.2/32 02:00:c6:12:00:02
198.18.0.254/32 02:00:c6:12:00:fe # gateway
";

const ROUTE_OK: &str = "\
ROUTES 2
198.18.1.0/24 mtcp0
198.18.0.254/0 mtcp0
";

/// Loads an mtcp.conf (with `conf` text) in a directory holding the given table files.
fn load_with(
    tag: &str,
    conf: &str,
    files: &[(&str, &str)],
) -> (TempDir, Result<Config, crate::config::ConfigError>) {
    let dir = TempDir::new(tag);
    for (name, text) in files {
        dir.write(name, text);
    }
    let path = dir.write("mtcp.conf", conf);
    let result = Config::load(path);
    (dir, result)
}

#[test]
fn default_tables_beside_the_file() {
    let (dir, c) = load_with(
        "beside",
        "addr = 198.18.0.1/24\n",
        &[("arp.conf", ARP_OK), ("route.conf", ROUTE_OK)],
    );
    let c = c.unwrap();
    assert_eq!(c.arp.len(), 2);
    assert_eq!(c.arp[1].dest.addr, Ipv4Addr::new(198, 18, 0, 254));
    assert_eq!(c.arp[1].mac, [2, 0, 0xc6, 0x12, 0, 0xfe]);
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.routes[1].gateway, Some(Ipv4Addr::new(198, 18, 0, 254)));
    assert_eq!(c.routes[1].dest.prefix_len, 0);
    assert_eq!(c.default_gateway(), Some(Ipv4Addr::new(198, 18, 0, 254)));
    assert_eq!(c.arp_conf, Some(dir.path().join("arp.conf")));
    assert_eq!(c.route_conf, Some(dir.path().join("route.conf")));
    c.validate().unwrap();
}

#[test]
fn config_subdirectory_comes_first() {
    let sub = "ARP_ENTRY 1\n198.18.0.9/32 02:00:00:00:00:09\n";
    let (dir, c) = load_with(
        "subdir",
        "",
        &[("arp.conf", ARP_OK), ("config/arp.conf", sub)],
    );
    let c = c.unwrap();
    assert_eq!(c.arp.len(), 1);
    assert_eq!(c.arp_conf, Some(dir.path().join("config").join("arp.conf")));
}

#[test]
fn missing_default_tables_are_fine() {
    let (_dir, c) = load_with("nodefault", "mtu = 1400\n", &[]);
    let c = c.unwrap();
    assert!(c.arp.is_empty() && c.routes.is_empty());
    assert_eq!((c.arp_conf, c.route_conf), (None, None));
}

#[test]
fn explicit_table_paths_are_relative_to_the_file() {
    let conf = "arp_conf = tables/static.arp\nroute_conf = tables/static.route\n";
    let (dir, c) = load_with(
        "explicit",
        conf,
        &[
            ("tables/static.arp", ARP_OK),
            ("tables/static.route", ROUTE_OK),
            ("arp.conf", "ARP_ENTRY 0\n"),
        ],
    );
    let c = c.unwrap();
    assert_eq!(c.arp.len(), 2, "the named file wins over the default one");
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.arp_conf, Some(dir.path().join("tables/static.arp")));
}

#[test]
fn explicit_absolute_table_path() {
    let other = TempDir::new("abs-table");
    let table = other.write("a.conf", ARP_OK);
    let (_dir, c) = load_with("abs", &format!("arp_conf = {}\n", table.display()), &[]);
    assert_eq!(c.unwrap().arp.len(), 2);
}

#[test]
fn missing_explicit_table_is_an_error() {
    let (dir, c) = load_with(
        "noexplicit",
        "mtu = 1400\n\nroute_conf = nothere.conf\n",
        &[],
    );
    let e = c.unwrap_err();
    assert_err(
        &e,
        Some(&dir.path().join("mtcp.conf")),
        Some(3),
        Some("route_conf"),
        "cannot read",
    );
    assert!(e.message.contains("nothere.conf"), "{e}");
    let (dir, c) = load_with("noexplicit2", "arp_conf = gone.conf\n", &[]);
    assert_err(
        &c.unwrap_err(),
        Some(&dir.path().join("mtcp.conf")),
        Some(1),
        Some("arp_conf"),
        "gone.conf",
    );
}

#[test]
fn inline_entries_follow_table_entries() {
    let conf = "arp = 198.18.0.3/32 02:00:00:00:00:03\nroute = 198.19.0.0/16 mtcp0\n";
    let (_dir, c) = load_with(
        "inline",
        conf,
        &[("arp.conf", ARP_OK), ("route.conf", ROUTE_OK)],
    );
    let c = c.unwrap();
    assert_eq!(c.arp.len(), 3);
    assert_eq!(c.arp[2].dest.addr, Ipv4Addr::new(198, 18, 0, 3));
    assert_eq!(c.routes.len(), 3);
    assert_eq!(c.routes[1].dest.addr, Ipv4Addr::new(198, 19, 0, 0));
    assert_eq!(c.routes[2].dest.prefix_len, 0, "default route stays last");
}

/// Loads with one bad table file, expecting an error inside it.
fn table_error(name: &str, text: &str) -> (TempDir, crate::config::ConfigError) {
    let (dir, c) = load_with("bad", "", &[(name, text)]);
    (dir, c.expect_err(text))
}

#[test]
fn arp_table_errors_name_the_table_and_line() {
    let key = Some("arp_conf");
    let cases: &[(&str, usize, &str)] = &[
        (
            "ARP_ENTRY 1\n198.18.0.2/32 02:00:c6:12:00:02\n198.18.0.3/32 02:00:c6:12:00:03\n",
            3,
            "more entries than the 1",
        ),
        (
            "# c\nARP_ENTRY 3\n198.18.0.2/32 02:00:c6:12:00:02\n",
            2,
            "expects 3 entries, found 1",
        ),
        (
            "198.18.0.2/32 02:00:c6:12:00:02\n",
            1,
            "header 'ARP_ENTRY <number of entries>'",
        ),
        (
            "ARP_ENTRIES 1\n198.18.0.2/32 02:00:c6:12:00:02\n",
            1,
            "header",
        ),
        ("ARP_ENTRY\n", 1, "header"),
        (
            "ARP_ENTRY x\n",
            1,
            "ARP_ENTRY count: expected a non-negative whole number",
        ),
        ("ARP_ENTRY -1\n", 1, "negative"),
        (
            "ARP_ENTRY 2\n198.18.0.2/32 02:00:c6:12:00:02\n\n# gap\n198.18.0.3/32 02:00:c6:12:00\n",
            5,
            "expected a MAC address",
        ),
        (
            "ARP_ENTRY 1\n198.18.0/32 02:00:c6:12:00:02\n",
            2,
            "not an IPv4 address",
        ),
        (
            "ARP_ENTRY 1\n198.18.0.2/32\n",
            2,
            "expected '<ip>/<prefix> <mac>'",
        ),
    ];
    for &(text, line, needle) in cases {
        let (dir, e) = table_error("arp.conf", text);
        assert_err(
            &e,
            Some(&dir.path().join("arp.conf")),
            Some(line),
            key,
            needle,
        );
    }
}

#[test]
fn route_table_errors_name_the_table_and_line() {
    let key = Some("route_conf");
    let sixty_five = format!("ROUTES 65\n{}", "198.18.1.0/24 mtcp0\n".repeat(65));
    let cases: Vec<(String, usize, &str)> = vec![
        (
            "ROUTES 1\n198.18.1.0/24 mtcp0\n198.18.2.0/24 mtcp0\n".into(),
            3,
            "more entries than the 1",
        ),
        (
            "ROUTES 2\n198.18.1.0/24 mtcp0\n".into(),
            1,
            "expects 2 entries, found 1",
        ),
        (
            "ROUTES 3\n198.18.0.254/0 mtcp0\n198.18.1.0/24 mtcp0\n198.18.2.0/24 mtcp0\n".into(),
            2,
            "must be the last",
        ),
        (
            "ROUTES 2\n198.18.0.254/0 mtcp0\n198.18.0.253/0 mtcp0\n".into(),
            2,
            "must be the last",
        ),
        (sixty_five, 1, "more than the limit of 64"),
        (
            "ROUTE 1\n198.18.1.0/24 mtcp0\n".into(),
            1,
            "header 'ROUTES <number of entries>'",
        ),
        (
            "ROUTES 1\n198.18.1.0/24\n".into(),
            2,
            "expected '<ip>/<prefix> <interface>'",
        ),
        ("ROUTES 1\n198.18.1.0/33 mtcp0\n".into(), 2, "out of range"),
    ];
    for (text, line, needle) in cases {
        let (dir, e) = table_error("route.conf", &text);
        assert_err(
            &e,
            Some(&dir.path().join("route.conf")),
            Some(line),
            key,
            needle,
        );
    }
}

#[test]
fn sixty_four_routes_are_allowed() {
    let mut text = String::from("ROUTES 64\n");
    for i in 0..64 {
        text.push_str(&format!("198.18.{i}.0/24 mtcp0\n"));
    }
    let (_dir, c) = load_with("64", "", &[("route.conf", &text)]);
    assert_eq!(c.unwrap().routes.len(), 64);
}

#[test]
fn inline_routes_count_toward_the_limit() {
    let mut text = String::from("ROUTES 64\n");
    for i in 0..64 {
        text.push_str(&format!("198.18.{i}.0/24 mtcp0\n"));
    }
    let (dir, c) = load_with(
        "65",
        "\nroute = 198.19.0.0/16 mtcp0\n",
        &[("route.conf", &text)],
    );
    assert_err(
        &c.unwrap_err(),
        Some(&dir.path().join("mtcp.conf")),
        Some(2),
        Some("route"),
        "limit of 64",
    );
}

#[test]
fn empty_tables() {
    let (_dir, c) = load_with(
        "empty",
        "",
        &[("arp.conf", "# nothing\n"), ("route.conf", "ROUTES 0\n")],
    );
    let c = c.unwrap();
    assert!(c.arp.is_empty() && c.routes.is_empty());
    assert!(c.arp_conf.is_some() && c.route_conf.is_some());
}

#[test]
fn set_arp_conf_reads_the_file_relative_to_source() {
    let (dir, c) = load_with("set", "", &[]);
    let mut c = c.unwrap();
    dir.write("later.arp", ARP_OK);
    c.set("arp_conf", "later.arp").unwrap();
    assert_eq!(c.arp.len(), 2);
    assert_eq!(c.arp_conf, Some(dir.path().join("later.arp")));
    let e = c.set("route_conf", "absent.route").unwrap_err();
    assert_err(&e, None, None, Some("route_conf"), "cannot read");
    dir.write("bad.route", "ROUTES 1\n");
    let e = c.set("route_conf", "bad.route").unwrap_err();
    assert_err(
        &e,
        Some(&dir.path().join("bad.route")),
        Some(1),
        Some("route_conf"),
        "expects 1 entries, found 0",
    );
    c.set("arp_conf", "").unwrap();
    assert_eq!(c.arp_conf, None);
    assert_eq!(c.arp.len(), 2, "unsetting the file name keeps the entries");
}
