"""``mtcp bench --veth`` pieces that need no lab: the kernel peer server and the bulk client
(on loopback, with Python's socket module), the ratios, and the refusal without root."""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mtcp.tools import bench
from mtcp.tools._bench_veth import PEER_SERVER, _bulk_to_sink
from mtcp.tools._bench_workloads import KernelNet, _rpc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def peer() -> Iterator[tuple[int, int]]:
    """The peer server on 127.0.0.1 (echo port, sink port), killed afterwards."""
    echo, sink = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER_SERVER, "127.0.0.1", str(echo), str(sink)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield echo, sink
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]


def test_bulk_client_waits_for_the_sink_to_count_every_byte(peer: tuple[int, int]) -> None:
    net = KernelNet()
    total = 3 * 65536 + 17  # not a multiple of the chunk
    r = _bulk_to_sink(net, ("127.0.0.1", peer[1]), total)
    assert r.bytes == total
    assert r.secs > 0
    # The sink is ready for the next transfer on a new connection: it survived the close.
    r2 = _bulk_to_sink(net, ("127.0.0.1", peer[1]), 1000)
    assert r2.ops == 1


def test_peer_echoes_rpc_and_survives_an_abrupt_client(peer: tuple[int, int]) -> None:
    net = KernelNet()
    r = _rpc(lambda: None, 1, net, ("127.0.0.1", peer[0]), 1, 0.2)
    assert r.ops > 10
    assert r.errors == 0
    # A client that resets its connection mid-exchange must not kill the server.
    s = socket.create_connection(("127.0.0.1", peer[0]), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(b"x" * 64)
    s.close()
    r = _rpc(lambda: None, 1, net, ("127.0.0.1", peer[0]), 1, 0.1)
    assert r.ops > 0


def test_veth_ratios_compare_each_backend_with_the_kernel_on_the_same_veth() -> None:
    recs: list[dict[str, object]] = [
        {"suite": "veth", "workload": "rpc", "conns": 1, "stack": "kernel", "mode": "veth",
         "rate": 1000.0},
        {"suite": "veth", "workload": "rpc", "conns": 1, "stack": "mtcp", "mode": "afxdp",
         "rate": 2500.0},
    ]  # fmt: skip
    bench._add_ratios(recs)
    assert recs[1]["ratio"] == 2.5
    assert recs[1]["ratio_vs"] == "kernel veth"


def test_veth_needs_root(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = io.StringIO()
    assert bench.run(parser.parse_args(["--veth", "--out", str(tmp_path)]), out) == 1
    assert "needs root" in out.getvalue()
