"""Two contexts on one AF_PACKET port (``num_cores = 2``), with the kernel's TCP at the other
end: the sockets of the two queues form a ``PACKET_FANOUT_CBPF`` group whose program computes
mTCP's RSS hash, so each frame reaches exactly the context that owns its connection.

- Server side: the kernel opens 200 short connections to an HTTP service that both contexts
  listen on; each context's passive opens equal what it accepted, both got a share, all 200
  complete.
- Client side: each context opens 20 connections to a kernel listener; the runtime picks
  source ports whose replies hash back to the opening context (``mtcp_init_rss``), which only
  works if the kernel-side program steers exactly as the runtime assumes — otherwise the
  SYN-ACKs reach the other context, which resets them. Both contexts also need ARP for the
  kernel peer, which each learns through its own ARP socket.

Root only; lab addresses only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import mtcp
from mtcp.tools import netlab

from .test_kernel_interop import (
    HTTP_PORT,
    SHORT_CLIENT,
    SITES,
    Site,
    StackServer,
    _connected_or_error,
    kernel,
)

SITE = SITES["afpacket"]
KERNEL_PORT = 9200

#: A kernel listener that answers each connection's 4 bytes with the same 4 bytes.
KERNEL_ECHO = textwrap.dedent(
    """
    import socket, sys, threading
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[1], int(sys.argv[2])))
    l.listen(128)
    l.settimeout(30)
    print("ready", flush=True)
    def serve(c):
        with c:
            c.settimeout(10)
            data = c.recv(4)
            c.sendall(data)
    while True:
        c, _ = l.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    """
)


def two_context_stack(site: Site = SITE) -> mtcp.Stack:
    """A stack with two contexts on `site`'s port, opened in its namespace."""
    config = mtcp.Config(
        io=site.io,
        port=site.port,
        addr=f"{site.stack_addr}/24",
        num_cores=2,
        max_concurrency=1024,
    )
    with netlab.in_netns(site.stack_ns):
        return mtcp.Stack(config)


def test_kernel_connections_split_between_two_contexts(lab: None) -> None:
    stack = two_context_stack()
    try:
        contexts = [stack.create_context(i) for i in range(2)]
        servers = [StackServer(ctx, SITE.stack_addr) for ctx in contexts]
        try:
            out = kernel(SITE, sys.executable, "-c", SHORT_CLIENT, SITE.stack_addr,
                         str(HTTP_PORT), "200", timeout=60)  # fmt: skip
        finally:
            for server in servers:
                server.close()
        opened = [ctx.stats().connections_opened for ctx in contexts]
    finally:
        stack.destroy()
    ok, _seconds = out.split()
    assert int(ok) == 200
    assert sum(opened) == 200, opened
    assert min(opened) > 0, f"one context got every connection: {opened}"


@contextlib.contextmanager
def kernel_echo_listener(site: Site, port: int) -> Iterator[None]:
    """``KERNEL_ECHO`` listening on ``site``'s kernel address, ``port``, for the block."""
    listener = subprocess.Popen(
        ["timeout", "60", "ip", "netns", "exec", site.kernel_ns, sys.executable, "-c",
         KERNEL_ECHO, site.kernel_addr, str(port)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed whole below
    )  # fmt: skip
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        yield
    finally:
        os.killpg(listener.pid, signal.SIGKILL)
        listener.communicate(timeout=5)


def connect_and_echo(ctx: mtcp.Context, addr: str, port: int, count: int) -> int:
    """Opens ``count`` connections from ``ctx`` to a ``KERNEL_ECHO`` listener at once, sends
    4 bytes on each and checks they come back; returns how many did (within 20 s). A connect
    that fails (the kernel's SYN-ACK reached another context, which reset it) fails the test."""
    socks = []
    for _ in range(count):
        sock = ctx.socket()
        rc = sock.connect_ex((addr, port))
        assert rc in (0, errno.EINPROGRESS), rc
        socks.append(sock)
    echoed = 0
    deadline = time.monotonic() + 20
    pending = {id(s): s for s in socks}
    sent: set[int] = set()
    while pending and time.monotonic() < deadline:
        for key, sock in list(pending.items()):
            state = _connected_or_error(sock)
            assert state in (-1, 0), f"connect failed: errno {state}"
            if state == -1:
                continue
            if key not in sent:
                assert sock.send(b"ping") == 4
                sent.add(key)
            try:
                data = sock.recv(4)
            except BlockingIOError:
                continue
            assert data == b"ping"
            echoed += 1
            sock.close()
            del pending[key]
        time.sleep(0.001)
    return echoed


def test_each_context_connects_out_through_its_own_queue(lab: None) -> None:
    with kernel_echo_listener(SITE, KERNEL_PORT):
        stack = two_context_stack()
        try:
            contexts = [stack.create_context(i) for i in range(2)]
            for ctx in contexts:
                echoed = connect_and_echo(ctx, SITE.kernel_addr, KERNEL_PORT, 20)
                assert echoed == 20, f"context {ctx.core}: {echoed} of 20 echoed"
                assert ctx.stats().connections_opened == 20
        finally:
            stack.destroy()
