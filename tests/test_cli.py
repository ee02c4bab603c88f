"""The ``mtcp`` command: demo, epserver + epwget together, --help, usage and config errors.

The demo runs in a subprocess exactly as a user runs it. epserver and epwget share an
in-memory hub, which joins stacks of one process only, so epserver runs in a thread here.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

import pytest

from mtcp import cli
from mtcp.tools import _http, epserver

pytestmark = pytest.mark.timeout(60)


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mtcp.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def figure(output: str, name: str) -> int:
    """The integer in the figures table row ``name`` (``"  errors      0   ..."``)."""
    m = re.search(rf"^\s+{re.escape(name)}\s+([\d,]+)", output, re.MULTILINE)
    assert m is not None, f"no {name!r} row in:\n{output}"
    return int(m.group(1).replace(",", ""))


# -- demo ------------------------------------------------------------------------------------------


def test_demo_runs_clean_and_prints_figures() -> None:
    t0 = time.monotonic()
    proc = run_cli("demo", "--duration", "2")
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    completed = figure(out, "connections completed")
    assert completed > 0
    assert figure(out, "errors") == 0
    assert figure(out, "server accepted") >= completed
    assert figure(out, "bytes transferred") > 0
    for row in ("connections/s", "requests/s", "throughput", "latency avg", "latency p99"):
        assert re.search(rf"^\s+{row}\s", out, re.MULTILINE), row
    assert re.search(r"^verdict: ok\b", out, re.MULTILINE)
    # One progress line a second, and bounded: 2 s of load plus start-up and drain.
    assert len(re.findall(r"^\[\s*\d+s\] connections", out, re.MULTILINE)) >= 1
    assert elapsed < 25


def test_demo_verdict_fails_on_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verification can fail: a server body that differs from the expected pattern by
    one byte must give a non-zero status and 'FAILED'."""
    from mtcp.tools import demo
    from mtcp.tools.epserver import build_resources as real_build

    def corrupt(files: dict[str, bytes]) -> dict[str, _http.Resource]:
        body = bytearray(files[demo.SHORT_PATH])
        body[len(body) // 2] ^= 0x01
        return real_build({**files, demo.SHORT_PATH: bytes(body)})

    monkeypatch.setattr(demo, "build_resources", corrupt)
    out = io.StringIO()
    args = cli.build_parser().parse_args(
        ["demo", "--duration", "1", "--size", "300", "--bulk-connections", "0", "-c", "4"]
    )
    status = demo.run(args, out=out)
    text = out.getvalue()
    assert status == 1, text
    assert re.search(r"^verdict: FAILED", text, re.MULTILINE), text
    assert "body mismatch" in text
    assert figure(text, "errors") > 0


# -- epserver + epwget -----------------------------------------------------------------------------


class ServerThread:
    """``mtcp epserver`` (parsed by the real CLI parser) in a thread of this process."""

    def __init__(self, *argv: str) -> None:
        self.out = io.StringIO()
        self.args = cli.build_parser().parse_args(["epserver", *argv])
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.status = epserver.run(self.args, out=self.out)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while "serving" not in self.out.getvalue():
            assert self.thread.is_alive(), self.out.getvalue()
            assert time.monotonic() < deadline, "epserver did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(30)
        assert not self.thread.is_alive(), "epserver did not stop at --duration"


def test_epserver_and_epwget_on_one_hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = f"cli-{uuid.uuid4().hex[:10]}"
    outfile = tmp_path / "body.html"
    with ServerThread("--hub", hub, "--size", "700", "--duration", "6") as server:
        status = cli.main(
            [
                "epwget",
                "http://198.18.0.1/index.html",
                "200",
                "-c",
                "20",
                "--hub",
                hub,
                "--timeout",
                "20",
                "-o",
                str(outfile),
            ]
        )
        out = capsys.readouterr().out
        assert status == 0, out
        assert figure(out, "completed") == 200
        assert figure(out, "errors") == 0
        assert figure(out, "connections") == 200  # one connection per request
    assert server.status == 0, server.out.getvalue()
    served = server.out.getvalue()
    m = re.search(r"accepted (\d+), requests (\d+)", served)
    assert m is not None, served
    assert int(m.group(1)) == 200
    assert int(m.group(2)) == 200
    # -o saved a body, byte-identical to the generated /index.html.
    body = outfile.read_bytes()
    assert len(body) == 700
    assert zlib.crc32(body) == zlib.crc32(_http.generate_body("/index.html", 700))


def test_two_cores_each_side_with_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """epwget -f mtcp.conf (io=memory on the server's hub), -N 2 on both sides: RSS must put
    every connection on the right core, or requests would stall and fail."""
    hub = f"cli-{uuid.uuid4().hex[:10]}"
    conf = tmp_path / "epwget.conf"
    conf.write_text(f"io = memory\nport = {hub}\naddr = 198.18.0.2/24\nnum_cores = 2\n")
    with ServerThread("--hub", hub, "-N", "2", "--size", "64", "--duration", "6") as server:
        status = cli.main(
            ["epwget", "http://198.18.0.1:80/64B", "300", "-c", "20", "-f", str(conf), "-q"]
        )
        out = capsys.readouterr().out
    assert status == 0, out
    assert "2 core(s)" in out
    assert figure(out, "completed") == 300
    assert figure(out, "errors") == 0
    assert re.search(r"accepted 300, requests 300", server.out.getvalue())


def test_epserver_serves_a_directory_with_keep_alive(tmp_path: Path) -> None:
    """Files from -p; keep-alive requests on one connection; 404 for an unknown path."""
    import mtcp
    from mtcp.tools._stats import ClientStats
    from mtcp.tools.epwget import ClientWorker, Job

    (tmp_path / "a.txt").write_bytes(b"hello from a file\n" * 20)
    hub = f"cli-{uuid.uuid4().hex[:10]}"
    # --duration leaves room for a loaded machine: the 20 requests take milliseconds when idle.
    with ServerThread("--hub", hub, "-p", str(tmp_path), "--duration", "7", "--trigger", "edge"):
        cfg = mtcp.Config(io="memory", port=hub, addr="198.18.0.2/24")
        with mtcp.Stack(cfg) as stack, stack.create_context(0) as ctx:
            body = (tmp_path / "a.txt").read_bytes()
            stats, missing = ClientStats(), ClientStats()
            url = _http.Url("198.18.0.1", 80, "/a.txt")
            worker = ClientWorker(
                ctx,
                short=Job(_http.Url("198.18.0.1", 80, "/nope"), missing),
                requests=1,
                concurrency=1,
                persistent=[Job(url, stats, _http.Expect.of(body), keep_alive=True)],
            )
            stop = threading.Event()
            t = threading.Thread(target=worker, args=(stop,))
            t.start()
            deadline = time.monotonic() + 10
            while stats.completed < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            stop.set()
            t.join(10)
    assert stats.completed >= 20
    assert stats.errors == 0
    assert stats.connects == 1  # all those requests on one persistent connection
    assert missing.error_lines() == ["HTTP status 404"]


# -- command line ----------------------------------------------------------------------------------


def test_help_lists_the_subcommands() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in ("demo", "epserver", "epwget", "version"):
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.MULTILINE), proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-command"],
        ["epwget"],
        ["epwget", "http://198.18.0.1/", "0"],
        ["demo", "--duration", "-1"],
        ["epserver", "--port", "70000"],
        ["epwget", "http://example.com/", "10"],
    ],
)
def test_bad_arguments_exit_2_without_traceback(argv: list[str]) -> None:
    proc = run_cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip()


def test_bad_config_file_is_a_clean_error(tmp_path: Path) -> None:
    conf = tmp_path / "mtcp.conf"
    conf.write_text("io = memory\nnum_cores = lots\n")
    proc = run_cli("epserver", "-f", str(conf), "--duration", "1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(conf) in proc.stderr
    assert "num_cores" in proc.stderr


def test_missing_www_dir_is_an_os_error(tmp_path: Path) -> None:
    proc = run_cli("epserver", "-p", str(tmp_path / "absent"), "--duration", "1")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "No such file or directory" in proc.stderr


def test_version() -> None:
    import mtcp

    proc = run_cli("version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == mtcp.__version__
