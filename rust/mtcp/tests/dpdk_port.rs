//! `io = dpdk` at the stack level: a clear error without the cargo feature `dpdk`, and the
//! configuration checks made before the EAL starts with it. (The DPDK port itself is tested
//! in mtcp-io's `tests/dpdk.rs` and, against the kernel's TCP, in tests/interop.)
use std::io::ErrorKind;

use mtcp::{Config, Stack};

fn dpdk_config(text: &str) -> Config {
    Config::parse_str(&format!("io = dpdk\nport = net_af_packet0\n{text}"), None).unwrap()
}

#[cfg(not(feature = "dpdk"))]
#[test]
fn without_the_feature_io_dpdk_is_unsupported_and_names_the_feature() {
    let err = Stack::new(dpdk_config(
        "addr = 198.18.10.2/24\ndpdk_eal_args = --no-pci --no-huge\n",
    ))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("feature `dpdk`"), "{err}");
}

#[cfg(feature = "dpdk")]
#[test]
fn with_the_feature_addr_and_eal_args_are_required() {
    let err = Stack::new(dpdk_config("dpdk_eal_args = --no-pci --no-huge\n")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("addr"), "{err}");
    let err = Stack::new(dpdk_config("addr = 198.18.10.2/24\n")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("dpdk_eal_args"), "{err}");
}
