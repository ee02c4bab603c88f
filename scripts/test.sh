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

echo "== rust: fmt and clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== rust: tests"
cargo test --workspace --exclude mtcp-py --locked

echo "== python: build and install the package"
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"

echo "== python: lint"
python3 -m ruff check python tests
python3 -m mypy python/mtcp

echo "== python: tests"
# pytest exits 5 when it collected no test: that must fail too, and set -e makes it so.
python3 -m pytest "${PYTEST_ARGS[@]}"
