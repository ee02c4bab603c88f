#!/bin/sh
# Instructions per short connection and per 64 B RPC (server and client side) under valgrind:
# runs bench_native in one thread, mtcp inline, for N1 and N2 operations and reports
# (Ir(N2) - Ir(N1)) / (N2 - N1). Needs valgrind; a benchmark, not a test.
set -eu
exec python3 -m mtcp bench --callgrind "$@"
