#!/usr/bin/env bash
# netlab.sh up [--loss P] | down | status | loss P — the network lab for running mtcp against
# the Linux kernel (root).
# A thin wrapper: the implementation is python/mtcp/tools/netlab.py (also `mtcp netlab`), which
# documents the layout (netns mtcp-stk / mtcp-peer / mtcp-tap, addresses in 198.18.10.0/24 and
# 198.18.11.0/24). It needs only python3, iproute2 and ethtool (nftables for loss), not the
# built package.
set -euo pipefail
exec python3 "$(cd "$(dirname "$0")/.." && pwd)/python/mtcp/tools/netlab.py" "$@"
