"""TCP options negotiated with the Linux kernel, as the kernel itself reports them.

A kernel socket at the other end reads ``TCP_INFO`` (tcp(7)): which of timestamps (RFC 7323
§3), SACK (RFC 2018) and window scaling (RFC 7323 §2) the handshake agreed on, the window scale
our side announced, and the MSS it sends with. Both ways: the kernel connecting to our
listener (our SYN-ACK answers its options) and our stack connecting to a kernel listener (our
SYN offers them). With ``tcp_timestamps = 0``, ``tcp_sack = 0`` and ``tcp_window_scaling = 0``
the kernel must see none of them. Root only; lab addresses only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

import mtcp
from mtcp.tools import netlab

from .test_kernel_interop import (
    ECHO_PORT,
    SITES,
    _connect,
    _connected_or_error,
    _wait,
    kernel,
    serving,
)

#: Decodes the head of struct tcp_info: tcpi_options (byte 5), tcpi_snd_wscale and
#: tcpi_rcv_wscale (the nibbles of byte 6), tcpi_snd_mss (u32 at byte 16).
TCP_INFO = textwrap.dedent(
    """
    import json, socket, struct
    def info(s):
        raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return {
            "ts": bool(raw[5] & 1), "sack": bool(raw[5] & 2), "wscale": bool(raw[5] & 4),
            "snd_wscale": raw[6] & 15, "rcv_wscale": raw[6] >> 4,
            "snd_mss": struct.unpack_from("I", raw, 16)[0],
        }
    """
)

#: The kernel connects to our echo service, exchanges a little, reports.
KERNEL_CLIENT = TCP_INFO + textwrap.dedent(
    """
    import sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.sendall(b"ping")
    assert s.recv(4) == b"ping"
    print(json.dumps(info(s)))
    """
)

#: A kernel listener: accepts one connection, reports, echoes a line, exits.
KERNEL_SERVER = TCP_INFO + textwrap.dedent(
    """
    import sys
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((sys.argv[1], int(sys.argv[2])))
    l.listen()
    l.settimeout(15)
    print("ready", flush=True)
    c, _ = l.accept()
    c.settimeout(10)
    data = c.recv(4)
    print(json.dumps(info(c)), flush=True)
    c.sendall(data)
    c.close()
    """
)

KERNEL_PORT = 9100
RCVBUF = 1 << 20  # needs a window scale of at least 5 (RFC 7323 §2.3)


def expected(on: bool) -> dict[str, bool]:
    return {"ts": on, "sack": on, "wscale": on}


def options(on: bool) -> dict[str, int]:
    """The stack's configuration keywords: the three options on or off, a 1 MiB rcvbuf."""
    flag = 1 if on else 0
    return {
        "rcvbuf": RCVBUF,
        "tcp_timestamps": flag,
        "tcp_sack": flag,
        "tcp_window_scaling": flag,
    }


def check(report: dict[str, int], on: bool) -> None:
    assert {k: report[k] for k in ("ts", "sack", "wscale")} == expected(on), report
    if on:
        # Our announced scale is what the kernel shifts our windows by (its snd_wscale).
        assert report["snd_wscale"] >= 5, report
        assert report["snd_mss"] == 1460 - 12, report  # 12 bytes of timestamp option
    else:
        assert report["snd_wscale"] == 0, report
        assert report["snd_mss"] == 1460, report


@pytest.mark.parametrize("on", [True, False], ids=["options", "none"])
def test_kernel_connecting_to_us_negotiates_our_options(lab: None, on: bool) -> None:
    site = SITES["afpacket"]
    with serving(site, **options(on)):
        out = kernel(site, sys.executable, "-c", KERNEL_CLIENT, site.stack_addr, str(ECHO_PORT))
    check(json.loads(out), on)


@pytest.mark.parametrize("on", [True, False], ids=["options", "none"])
def test_our_connect_to_the_kernel_offers_our_options(lab: None, on: bool) -> None:
    site = SITES["afpacket"]
    listener = subprocess.Popen(
        ["timeout", "30", "ip", "netns", "exec", site.kernel_ns, sys.executable, "-c",
         KERNEL_SERVER, site.kernel_addr, str(KERNEL_PORT)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        with netlab.in_netns(site.stack_ns):
            stack = mtcp.Stack(
                mtcp.Config(io=site.io, port=site.port, addr=f"{site.stack_addr}/24", **options(on))
            )
        try:
            ctx = stack.create_context(0)
            sock = _connect(ctx, site.kernel_addr, KERNEL_PORT)
            outcome: list[int] = []
            _wait(lambda: outcome.append(_connected_or_error(sock)) or outcome[-1] != -1, 10,
                  "connect")  # fmt: skip
            assert outcome[-1] == 0
            assert sock.send(b"pong") == 4
            report = json.loads(listener.stdout.readline())
            got = b""
            deadline = time.monotonic() + 10
            while got != b"pong" and time.monotonic() < deadline:
                try:
                    got += sock.recv(16)
                except BlockingIOError:
                    time.sleep(0.001)
            assert got == b"pong"
            sock.close()
        finally:
            stack.destroy()
    finally:
        listener.kill()
        listener.communicate(timeout=5)  # reaps it and closes the pipe
    check(report, on)
