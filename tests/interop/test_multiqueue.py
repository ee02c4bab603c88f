"""Two contexts on one multi-queue port whose own steering is not mTCP's RSS, with the kernel's
TCP at the other end: a multi-queue TAP (the kernel picks a queue by its own flow hash), AF_XDP
on the lab's 2-queue veth (the peer spreads flows over its transmit queues by its own hash,
:func:`netlab.peer_spread_over_queues`) and DPDK vdevs with two queues (``net_af_packet`` with
``qpairs=2``: a kernel fanout hash; ``net_tap``: a multi-queue TAP). The stack wraps such
queues in software steering (``rust/mtcp-io/src/steer.rs``), which hands each frame that
reached the wrong context to the one that owns its connection.

- Server side: the kernel opens 200 short HTTP connections to a service both contexts listen
  on; all complete with the right body, both contexts accepted a share, and each context's
  passive opens equal what it accepted (a SYN handled by the wrong context would make these
  differ, or reset the connection).
- Client side: each context (after ``mtcp_init_rss``) opens 20 connections to a kernel echo
  listener; the runtime picks source ports whose replies hash back to the opening context, so
  a SYN-ACK the device put on the other queue must be handed over, or the other context resets
  it and the connect fails.
- ``rx_steered`` shows frames were corrected (the devices spread flows independently of our
  hash, so about half of the kernel's first SYNs land on the wrong queue).

DPDK runs in a subprocess (its EAL initialises once per process) that imports
:func:`serve_and_connect` from this file. Root only; lab addresses only.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mtcp
from mtcp.tools import netlab

from .test_afpacket_fanout import connect_and_echo, kernel_echo_listener, two_context_stack
from .test_kernel_interop import (
    DPDK_SITE,
    DPDK_TAP_SITE,
    DPDK_VDEVS,
    HTTP_PORT,
    SHORT_CLIENT,
    SITES,
    Site,
    StackServer,
    dpdk_eal_args,
    kernel,
    require_dpdk,
)

#: Short connections the kernel opens to the two contexts.
KERNEL_CONNECTIONS = 200
#: Connections each context opens to the kernel.
OUT_CONNECTIONS = 20
KERNEL_PORT = 9201
REPO = Path(__file__).resolve().parents[2]


class CountingServer(StackServer):
    """:class:`StackServer` that counts the connections it accepted."""

    def __init__(self, ctx: mtcp.Context, addr: str) -> None:
        self.accepted = 0
        super().__init__(ctx, addr)

    def _accept(self, listener: mtcp.Socket, kind: str) -> None:
        before = len(self.conns)
        super()._accept(listener, kind)
        self.accepted += len(self.conns) - before


def serve_and_connect(stack: mtcp.Stack, site: Site) -> dict[str, Any]:
    """Runs both halves on a 2-context ``stack`` on ``site``; returns what :func:`check`
    looks at (plain data, so a subprocess can print it as JSON)."""
    contexts = [stack.create_context(i) for i in range(2)]
    servers = [CountingServer(ctx, site.stack_addr) for ctx in contexts]
    try:
        out = kernel(site, sys.executable, "-c", SHORT_CLIENT, site.stack_addr, str(HTTP_PORT),
                     str(KERNEL_CONNECTIONS), timeout=90)  # fmt: skip
    finally:
        for server in servers:
            server.close()
    passive = [ctx.stats().connections_opened for ctx in contexts]
    echoed = []
    with kernel_echo_listener(site, KERNEL_PORT):
        for ctx in contexts:
            ctx.init_rss(site.stack_addr, 1, site.kernel_addr, KERNEL_PORT)
            echoed.append(connect_and_echo(ctx, site.kernel_addr, KERNEL_PORT, OUT_CONNECTIONS))
    stats = [ctx.stats() for ctx in contexts]
    return {
        "completed": int(out.split()[0]),
        "accepted": [server.accepted for server in servers],
        "passive": passive,
        "echoed": echoed,
        "active": [s.connections_opened - p for s, p in zip(stats, passive, strict=True)],
        "steered": [s.rx_steered for s in stats],
        "drops": [s.drops for s in stats],
    }


def check(result: dict[str, Any]) -> None:
    print(f"two contexts: {json.dumps(result)}")
    assert result["completed"] == KERNEL_CONNECTIONS, result
    assert sum(result["accepted"]) == KERNEL_CONNECTIONS, result
    assert min(result["accepted"]) > 0, f"one context got every connection: {result}"
    assert result["passive"] == result["accepted"], result
    assert result["echoed"] == [OUT_CONNECTIONS] * 2, result
    assert result["active"] == [OUT_CONNECTIONS] * 2, result
    assert sum(result["steered"]) > 0, f"no frame needed correcting: {result}"


def two_contexts_serve_and_connect(site: Site) -> None:
    """`serve_and_connect` on a two-context stack at `site`, checked."""
    stack = two_context_stack(site)
    try:
        result = serve_and_connect(stack, site)
    finally:
        stack.destroy()
    check(result)


def test_two_contexts_on_a_multi_queue_tap(lab: None) -> None:
    two_contexts_serve_and_connect(SITES["tap"])


def test_two_contexts_on_two_afxdp_queues(lab: None) -> None:
    with netlab.peer_spread_over_queues():
        two_contexts_serve_and_connect(SITES["afxdp"])


def test_single_queue_tap_serves_one_context_and_says_how_to_make_more(lab: None) -> None:
    """A persistent TAP made without ``multi_queue`` takes one context as before; two are an
    EINVAL that says how to make the TAP."""
    name = "mtcptapsq0"
    netlab._run(["ip", "-n", netlab.TAP_NS, "tuntap", "add", "dev", name, "mode", "tap"])
    try:

        def config(cores: int) -> mtcp.Config:
            return mtcp.Config(io="tap", port=name, addr="198.18.14.2/24", num_cores=cores)

        with netlab.in_netns(netlab.TAP_NS):
            mtcp.Stack(config(1)).destroy()
            with pytest.raises(OSError, match="multi_queue") as info:
                mtcp.Stack(config(2))
        assert info.value.errno == errno.EINVAL
        assert f"ip tuntap add dev {name} mode tap multi_queue" in str(info.value)
    finally:
        netlab._run(["ip", "-n", netlab.TAP_NS, "link", "del", name], check=False)


#: The DPDK half in its own process: argv = repo root, DPDK port name, EAL arguments; prints
#: the result of :func:`serve_and_connect` as one JSON line.
DPDK_TWO_CONTEXTS = textwrap.dedent(
    """
    import json, subprocess, sys
    sys.path.insert(0, sys.argv[1])
    import mtcp
    from tests.interop.test_multiqueue import DPDK_SITES, serve_and_connect
    site = DPDK_SITES[sys.argv[2]]
    stack = mtcp.Stack(mtcp.Config(io="dpdk", port=site.port, addr=f"{site.stack_addr}/24",
                                   num_cores=2, max_concurrency=1024, dpdk_eal_args=sys.argv[3]))
    try:
        if site.kernel_dev == "mtcpdt0":
            # The PMD made the TAP; the kernel's end of it gets its address.
            subprocess.run(["ip", "-n", site.kernel_ns, "addr", "add",
                            f"{site.kernel_addr}/24", "dev", site.kernel_dev], check=True)
        print(json.dumps(serve_and_connect(stack, site)), flush=True)
    finally:
        stack.destroy()
    """
)

DPDK_SITES = {site.port: site for site in (DPDK_SITE, DPDK_TAP_SITE)}
#: Each vdev with two queues: net_af_packet needs ``qpairs``; net_tap opens as many queues of
#: its multi-queue TAP as the port is configured with.
DPDK_TWO_QUEUE_VDEVS = {
    DPDK_SITE.port: f"{DPDK_VDEVS[DPDK_SITE.port]},qpairs=2",
    DPDK_TAP_SITE.port: DPDK_VDEVS[DPDK_TAP_SITE.port],
}


@pytest.mark.parametrize("port", sorted(DPDK_SITES))
def test_two_contexts_on_a_two_queue_dpdk_vdev(lab: None, port: str) -> None:
    require_dpdk()
    site = DPDK_SITES[port]
    eal = dpdk_eal_args(DPDK_TWO_QUEUE_VDEVS[port])
    proc = subprocess.run(
        ["timeout", "-k", "5", "150", "ip", "netns", "exec", site.stack_ns, sys.executable,
         "-c", DPDK_TWO_CONTEXTS, str(REPO), port, eal],
        capture_output=True, text=True, timeout=160, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    check(json.loads(proc.stdout.strip().splitlines()[-1]))
