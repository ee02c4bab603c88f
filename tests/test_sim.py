"""The simulated network (API.md §4): determinism, impairments, capture, virtual time."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest

import mtcp
from conftest import ADDR_A, ADDR_B, Link, established, transfer


def _run_transfer(seed: int, pcap: Path | None, size: int = 100_000, **imp: object):  # type: ignore[no-untyped-def]
    link = Link("sim", seed=seed, **imp)
    assert link.net is not None
    if pcap is not None:
        link.net.capture(pcap)
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb, port=5001)
    data = bytes(range(256)) * (size // 256)
    got = transfer(link, ca, cfd, cb, sfd, data, chunks=[1000, 3000, 777])
    result = (got == data, link.net.now_us, ca.stats().to_dict(), cb.stats().to_dict())
    link.close()
    return result


def test_same_seed_same_run_same_pcap(tmp_path: Path) -> None:
    a = _run_transfer(11, tmp_path / "a.pcap", loss=0.02, reorder=0.02)
    b = _run_transfer(11, tmp_path / "b.pcap", loss=0.02, reorder=0.02)
    assert a[0]
    assert a == b
    pa, pb = (tmp_path / "a.pcap").read_bytes(), (tmp_path / "b.pcap").read_bytes()
    assert len(pa) > 24
    assert hashlib.sha256(pa).digest() == hashlib.sha256(pb).digest()


def test_different_seed_differs_under_loss(tmp_path: Path) -> None:
    a = _run_transfer(1, tmp_path / "a.pcap", loss=0.05)
    b = _run_transfer(2, tmp_path / "b.pcap", loss=0.05)
    assert a[0]
    assert b[0]
    assert (tmp_path / "a.pcap").read_bytes() != (tmp_path / "b.pcap").read_bytes()


def test_capture_is_a_pcap(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    _run_transfer(3, path, size=10_000)
    raw = path.read_bytes()
    magic, major, minor = struct.unpack("<IHH", raw[:8])
    assert magic in (0xA1B2C3D4, 0xA1B23C4D)
    assert (major, minor) == (2, 4)
    linktype = struct.unpack("<I", raw[20:24])[0]
    assert linktype == 1  # Ethernet
    # Walk the records: each is a header plus the frame, and frames are Ethernet.
    off, frames = 24, 0
    while off < len(raw):
        _ts, _us, incl, orig = struct.unpack("<IIII", raw[off : off + 16])
        assert incl <= orig
        off += 16 + incl
        frames += 1
    assert off == len(raw)
    assert frames > 10


@pytest.mark.parametrize("direction", ["up", "down"])
def test_one_mib_under_loss_and_reordering(direction: str) -> None:
    link = Link("sim", seed=5, loss=0.05, reorder=0.05)
    ca = link.context(ADDR_A, rcvbuf=65536, sndbuf=65536)
    cb = link.context(ADDR_B, rcvbuf=65536, sndbuf=65536)
    cfd, sfd, _ = established(link, ca, cb)
    data = os.urandom(1 << 20)
    if direction == "up":
        got = transfer(link, ca, cfd, cb, sfd, data, timeout_ms=600_000)
        stats = ca.stats()
    else:
        got = transfer(link, cb, sfd, ca, cfd, data, timeout_ms=600_000)
        stats = cb.stats()
    assert len(got) == len(data)
    assert got == data
    assert stats.retransmits > 0  # the loss was real
    link.close()


def test_virtual_time_and_step() -> None:
    net = mtcp.sim.Network(seed=1, delay_us=1000)
    assert net.now_us == 0
    assert net.run(max_ms=5) is False
    assert net.now_us == 5000
    a = net.add_host(ADDR_A).create_context(0)
    b = net.add_host(ADDR_B).create_context(0)
    server = b.socket()
    server.bind((ADDR_B, 80))
    server.listen()
    client = a.socket()
    client.connect_ex((ADDR_B, 80))
    start = net.now_us
    steps = 0
    while net.step() and steps < 10_000:
        steps += 1
        try:
            server.accept()
            break
        except BlockingIOError:
            pass
    # SYN out and SYN-ACK back is one round trip of 2 x 1 ms at least (plus ARP).
    assert net.now_us - start >= 2000
    assert steps > 0


def test_nothing_moves_outside_run() -> None:
    net = mtcp.sim.Network(seed=1)
    a = net.add_host(ADDR_A).create_context(0)
    b = net.add_host(ADDR_B).create_context(0)
    server = b.socket()
    server.bind((ADDR_B, 81))
    server.listen()
    a.socket().connect_ex((ADDR_B, 81))
    for _ in range(3):
        with pytest.raises(BlockingIOError):
            server.accept()
    assert net.run(until=lambda: _accepts(server), max_ms=100)


def _accepts(server: mtcp.Socket) -> bool:
    try:
        server.accept()
    except BlockingIOError:
        return False
    return True


def test_cut_cable_then_repair() -> None:
    link = Link("sim", seed=9)
    assert link.net is not None
    ca, cb = link.context(ADDR_A), link.context(ADDR_B)
    cfd, sfd, _ = established(link, ca, cb)
    link.net.configure(loss=1.0)
    assert link.net.impairments["loss"] == 1.0
    mtcp.mtcp_write(ca, cfd, b"hello")
    link.net.run(max_ms=500)
    with pytest.raises(BlockingIOError):
        mtcp.mtcp_read(cb, sfd, 10)
    link.net.configure(loss=0.0)
    assert link.wait(lambda: mtcp.mtcp_socket_ioctl(cb, sfd, mtcp.FIONREAD) == 5, 120_000)
    assert ca.stats().retransmits > 0


def test_until_exception_propagates() -> None:
    net = mtcp.sim.Network()

    def boom() -> bool:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        net.run(until=boom, max_ms=10)


@pytest.mark.parametrize(
    "kwargs",
    [{"loss": -0.1}, {"loss": 1.5}, {"reorder": float("nan")}, {"mtu": 10}, {"rate_bps": 0}],
)
def test_bad_impairments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        mtcp.sim.Network(**kwargs)  # type: ignore[arg-type]


def test_bad_run_arguments() -> None:
    net = mtcp.sim.Network()
    with pytest.raises(ValueError):
        net.run(max_ms=-1)
    with pytest.raises(TypeError):
        net.run(until=5, max_ms=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        net.configure(bogus=1)


def test_add_host_with_prefix_and_overrides() -> None:
    net = mtcp.sim.Network()
    stack = net.add_host("198.18.0.9/24", max_concurrency=8)
    assert stack.config().max_concurrency == 8
    ctx = stack.create_context(0)
    fds = [ctx.socket() for _ in range(8)]
    with pytest.raises(mtcp.MtcpError):
        ctx.socket()
    assert len(fds) == 8
    assert stack in net.hosts
