//! Builds the C shim of the DPDK backend (csrc/dpdk_shim.c) when the cargo feature `dpdk` is
//! on; without it there is nothing to build and DPDK need not be installed.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "dpdk")]
    dpdk::build();
}

#[cfg(feature = "dpdk")]
mod dpdk {
    /// The oldest DPDK the shim is written for (the `RTE_ETH_*` names arrived in 21.11).
    const MIN_VERSION: &str = "21.11";

    fn probe() -> pkg_config::Config {
        let mut config = pkg_config::Config::new();
        config.atleast_version(MIN_VERSION);
        config
    }

    pub(super) fn build() {
        println!("cargo:rerun-if-changed=csrc/dpdk_shim.c");
        let lib = match probe().cargo_metadata(false).probe("libdpdk") {
            Ok(lib) => lib,
            Err(e) => panic!(
                "the `dpdk` feature needs DPDK >= {MIN_VERSION} found by pkg-config as \
                 `libdpdk` (Debian/Ubuntu: apt-get install libdpdk-dev): {e}"
            ),
        };
        let mut build = cc::Build::new();
        build.file("csrc/dpdk_shim.c").warnings(true);
        for path in &lib.include_paths {
            build.include(path);
        }
        for (name, value) in &lib.defines {
            build.define(name, value.as_deref());
        }
        build.compile("mtcp_dpdk_shim");
        // Link lines go after the shim's: with `--as-needed` a library must come after its user.
        if let Err(e) = probe().probe("libdpdk") {
            panic!("pkg-config libdpdk: {e}");
        }
    }
}
