#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then the Python package built and
# installed from this checkout and its pytest suite. Exits non-zero if any test fails or if
# no test ran.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    skip tests marked slow
set -euo pipefail
cd "$(dirname "$0")/.."

PYTEST_ARGS=()
if [[ "${1:-}" == "--quick" ]]; then
  PYTEST_ARGS+=(-m "not slow")
fi

# The DPDK backend (cargo feature `dpdk`) is built and tested where DPDK is installed
# (pkg-config libdpdk, e.g. Debian's libdpdk-dev); elsewhere it is left out and its tests skip.
CARGO_FEATURES=()
if command -v pkg-config >/dev/null && pkg-config --exists libdpdk; then
  echo "== DPDK $(pkg-config --modversion libdpdk) found: building with the dpdk feature"
  CARGO_FEATURES=(--features mtcp/dpdk)
  export MATURIN_PEP517_ARGS="${MATURIN_PEP517_ARGS:+$MATURIN_PEP517_ARGS }--features dpdk"
fi

echo "== rust: fmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
if ((${#CARGO_FEATURES[@]})); then
  cargo clippy --workspace --all-targets --locked "${CARGO_FEATURES[@]}" -- -D warnings
fi

echo "== rust: tests"
cargo test --workspace --exclude mtcp-py --locked "${CARGO_FEATURES[@]}"

echo "== rust: the lock-free primitives under Miri (combining engine, SPSC rings, futex)"
# `miri setup` builds Miri's standard library once (it needs the rust-src component); where
# that cannot be done the step is skipped, but a test that fails under Miri fails the suite.
if cargo +nightly miri --version >/dev/null 2>&1 && cargo +nightly miri setup >/dev/null 2>&1; then
  # Several schedules: Miri picks thread interleavings from the seed.
  MIRIFLAGS="-Zmiri-many-seeds=0..4" cargo +nightly miri test -p mtcp-io --lib --locked \
    -- sys::combine sys::spsc sys::futex
else
  echo "   skipped: no usable Miri (rustup component add --toolchain nightly miri rust-src)"
fi

echo "== python: build and install the package"
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
python3 -c 'import mtcp; print("mtcp backends:", " ".join(sorted(mtcp.features())))'

echo "== python: lint"
python3 -m ruff check python tests
python3 -m mypy python/mtcp

echo "== python: tests"
# pytest exits 5 when it collected no test: that must fail too, and set -e makes it so.
python3 -m pytest "${PYTEST_ARGS[@]}"
