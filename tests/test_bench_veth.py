"""``mtcp bench --veth`` pieces that need no lab: the kernel peer server and the bulk client
(on loopback, with Python's socket module), one row run in a child process with 1 and 2 client
threads against the peer on loopback, the plan (1- and 2-context rows), the "not supported",
"skipped" and "failed" rows, the table and ratios, and the refusal without root. The run in
the lab itself is tests/interop/test_bench_veth_lab.py."""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import mtcp
from mtcp.tools import _bench_veth, bench
from mtcp.tools._bench_veth import (
    PEER_SERVER,
    Row,
    _bulk_to_sink,
    add_scaling,
    limit_of,
    plan,
    run_row,
    run_rows,
    veth_table,
)
from mtcp.tools._bench_veth_peer import peer_program, peer_server
from mtcp.tools._bench_workloads import KernelNet, _rpc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["python", "c"])
def program(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Each peer implementation: the Python one, and the C one when ``cc`` builds it."""
    if request.param == "python":
        return [sys.executable, "-c", PEER_SERVER]
    prog, kind = peer_program(tmp_path_factory.mktemp("peer"))
    if not kind.startswith("C"):
        pytest.skip(f"no C peer here: {kind}")
    return prog


@pytest.fixture
def peer(program: list[str]) -> Iterator[tuple[int, int]]:
    """The peer server on 127.0.0.1 (echo port, sink port), one worker, killed afterwards."""
    ports = [_free_port(), _free_port()]
    with peer_server("", "127.0.0.1", ports, program, workers=1):
        yield ports[0], ports[1]


@pytest.fixture
def peer2(program: list[str]) -> Iterator[tuple[list[int], list[int]]]:
    """The peer server with two SO_REUSEPORT workers: ([echo, sink], worker pids)."""
    ports = [_free_port(), _free_port()]
    with peer_server("", "127.0.0.1", ports, program, workers=2) as pids:
        assert len(set(pids)) == 2
        yield ports, pids


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


def _rec(workload: str, stack: str, io_: str, contexts: int, rate: float) -> dict[str, Any]:
    row = Row(workload, stack, io_, contexts)
    return {
        "suite": "veth", "workload": workload, "stack": stack, "mode": io_, "io": io_,
        "contexts": contexts, "conns": row.conns, "status": "ok", "rate": rate,
        "gbps": rate / 1000,
    }  # fmt: skip


def test_veth_ratios_compare_each_backend_with_the_kernel_with_as_many_threads() -> None:
    recs = [
        _rec("rpc", "kernel", "veth", 1, 1000.0),
        _rec("rpc", "kernel", "veth", 2, 1500.0),
        _rec("rpc", "mtcp", "afxdp", 1, 2500.0),
        _rec("rpc", "mtcp", "afxdp", 2, 3000.0),
        {**_rec("rpc", "mtcp", "tap", 2, 0.0), "status": "not supported", "reason": "no"},
    ]
    del recs[-1]["rate"]  # a row without a figure has no rate at all
    bench._add_ratios(recs)
    assert recs[2]["ratio"] == 2.5
    assert recs[2]["ratio_vs"] == "kernel veth"
    assert recs[3]["ratio"] == 2.0  # against the kernel's 2 threads, not its 1
    assert "ratio" not in recs[4]


def test_plan_has_one_and_two_context_rows_for_every_backend() -> None:
    rows = plan()
    for workload in ("short", "rpc"):
        for _, io_ in _bench_veth.VETH_RUNS:
            got = sorted(r.contexts for r in rows if r.workload == workload and r.io == io_)
            assert got == [1, 2], (workload, io_)
    assert {r.contexts for r in rows if r.workload == "bulk"} == {1}
    assert Row("short", "mtcp", "tap", 2).conns == 128  # 64 in flight per thread
    assert {r.io for r in plan(["veth", "afpacket"])} == {"veth", "afpacket"}


def test_scaling_is_the_two_context_rate_over_the_one_context_rate() -> None:
    recs = [
        _rec("short", "mtcp", "afpacket", 1, 1000.0),
        _rec("short", "mtcp", "afpacket", 2, 1800.0),
        _rec("short", "kernel", "veth", 2, 900.0),  # no 1-thread row: no factor
    ]
    add_scaling(recs)
    assert recs[1]["scaling"] == 1.8
    assert "scaling" not in recs[0]
    assert "scaling" not in recs[2]


def _fake_runner(refuse: dict[str, str]) -> Any:
    """A row runner that gives every 1-context row a figure and refuses 2 contexts on the
    backends in ``refuse`` (as a child does: a record with status "not supported")."""
    seen: list[Row] = []

    def runner(row: Row) -> dict[str, Any]:
        seen.append(row)
        if row.io == "afxdp":
            raise OSError("the child crashed")
        rec = _rec(row.workload, row.stack, row.io, row.contexts, 100.0 * row.contexts)
        if row.contexts > 1 and row.io in refuse:
            return {**rec, "status": "not supported", "reason": refuse[row.io]}
        rec.update(p50_us=10.0, p99_us=20.0, limit="client thread CPU")
        if row.stack == "mtcp":  # frames steered between the contexts, retransmissions
            each = {"rx_frames": 100, "rx_steered": 25 * (row.contexts - 1), "retransmits": 1}
            rec["context_stats"] = [each] * row.contexts
        return rec

    runner.seen = seen  # type: ignore[attr-defined]
    return runner


def test_rows_report_not_supported_failed_and_skipped_instead_of_stopping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mtcp, "features", lambda: frozenset({"afpacket", "tap", "afxdp"}))
    runner = _fake_runner({"tap": "tap 'mtcptap0' has one queue"})
    out = io.StringIO()
    recs = run_rows(plan(), runner, out, bench._describe)
    assert len(recs) == len(plan())  # every row has a record, whatever happened to it
    by = {(r["workload"], r["io"], r["contexts"]): r for r in recs}
    tap2 = by[("short", "tap", 2)]
    assert tap2["status"] == "not supported"
    assert tap2["reason"] == "tap 'mtcptap0' has one queue"
    assert by[("rpc", "afxdp", 1)]["status"] == "failed"
    assert by[("rpc", "afxdp", 1)]["reason"] == "the child crashed"
    assert by[("short", "dpdk", 2)]["status"] == "skipped"  # no dpdk feature: never run
    assert all(r.io != "dpdk" for r in runner.seen)
    assert by[("short", "afpacket", 2)]["scaling"] == 2.0
    text = out.getvalue()
    assert "not supported: tap 'mtcptap0' has one queue" in text
    assert "skipped: mtcp built without the dpdk feature" in text
    table = veth_table(recs)
    assert "| short | mtcp | tap | 2 | not supported: tap 'mtcptap0' has one queue |" in table
    assert (
        "| short | mtcp | afpacket | 2 | 200 conn/s | 10.0 | 20.0 |  | 2.00x | 25 % / 2 |" in table
    )
    assert len(table.splitlines()) == len(recs) + 2
    bench._add_ratios(recs)  # rows without a figure are left alone
    assert "ratio" not in tap2
    json.dumps(recs)


def test_a_backend_refusing_two_contexts_is_not_supported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child's own path: mtcp.Stack raising for num_cores = 2 gives a record, no crash;
    with one context the same error is a failure (raised)."""

    def refuse(cfg: mtcp.Config) -> mtcp.Stack:
        raise OSError(f"num_cores = {cfg.num_cores}: the device has 1 receive queue")

    monkeypatch.setattr(mtcp, "Stack", refuse)
    spec = {"workload": "rpc", "stack": "mtcp", "io": "afxdp", "contexts": 2, "secs": 0.1,
            "server": "198.18.10.1", "peer_pids": []}  # fmt: skip
    rec = run_row(spec)
    assert rec["status"] == "not supported"
    assert rec["reason"] == "num_cores = 2: the device has 1 receive queue"
    assert (rec["contexts"], rec["conns"], rec["io"]) == (2, 2, "afxdp")
    with pytest.raises(OSError, match="num_cores = 1"):
        run_row({**spec, "contexts": 1})


@pytest.mark.parametrize("workload", ["short", "rpc"])
def test_child_runs_one_and_two_kernel_client_threads(
    peer2: tuple[list[int], list[int]], workload: str
) -> None:
    """The child process end to end (python -m mtcp.tools._bench_veth --child) on loopback:
    one record per run, with per-thread rates, CPU use of each part and a limit."""
    ports, pids = peer2
    for contexts in (1, 2):
        spec = {"workload": workload, "stack": "kernel", "io": "veth", "contexts": contexts,
                "secs": 0.2, "server": "127.0.0.1", "peer_pids": pids, "ports": ports}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "mtcp.tools._bench_veth", "--child", json.dumps(spec)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        rec = json.loads(done.stdout.strip().splitlines()[-1])
        assert rec["status"] == "ok"
        assert rec["contexts"] == contexts
        assert len(rec["thread_rates"]) == contexts
        assert all(rate > 0 for rate in rec["thread_rates"])
        assert rec["ops"] > 0
        assert rec["errors"] == 0
        cpu = rec["cpu"]
        assert len(cpu["client_threads"]) == contexts
        assert len(cpu["peer_workers"]) == 2
        assert sum(cpu["peer_workers"]) > 0  # the peer did the echoing
        assert 0 < cpu["machine"]["busy"] <= cpu["machine"]["cpus"] + 0.2
        assert rec["limit"] == limit_of(cpu, gil_held=False)  # socket calls release the GIL
        if workload == "rpc":
            assert 0 < rec["p50_us"] <= rec["p99_us"]


def _cpu(threads: list[float], peers: list[float], idle: float) -> dict[str, Any]:
    machine = {"cpus": 2, "busy": 2 - idle, "idle": idle, "softirq": 0.2, "steal": 0.0}
    return {"client_threads": threads, "client_process": sum(threads), "peer_workers": peers,
            "machine": machine}  # fmt: skip


def test_limit_names_what_ran_out() -> None:
    assert limit_of(_cpu([0.9], [0.8], 0.05)).startswith("machine CPU (all 2 busy: client 0.90")
    assert limit_of(_cpu([0.95], [0.3], 0.6)) == "client thread CPU"
    assert limit_of(_cpu([0.5, 0.45], [0.3], 0.6)) == "GIL (the client threads share one CPU)"
    released = limit_of(_cpu([0.5, 0.45], [0.3], 0.6), gil_held=False)
    assert released == "client threads at 1 CPU together (their calls release the GIL)"
    assert limit_of(_cpu([0.3], [0.9, 0.1], 0.6)) == "peer worker CPU"
    assert limit_of(_cpu([0.3], [0.2], 1.2)) == "no CPU saturated (latency-bound)"


def test_veth_io_must_name_known_stacks(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = io.StringIO()
    args = parser.parse_args(["--veth", "--veth-io", "afpacket,nosuch", "--out", str(tmp_path)])
    assert bench.run(args, out) == 2
    assert "choose from veth, afpacket, afxdp, tap, dpdk" in out.getvalue()


def test_veth_needs_root(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    out = io.StringIO()
    assert bench.run(parser.parse_args(["--veth", "--out", str(tmp_path)]), out) == 1
    assert "needs root" in out.getvalue()


def test_a_peer_that_cannot_listen_fails_at_once_with_its_error(program: list[str]) -> None:
    """198.18.99.99 is no address of this machine: the workers die at bind, and the bench is
    told so (not left waiting on their pipe)."""
    t0 = time.monotonic()
    with (
        pytest.raises(OSError, match=r"kernel peer server in this namespace on 198\.18\.99\.99"),
        peer_server("", "198.18.99.99", [_free_port(), _free_port()], program, workers=2),
    ):
        pass
    assert time.monotonic() - t0 < 10


def test_mtcp_config_has_one_queue_per_context_and_the_run_mode() -> None:
    cfg = _bench_veth._mtcp_config("dpdk", "short", 2, "threaded")
    assert (cfg.num_cores, cfg.mode, cfg.port) == (2, "threaded", ("net_af_packet0",))
    assert "qpairs=2" in cfg.dpdk_eal_args
    assert "--vdev=net_af_packet0,iface=mtcpv0" in cfg.dpdk_eal_args
    tap = _bench_veth._mtcp_config("tap", "rpc", 1)
    assert (tap.num_cores, tap.mode, tap.port) == (1, "inline", ("mtcptap0",))
    assert str(tap.addr).startswith("198.18.11.2")
