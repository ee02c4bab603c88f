"""mtcp against the Linux kernel's TCP over real interfaces: a TAP device and a veth pair
(AF_PACKET and AF_XDP), in the namespaces of ``mtcp netlab`` (python/mtcp/tools/netlab.py).

Most tests run on all three backends. Our stack runs in this process (its interface opened from
inside the lab's namespace with setns), or as the ``mtcp epserver``/``mtcp epwget`` command in
that namespace. DPDK (``io = dpdk``, a ``net_af_packet`` vdev on the lab's veth, ``--no-pci
--no-huge``) runs only in subprocesses, since its EAL initialises once per process: the CLI
tests run on it too, and its own section runs a small echo server script. DPDK cases skip when
the extension was built without the ``dpdk`` feature, unless DPDK is installed (``pkg-config
--exists libdpdk``), where they fail: CI must run them. The kernel's programs (curl, wget, nc,
a Python ``socket`` client, ``python3 -m http.server``, ping) run in the kernel's namespace
through ``ip netns exec``, each bounded by ``timeout``. Addresses: 198.18.10.0/24 (veth) and
198.18.11.0/24 (TAP), only inside the lab's namespaces. The loss test drops 1 % of the frames
each way with the lab's nftables rule on the kernel's bridge (``netlab.loss``), removed after
the test.

Skipped when not root or without ``ip``; as root a lab that fails to come up is an error, not
a skip. The lab is torn down at the end of the session whatever happens. When ``tcpdump`` is
installed, each test records the kernel side's traffic and keeps the capture only on failure
(under ``$MTCP_INTEROP_ARTIFACTS``, default ``/tmp/mtcp-interop``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mtcp
from mtcp.tools import netlab

HTTP_PORT = 8080
ECHO_PORT = 7007
BODY = b"hello from mtcp over a real interface\n" * 100
ARTIFACTS = Path(os.environ.get("MTCP_INTEROP_ARTIFACTS", "/tmp/mtcp-interop"))


@dataclass(frozen=True)
class Site:
    """One backend in the lab: where our stack opens its port, where the kernel peer runs."""

    io: str
    port: str
    stack_ns: str
    kernel_ns: str
    kernel_dev: str
    stack_addr: str
    kernel_addr: str


LAB = netlab.LAB
SITES = {
    "tap": Site(
        "tap",
        LAB.tap,
        netlab.TAP_NS,
        netlab.TAP_NS,
        LAB.tap,
        LAB.tap_stack_addr,
        LAB.tap_kernel_addr,
    ),
    "afpacket": Site(
        "afpacket",
        LAB.veth_stack,
        netlab.STACK_NS,
        netlab.PEER_NS,
        LAB.veth_peer,
        LAB.veth_stack_addr,
        LAB.veth_peer_addr,
    ),
    # The same veth end as afpacket: an AF_XDP socket on its only receive queue, fed by our
    # own XDP redirect program (copy mode: veth has no zero-copy).
    "afxdp": Site(
        "afxdp",
        LAB.veth_stack,
        netlab.STACK_NS,
        netlab.PEER_NS,
        LAB.veth_peer,
        LAB.veth_stack_addr,
        LAB.veth_peer_addr,
    ),
}


#: DPDK: the EAL's af_packet vdev on the stack's veth end (same addresses as afpacket).
DPDK_PORT = "net_af_packet0"
DPDK_SITE = Site(
    "dpdk",
    DPDK_PORT,
    netlab.STACK_NS,
    netlab.PEER_NS,
    LAB.veth_peer,
    LAB.veth_stack_addr,
    LAB.veth_peer_addr,
)
#: DPDK's ``net_tap`` vdev: it creates TAP ``mtcpdt0`` in ``mtcp-tap``, which gets the kernel's
#: address once the stack runs. Unlike ``net_af_packet`` it has TCP checksum offload (done in
#: the PMD), so our segments leave with pseudo-header sums for the device to finish.
DPDK_TAP_PORT = "net_tap0"
DPDK_TAP_DEV = "mtcpdt0"
DPDK_TAP_SITE = Site(
    "dpdk", DPDK_TAP_PORT, netlab.TAP_NS, netlab.TAP_NS, DPDK_TAP_DEV, "198.18.13.2", "198.18.13.1"
)
#: Each DPDK port's ``--vdev`` arguments.
DPDK_VDEVS = {
    DPDK_PORT: f"{DPDK_PORT},iface={LAB.veth_stack}",
    DPDK_TAP_PORT: f"{DPDK_TAP_PORT},iface={DPDK_TAP_DEV}",
}
#: Backends the CLI tests run on (as subprocesses): every site, and DPDK.
CLI_SITES = {**SITES, "dpdk": DPDK_SITE}


def dpdk_eal_args(vdev: str = DPDK_VDEVS[DPDK_PORT]) -> str:
    """EAL arguments for a DPDK stack on ``vdev``: no PCI scan, no hugepages, one lcore."""
    return f"--no-pci --no-huge -m 256 --no-telemetry -l 0 --file-prefix=mtcp-interop --vdev={vdev}"


def require_dpdk() -> None:
    """Skips unless this extension has the DPDK backend; fails instead when DPDK is installed
    (then the extension should have been built with it, as scripts/test.sh does)."""
    if "dpdk" in mtcp.features():
        return
    installed = shutil.which("pkg-config") is not None and (
        subprocess.run(["pkg-config", "--exists", "libdpdk"], check=False).returncode == 0
    )
    if installed:
        pytest.fail(
            "DPDK is installed (pkg-config libdpdk) but mtcp was built without the `dpdk` "
            "feature: MATURIN_PEP517_ARGS='--features dpdk' pip install -e . "
            "(scripts/test.sh does this)",
            pytrace=False,
        )
    pytest.skip("mtcp was built without the dpdk feature (DPDK is not installed)")


def kernel(site: Site, *cmd: str, timeout: float = 30, check: bool = True) -> str:
    """Runs ``cmd`` in the kernel peer's namespace, bounded; returns stdout."""
    proc = subprocess.run(
        ["timeout", "-k", "2", str(timeout), "ip", "netns", "exec", site.kernel_ns, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}"
            f"\nstderr: {proc.stderr[-2000:]}"
        )
    return proc.stdout


class _Conn:
    __slots__ = ("inbuf", "kind", "outbuf", "responded", "sock")

    def __init__(self, sock: mtcp.Socket, kind: str) -> None:
        self.sock = sock
        self.kind = kind
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.responded = False


class StackServer:
    """Our stack as a server on one context: HTTP on :8080 (fixed body, ``Connection:
    close``) and an echo service on :7007, driven by mtcp epoll in a thread."""

    def __init__(self, ctx: mtcp.Context, addr: str) -> None:
        self.ctx = ctx
        self.ep = ctx.epoll()
        self.http = self._listen(addr, HTTP_PORT)
        self.echo = self._listen(addr, ECHO_PORT)
        self.conns: dict[int, _Conn] = {}
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="mtcp-server", daemon=True)
        self.thread.start()

    def _listen(self, addr: str, port: int) -> mtcp.Socket:
        sock = self.ctx.socket()
        sock.bind((addr, port))
        sock.listen(1024)
        self.ep.register(sock, mtcp.EPOLLIN)
        return sock

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                for fd, _events in self.ep.poll(0.05):
                    if fd == self.http.fileno():
                        self._accept(self.http, "http")
                    elif fd == self.echo.fileno():
                        self._accept(self.echo, "echo")
                    elif fd in self.conns:
                        self._serve(self.conns[fd])
        except BaseException as exc:  # reported by close()
            self.errors.append(exc)

    def _accept(self, listener: mtcp.Socket, kind: str) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            self.conns[sock.fileno()] = _Conn(sock, kind)
            self.ep.register(sock, mtcp.EPOLLIN | mtcp.EPOLLOUT)

    def _drop(self, conn: _Conn) -> None:
        self.conns.pop(conn.sock.fileno(), None)
        with contextlib.suppress(OSError):
            self.ep.unregister(conn.sock)
        conn.sock.close()

    def _serve(self, conn: _Conn) -> None:
        eof = False
        try:
            while True:
                try:
                    data = conn.sock.recv(65536)
                except BlockingIOError:
                    break
                if not data:
                    eof = True
                    break
                (conn.outbuf if conn.kind == "echo" else conn.inbuf).extend(data)
            if conn.kind == "http" and not conn.responded and b"\r\n\r\n" in conn.inbuf:
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\n"
                    "Content-Type: text/plain\r\nConnection: close\r\n\r\n"
                ).encode()
                conn.outbuf += head + BODY
                conn.responded = True
            while conn.outbuf:
                try:
                    sent = conn.sock.send(bytes(conn.outbuf[:65536]))
                except BlockingIOError:
                    break
                del conn.outbuf[:sent]
        except OSError:
            self._drop(conn)
            return
        if not conn.outbuf and (eof or conn.responded):
            self._drop(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "server thread did not stop"
        assert not self.errors, f"server thread failed: {self.errors!r}"


@contextlib.contextmanager
def serving(site: Site, **config: Any) -> Iterator[mtcp.Context]:
    """Our stack on ``site``'s port (extra ``mtcp.Config`` keywords in ``config``) with a
    :class:`StackServer` on context 0, for the block; yields that context."""
    cfg = mtcp.Config(io=site.io, port=site.port, addr=f"{site.stack_addr}/24", **config)
    with netlab.in_netns(site.stack_ns):
        stack = mtcp.Stack(cfg)
    try:
        ctx = stack.create_context(0)
        server = StackServer(ctx, site.stack_addr)
        try:
            yield ctx
        finally:
            server.close()
    finally:
        stack.destroy()


@dataclass
class Running:
    site: Site
    stack: mtcp.Stack
    ctx: mtcp.Context


@pytest.fixture(params=sorted(SITES))
def site(request: pytest.FixtureRequest, lab: None) -> Iterator[Site]:
    yield from _captured(request, SITES[request.param])


@pytest.fixture(params=sorted(CLI_SITES))
def cli_site(request: pytest.FixtureRequest, lab: None) -> Iterator[Site]:
    """A site for the CLI tests, whose stack runs in a subprocess: every site and DPDK."""
    s = CLI_SITES[request.param]
    if s.io == "dpdk":
        require_dpdk()
    yield from _captured(request, s)


def _captured(request: pytest.FixtureRequest, s: Site) -> Iterator[Site]:
    """Yields ``s`` with the kernel side's traffic recorded, kept if the test failed."""
    capture = _start_capture(s)
    yield s
    failed = getattr(request.node, "rep_call", None)
    _stop_capture(capture, keep=bool(failed and failed.failed), name=request.node.name)


def _start_capture(s: Site) -> tuple[subprocess.Popen[bytes], Path] | None:
    if shutil.which("tcpdump") is None:
        return None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"current-{s.io}.pcap"
    proc = subprocess.Popen(
        ["timeout", "120", "ip", "netns", "exec", s.kernel_ns, "tcpdump", "-i", s.kernel_dev,
         "-U", "-s", "200", "-w", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.3)
    return proc, path


def _stop_capture(
    capture: tuple[subprocess.Popen[bytes], Path] | None, *, keep: bool, name: str
) -> None:
    if capture is None:
        return
    proc, path = capture
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if keep and path.exists():
        kept = path.with_name(re.sub(r"[^\w.-]", "_", name) + ".pcap")
        path.rename(kept)
        print(f"kept capture {kept}", file=sys.stderr)
    else:
        path.unlink(missing_ok=True)


@pytest.fixture
def running(site: Site) -> Iterator[Running]:
    config = mtcp.Config(
        io=site.io,
        port=site.port,
        addr=f"{site.stack_addr}/24",
        max_concurrency=2048,
        max_num_buffers=2048,
        rcvbuf=65536,
        sndbuf=65536,
    )
    with netlab.in_netns(site.stack_ns):
        stack = mtcp.Stack(config)
    try:
        ctx = stack.create_context(0)
        yield Running(site, stack, ctx)
    finally:
        stack.destroy()


@pytest.fixture
def server(running: Running) -> Iterator[StackServer]:
    srv = StackServer(running.ctx, running.site.stack_addr)
    try:
        yield srv
    finally:
        srv.close()


# ---------------------------------------------------------------- our stack as the server


def test_kernel_curl_gets_our_http_response(running: Running, server: StackServer) -> None:
    s = running.site
    out = kernel(s, "curl", "-sS", "--max-time", "10", f"http://{s.stack_addr}:{HTTP_PORT}/")
    assert out.encode() == BODY


ECHO_CLIENT = textwrap.dedent(
    """
    import hashlib, json, os, socket, sys, threading
    host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = os.urandom(size)
    s = socket.create_connection((host, port), timeout=20)
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send); t.start()
    got = hashlib.sha256(); n = 0
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got.update(chunk); n += len(chunk)
    t.join()
    print(json.dumps({"sent": hashlib.sha256(data).hexdigest(), "got": got.hexdigest(), "n": n}))
    """
)


def kernel_echo(site: Site, size: int, timeout: float = 60) -> float:
    """A kernel client sends ``size`` random bytes to our echo service and reads them back
    (``ECHO_CLIENT``); asserts every byte came back intact (SHA-256). Returns the seconds."""
    start = time.monotonic()
    out = kernel(site, sys.executable, "-c", ECHO_CLIENT, site.stack_addr, str(ECHO_PORT),
                 str(size), timeout=timeout)  # fmt: skip
    elapsed = time.monotonic() - start
    result = json.loads(out)
    assert result["n"] == size
    assert result["got"] == result["sent"], "echo intact (SHA-256)"
    return elapsed


def test_kernel_socket_echo_5mb_sha256(running: Running, server: StackServer) -> None:
    s = running.site
    size = 5 * 1024 * 1024
    elapsed = kernel_echo(s, size)
    print(f"{s.io}: 5 MiB echoed in {elapsed:.2f} s ({2 * size * 8 / elapsed / 1e6:.0f} Mbit/s)")


SHORT_CLIENT = textwrap.dedent(
    """
    import socket, sys, time
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ok = 0; start = time.monotonic()
    for i in range(count):
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            buf = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            if buf.startswith(b"HTTP/1.1 200 OK") and buf.endswith(b"interface\\n"):
                ok += 1
    print(ok, time.monotonic() - start)
    """
)


def test_1000_short_connections_from_the_kernel(running: Running, server: StackServer) -> None:
    s = running.site
    out = kernel(s, sys.executable, "-c", SHORT_CLIENT, s.stack_addr, str(HTTP_PORT), "1000",
                 timeout=60)  # fmt: skip
    ok, seconds = out.split()
    assert int(ok) == 1000
    print(f"{s.io}: 1000 connections in {float(seconds):.2f} s")


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed")
def test_kernel_pings_our_address(running: Running) -> None:
    s = running.site
    out = kernel(s, "ping", "-c", "20", "-i", "0.05", "-W", "1", s.stack_addr)
    assert re.search(r"20 packets transmitted, 20 received", out), out
    rtt = re.search(r"= [\d.]+/([\d.]+)/([\d.]+)/", out)
    assert rtt is not None, out
    print(f"{s.io}: ping rtt avg {rtt.group(1)} ms, max {rtt.group(2)} ms")


# ---------------------------------------------------------------- our stack as the client


def _wait(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.001)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _connect(ctx: mtcp.Context, addr: str, port: int) -> mtcp.Socket:
    sock = ctx.socket()
    rc = sock.connect_ex((addr, port))
    assert rc in (0, errno.EINPROGRESS), rc
    return sock


def _connected_or_error(sock: mtcp.Socket) -> int:
    """SO_ERROR once the connection is decided: 0 connected, an errno otherwise; -1 pending."""
    err = sock.getsockopt(mtcp.SOL_SOCKET, mtcp.SO_ERROR)
    if err:
        return err
    try:
        sock.getpeername()
    except OSError:
        return -1
    return 0


@pytest.fixture
def http_server(running: Running, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """``python3 -m http.server`` in the kernel's namespace, serving a 2 MiB random file."""
    with kernel_http_server(running.site, tmp_path) as served:
        yield served


@contextlib.contextmanager
def kernel_http_server(s: Site, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """``python3 -m http.server`` on port 8000 of the kernel's address, serving ``blob.bin``
    (2 MiB of random bytes) from ``tmp_path``; yields its URL and contents."""
    payload = os.urandom(2 * 1024 * 1024)
    (tmp_path / "blob.bin").write_bytes(payload)
    proc = subprocess.Popen(
        ["timeout", "60", "ip", "netns", "exec", s.kernel_ns, sys.executable, "-m", "http.server",
         "8000", "--bind", s.kernel_addr, "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(
            lambda: re.search(
                rf"{re.escape(s.kernel_addr)}:8000\b",
                kernel(s, "ss", "-ltn", check=False),
            ),
            10,
            "http.server to listen",
        )
        yield f"http://{s.kernel_addr}:8000/blob.bin", payload
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_we_fetch_from_a_kernel_http_server(
    running: Running, http_server: tuple[str, bytes]
) -> None:
    s = running.site
    _, payload = http_server
    sock = _connect(running.ctx, s.kernel_addr, 8000)
    outcome: list[int] = []
    _wait(lambda: outcome.append(_connected_or_error(sock)) or outcome[-1] != -1, 10, "connect")
    assert outcome[-1] == 0
    request = f"GET /blob.bin HTTP/1.0\r\nHost: {s.kernel_addr}\r\n\r\n".encode()
    sent = 0
    deadline = time.monotonic() + 30
    got = bytearray()
    eof = False
    while not eof and time.monotonic() < deadline:
        if sent < len(request):
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(request[sent:])
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            time.sleep(0.0005)
            continue
        if not chunk:
            eof = True
        got += chunk
    sock.close()
    assert eof, f"no end of response after 30 s ({len(got)} bytes)"
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head[:200]
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_connect_to_a_closed_kernel_port_is_refused(running: Running) -> None:
    s = running.site
    sock = _connect(running.ctx, s.kernel_addr, 9)  # discard: nothing listens there
    outcome: list[int] = []
    _wait(lambda: outcome.append(_connected_or_error(sock)) or outcome[-1] != -1, 10, "a RST")
    assert outcome[-1] == errno.ECONNREFUSED
    sock.close()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("io", ["afpacket", "afxdp"])
def test_missing_interface_is_a_clear_error(lab: None, io: str) -> None:
    with pytest.raises(OSError, match="mtcp-nosuch0") as info:
        mtcp.Stack(mtcp.Config(io=io, port="mtcp-nosuch0", addr="198.18.10.9/24"))
    assert isinstance(info.value, FileNotFoundError) or info.value.errno == errno.ENODEV


def _afxdp_config(**extra: object) -> mtcp.Config:
    return mtcp.Config(io="afxdp", port=LAB.veth_stack, addr=f"{LAB.veth_stack_addr}/24", **extra)


def test_afxdp_busy_queue_is_a_clear_error(lab: None) -> None:
    """A second AF_XDP stack on the queue the first one holds: EBUSY after the retries, with a
    message that says the queue is busy (not a crash, not a hang)."""
    with netlab.in_netns(netlab.STACK_NS):
        first = mtcp.Stack(_afxdp_config())
        try:
            start = time.monotonic()
            with pytest.raises(OSError, match=r"queue 0 of 'mtcpv0' is busy") as info:
                mtcp.Stack(_afxdp_config())
            assert info.value.errno == errno.EBUSY
            assert time.monotonic() - start < 10
        finally:
            first.destroy()


# An XDP program that passes every frame, as LLVM IR: ``llc`` (LLVM, on new machines of this
# project's kind) makes a BPF object of it that ``ip link`` can attach — no clang needed.
XDP_PASS_IR = textwrap.dedent(
    """
    @_license = global [4 x i8] c"GPL\\00", section "license"
    define i32 @xdp_pass(i8* %ctx) section "xdp" {
      ret i32 2
    }
    """
)


@pytest.mark.skipif(shutil.which("llc") is None, reason="llc (LLVM) is not installed")
def test_afxdp_foreign_xdp_program_is_a_clear_error(lab: None, tmp_path: Path) -> None:
    """Someone else's XDP program on the interface is neither replaced nor detached: the open
    fails with EBUSY and a message that says what to do."""
    (tmp_path / "pass.ll").write_text(XDP_PASS_IR)
    obj = tmp_path / "pass.o"
    subprocess.run(
        ["llc", "-march=bpf", "-filetype=obj", "-o", str(obj), str(tmp_path / "pass.ll")],
        check=True,
        timeout=30,
    )
    dev = ["ip", "-n", netlab.STACK_NS, "link", "set", "dev", LAB.veth_stack]
    subprocess.run([*dev, "xdpgeneric", "obj", str(obj), "sec", "xdp"], check=True, timeout=10)
    try:
        busy = pytest.raises(OSError, match="already attached")
        with netlab.in_netns(netlab.STACK_NS), busy as info:
            mtcp.Stack(_afxdp_config())
        assert info.value.errno == errno.EBUSY
        assert "xdpgeneric off" in str(info.value)
        shown = subprocess.run(
            ["ip", "-n", netlab.STACK_NS, "link", "show", LAB.veth_stack],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        assert "xdp_pass" in shown, "the other program must stay attached"
    finally:
        subprocess.run([*dev, "xdpgeneric", "off"], check=False, timeout=10)


def _stack_link() -> str:
    return subprocess.run(
        ["ip", "-n", netlab.STACK_NS, "link", "show", LAB.veth_stack],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed")
@pytest.mark.parametrize("via", ["config", "env"])
@pytest.mark.parametrize(("mode", "shown"), [("skb", "xdpgeneric"), ("drv", "xdp ")])
def test_afxdp_attaches_in_the_mode_asked_and_detaches_on_destroy(
    lab: None, monkeypatch: pytest.MonkeyPatch, mode: str, shown: str, via: str
) -> None:
    """``xdp_mode`` in the configuration, or ``MTCP_XDP_MODE`` overriding the opposite one."""
    if via == "env":
        monkeypatch.setenv("MTCP_XDP_MODE", mode)
        config = _afxdp_config(xdp_mode="drv" if mode == "skb" else "skb")
    else:
        monkeypatch.delenv("MTCP_XDP_MODE", raising=False)
        config = _afxdp_config(xdp_mode=mode)
    with netlab.in_netns(netlab.STACK_NS):
        stack = mtcp.Stack(config)
    try:
        stack.create_context(0)
        assert shown in _stack_link()
        site = SITES["afxdp"]
        out = kernel(site, "ping", "-c", "3", "-i", "0.05", "-W", "1", site.stack_addr)
        assert "3 received" in out, out
    finally:
        stack.destroy()
    assert "xdp" not in _stack_link(), "the XDP program must be detached by destroy()"


def test_afxdp_more_contexts_than_queues_is_a_clear_error(lab: None) -> None:
    # The lab's veth has netlab.VETH_QUEUES (2) receive queues.
    too_many = netlab.VETH_QUEUES + 1
    with netlab.in_netns(netlab.STACK_NS), pytest.raises(OSError, match="receive queue") as info:
        mtcp.Stack(_afxdp_config(num_cores=too_many))
    assert info.value.errno == errno.EINVAL


def test_addr_is_required_on_a_kernel_interface(lab: None) -> None:
    with netlab.in_netns(netlab.STACK_NS), pytest.raises((ValueError, OSError), match="addr"):
        mtcp.Stack(mtcp.Config(io="afpacket", port=LAB.veth_stack))


# ---------------------------------------------------------------- 1 % loss each way

#: Bytes each way in the loss test (``MTCP_INTEROP_LOSS_MB`` overrides; docs/backends.md has
#: the 100 MB figures).
LOSS_BYTES = int(float(os.environ.get("MTCP_INTEROP_LOSS_MB", "100")) * 1_000_000)
LOSS_PERCENT = 1.0


@pytest.fixture
def lossy(site: Site) -> Iterator[str]:
    """1 % of the IPv4 frames dropped each way on the kernel's bridge for this test; yields the
    namespace holding the rules (their counters show that frames really were dropped)."""
    ns = site.kernel_ns
    assert ns in netlab.LOSS_NAMESPACES
    netlab.loss(LOSS_PERCENT)
    try:
        yield ns
    finally:
        netlab.loss(0)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (nftables) is not installed")
def test_transfer_each_way_under_1pct_loss_is_intact(
    running: Running, server: StackServer, lossy: str
) -> None:
    """LOSS_BYTES from a kernel socket to our stack and the same back at once (our echo),
    through 1 % random loss each way: every byte arrives, in order (SHA-256), and the rule
    dropped frames in both directions."""
    s = running.site
    elapsed = kernel_echo(s, LOSS_BYTES, timeout=240)
    state = netlab.loss_state(lossy)
    assert state.percent == LOSS_PERCENT
    assert state.dropped_to_kernel > 0, state
    assert state.dropped_from_kernel > 0, state
    rate = LOSS_BYTES * 8 / elapsed / 1e6
    print(
        f"{s.io}: {LOSS_BYTES / 1e6:.0f} MB each way under {LOSS_PERCENT:g} % loss in "
        f"{elapsed:.1f} s ({rate:.0f} Mbit/s each way; dropped {state.dropped_to_kernel} "
        f"frames to the kernel, {state.dropped_from_kernel} from it)"
    )


# ---------------------------------------------------------------- peer with offloads on


@contextlib.contextmanager
def peer_checksum_offload_on() -> Iterator[None]:
    """The kernel peer's veth with transmit checksum offload on (the lab turns it off): its
    frames reach our port with only the pseudo-header sum in the TCP checksum."""
    dev = ["ip", "netns", "exec", netlab.PEER_NS, "ethtool", "-K", LAB.veth_peer]
    subprocess.run([*dev, "tx", "on"], check=True, timeout=10, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([*dev, "tx", "off"], check=True, timeout=10, capture_output=True)


@pytest.mark.parametrize("site", ["afpacket"], indirect=True)
def test_peer_with_tx_checksum_offload_on(running: Running, server: StackServer) -> None:
    """AF_PACKET completes the checksums the kernel leaves unfinished
    (TP_STATUS_CSUMNOTREADY): curl and a 5 MiB echo work with the peer's offload on."""
    s = running.site
    with peer_checksum_offload_on():
        out = kernel(s, "curl", "-sS", "--max-time", "10", f"http://{s.stack_addr}:{HTTP_PORT}/")
        assert out.encode() == BODY
        kernel_echo(s, 5 * 1024 * 1024)


# ---------------------------------------------------------------- the mtcp CLI and kernel tools


def _conf(site: Site, tmp_path: Path) -> Path:
    """An mtcp.conf for our stack on ``site`` (what a user writes for ``mtcp -f``)."""
    path = tmp_path / f"{site.io}.conf"
    text = f"io = {site.io}\nport = {site.port}\naddr = {site.stack_addr}/24\nnum_cores = 1\n"
    if site.io == "dpdk":
        text += f"dpdk_eal_args = {dpdk_eal_args(DPDK_VDEVS[site.port])}\n"
    path.write_text(text)
    return path


def _mtcp_cli(site: Site, *args: str, timeout: float) -> list[str]:
    """``python -m mtcp ARGS`` in our stack's namespace, bounded by ``timeout``."""
    return ["timeout", "-k", "5", str(timeout), "ip", "netns", "exec", site.stack_ns,
            sys.executable, "-m", "mtcp", *args]  # fmt: skip


CLI_PORT = 8081


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_mtcp_epserver_serves_kernel_curl_and_wget(cli_site: Site, tmp_path: Path) -> None:
    """The ``mtcp epserver`` command on a config file, serving a directory: the kernel's
    ``curl`` and ``wget`` fetch a 1 MiB file intact; Ctrl-C stops the server with exit 0."""
    site = cli_site
    www = tmp_path / "www"
    www.mkdir()
    payload = os.urandom(1024 * 1024)
    (www / "blob.bin").write_bytes(payload)
    want = hashlib.sha256(payload).hexdigest()
    cmd = _mtcp_cli(site, "epserver", "-f", str(_conf(site, tmp_path)), "--port", str(CLI_PORT),
                    "--dir", str(www), "--duration", "60", "-q", timeout=90)  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # printed once the listener is open
        assert banner.startswith("epserver: serving"), (banner, proc.poll())
        url = f"http://{site.stack_addr}:{CLI_PORT}/blob.bin"
        got_curl, got_wget = tmp_path / "curl.out", tmp_path / "wget.out"
        kernel(site, "curl", "-sS", "--max-time", "20", "-o", str(got_curl), url)
        kernel(site, "wget", "-q", "-T", "20", "-t", "1", "-O", str(got_wget), url)
        assert hashlib.sha256(got_curl.read_bytes()).hexdigest() == want
        assert hashlib.sha256(got_wget.read_bytes()).hexdigest() == want
    finally:
        proc.send_signal(signal.SIGINT)  # timeout(1) relays it to the server
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]


def nc_echo_sha256(s: Site, tmp_path: Path) -> None:
    """The kernel's ``nc`` in `s`'s peer namespace pipes 2 MiB of random bytes into the echo
    service at `s`, writing what comes back to a file: it must be the same bytes (SHA-256)."""
    sent, got = tmp_path / "nc.in", tmp_path / "nc.out"
    sent.write_bytes(os.urandom(2 * 1024 * 1024))
    # -N: shut the socket down for writing at the end of the input, then read to the end.
    kernel(s, "sh", "-c", f"nc -N -w 20 {s.stack_addr} {ECHO_PORT} < {sent} > {got}",
           timeout=40)  # fmt: skip
    assert got.stat().st_size == sent.stat().st_size
    assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(sent.read_bytes()).digest()


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat-openbsd) is not installed")
def test_kernel_nc_echo_sha256(running: Running, server: StackServer, tmp_path: Path) -> None:
    """The kernel's ``nc`` pipes 2 MiB of random bytes into our echo service and writes what
    comes back to a file: the same bytes (SHA-256)."""
    nc_echo_sha256(running.site, tmp_path)


def test_mtcp_epwget_fetches_from_a_kernel_http_server(cli_site: Site, tmp_path: Path) -> None:
    """The ``mtcp epwget`` command fetching 20 times (4 at a time, a new connection each)
    from ``python3 -m http.server`` in the kernel's namespace: exit 0, 20 completed, the
    saved body intact."""
    site = cli_site
    requests = 20
    saved = tmp_path / "saved.bin"
    with kernel_http_server(site, tmp_path) as (url, payload):
        cmd = _mtcp_cli(site, "epwget", url, str(requests), "-c", "4", "-f",
                        str(_conf(site, tmp_path)), "-o", str(saved), "--timeout", "30", "-q",
                        timeout=60)  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=70, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert re.search(rf"^\s*completed\s+{requests}$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\s*errors\s+0$", proc.stdout, re.M), proc.stdout
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(payload).digest()
    summary = [line.strip() for line in proc.stdout.splitlines() if "requests to" in line]
    print(f"{site.io}: {summary[-1]}")


# ---------------------------------------------------------------- routing through a gateway

#: An address the kernel peer owns on its loopback: off-link for our stack, so it is reached
#: only through the gateway that route.conf names (Linux accepts it on any interface).
OFF_LINK_ADDR = "198.18.12.1"


@pytest.fixture
def off_link_echo(site: Site) -> Iterator[int]:
    """A kernel echo server on OFF_LINK_ADDR:7100 in the peer's namespace; yields its port."""
    kernel(site, "ip", "addr", "add", f"{OFF_LINK_ADDR}/32", "dev", "lo")
    server = textwrap.dedent(f"""
        import socket
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("{OFF_LINK_ADDR}", 7100))
        s.listen(1)
        c, _ = s.accept()
        while data := c.recv(65536):
            c.sendall(data)
        c.close()
    """)
    proc = subprocess.Popen(
        ["timeout", "30", "ip", "netns", "exec", site.kernel_ns, sys.executable, "-c", server],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(
            lambda: f"{OFF_LINK_ADDR}:7100" in kernel(site, "ss", "-ltn", check=False),
            10,
            "the off-link echo server to listen",
        )
        yield 7100
    finally:
        proc.kill()
        proc.wait()
        kernel(site, "ip", "addr", "del", f"{OFF_LINK_ADDR}/32", "dev", "lo", check=False)


@pytest.mark.parametrize("site", ["afpacket", "tap"], indirect=True)
def test_route_conf_gateway_reaches_an_off_link_host(
    site: Site, off_link_echo: int, tmp_path: Path
) -> None:
    """mtcp.conf names a route.conf whose /0 entry makes the kernel peer our default gateway:
    frames for 198.18.12.1 go to the gateway's MAC and the echo comes back intact. Without the
    route the same connect is ENETUNREACH."""
    (tmp_path / "route.conf").write_text(f"ROUTES 1\n{site.kernel_addr}/0 {site.port}\n")
    (tmp_path / "mtcp.conf").write_text(
        f"io = {site.io}\nport = {site.port}\naddr = {site.stack_addr}/24\n"
        "route_conf = route.conf\nrcvbuf = 65536\nsndbuf = 65536\n"
    )
    with netlab.in_netns(site.stack_ns):
        stack = mtcp.Stack(mtcp.Config.load(tmp_path / "mtcp.conf"))
    try:
        ctx = stack.create_context(0)
        sock = _connect(ctx, OFF_LINK_ADDR, off_link_echo)
        outcome: list[int] = []
        _wait(lambda: outcome.append(_connected_or_error(sock)) or outcome[-1] != -1, 10, "connect")
        assert outcome[-1] == 0
        payload = os.urandom(512 * 1024)
        sent, got = 0, bytearray()
        deadline = time.monotonic() + 20
        while len(got) < len(payload) and time.monotonic() < deadline:
            if sent < len(payload):
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(payload[sent : sent + 65536])
            try:
                got += sock.recv(65536)
            except BlockingIOError:
                time.sleep(0.0005)
        sock.close()
        assert hashlib.sha256(bytes(got)).digest() == hashlib.sha256(payload).digest()
    finally:
        stack.destroy()

    # The same host without the route: unreachable at once.
    with netlab.in_netns(site.stack_ns):
        plain = mtcp.Stack(mtcp.Config(io=site.io, port=site.port, addr=f"{site.stack_addr}/24"))
    try:
        ctx = plain.create_context(0)
        s = ctx.socket()
        assert s.connect_ex((OFF_LINK_ADDR, off_link_echo)) == errno.ENETUNREACH
        s.close()
    finally:
        plain.destroy()


# ---------------------------------------------------------------- DPDK in a subprocess

#: Our stack over DPDK as an echo server on one context, in its own process (the EAL
#: initialises once per process): prints ``ready`` once listening, serves until SIGINT or
#: SIGTERM, then destroys the stack (closing the port) and prints ``done``.
DPDK_ECHO_SERVER = textwrap.dedent(
    """
    import signal, sys
    import mtcp
    conf, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    stack = mtcp.Stack(mtcp.Config.load(conf))
    try:
        ctx = stack.create_context(0)
        ep = ctx.epoll()
        listener = ctx.socket()
        listener.bind((addr, port))
        listener.listen(64)
        ep.register(listener, mtcp.EPOLLIN)
        conns = {}
        print("ready", flush=True)
        while not stop:
            for fd, _ in ep.poll(0.05):
                if fd == listener.fileno():
                    while True:
                        try:
                            sock, _ = listener.accept()
                        except BlockingIOError:
                            break
                        conns[sock.fileno()] = [sock, bytearray(), False]
                        ep.register(sock, mtcp.EPOLLIN | mtcp.EPOLLOUT)
                    continue
                if fd not in conns:
                    continue
                sock, out, eof = conns[fd]
                try:
                    while not eof:
                        try:
                            data = sock.recv(65536)
                        except BlockingIOError:
                            break
                        eof = not data
                        out += data
                    while out:
                        try:
                            del out[: sock.send(bytes(out[:65536]))]
                        except BlockingIOError:
                            break
                except OSError:
                    out.clear()
                    eof = True
                conns[fd][2] = eof
                if eof and not out:
                    ep.unregister(sock)
                    sock.close()
                    del conns[fd]
    finally:
        stack.destroy()
    print("done", flush=True)
    """
)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT (``timeout`` relays it), then the process's remaining output."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


@pytest.fixture(params=[DPDK_PORT, DPDK_TAP_PORT])
def dpdk_echo(lab: None, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """DPDK_ECHO_SERVER on ECHO_PORT in the stack's namespace, on the ``net_af_packet`` vdev
    (software checksums) and on ``net_tap`` (checksum offload); yields the site. The server must
    stop cleanly (exit 0, ``done``) when the test ends."""
    require_dpdk()
    site = DPDK_SITE if request.param == DPDK_PORT else DPDK_TAP_SITE
    conf = _conf(site, tmp_path)
    # The buffers of the in-process echo fixture (mTCP's 8 KiB default would bound the
    # window, and so the rate, to 8 KiB per round trip).
    conf.write_text(conf.read_text() + "rcvbuf = 65536\nsndbuf = 65536\n")
    cmd = ["timeout", "-k", "5", "120", "ip", "netns", "exec", site.stack_ns, sys.executable,
           "-c", DPDK_ECHO_SERVER, str(conf), site.stack_addr, str(ECHO_PORT)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    capture = None
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        if ready.strip() != "ready":
            _, err = _stop(proc)
            pytest.fail(f"the DPDK echo server did not start: {ready!r}\n{err[-3000:]}")
        if site.port == DPDK_TAP_PORT:
            # The PMD made the TAP (and set it up); the kernel's end of it gets its address.
            addr = f"{site.kernel_addr}/{LAB.prefix_len}"
            cmd = ["ip", "-n", site.kernel_ns, "addr", "add", addr, "dev", site.kernel_dev]
            subprocess.run(cmd, check=True, timeout=10, capture_output=True)
        capture = _start_capture(site)
        yield site
    finally:
        failed = getattr(request.node, "rep_call", None)
        _stop_capture(capture, keep=bool(failed and failed.failed), name=request.node.name)
        out, err = _stop(proc)
    assert proc.returncode == 0, err[-3000:]
    assert out.strip().endswith("done"), out + err[-3000:]


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (netcat-openbsd) is not installed")
def test_dpdk_kernel_nc_echo_sha256(dpdk_echo: Site, tmp_path: Path) -> None:
    """The kernel's ``nc`` pipes 2 MiB of random bytes through our echo over DPDK: the same
    bytes come back (SHA-256)."""
    nc_echo_sha256(dpdk_echo, tmp_path)


def test_dpdk_kernel_socket_echo_5mb_sha256(dpdk_echo: Site) -> None:
    """5 MiB each way at once between a kernel socket and our echo over DPDK, intact."""
    s = dpdk_echo
    size = 5 * 1024 * 1024
    elapsed = kernel_echo(s, size)
    print(f"dpdk: 5 MiB echoed in {elapsed:.2f} s ({2 * size * 8 / elapsed / 1e6:.0f} Mbit/s)")


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed")
def test_dpdk_kernel_pings_our_address(dpdk_echo: Site) -> None:
    s = dpdk_echo
    out = kernel(s, "ping", "-c", "20", "-i", "0.05", "-W", "1", s.stack_addr)
    assert re.search(r"20 packets transmitted, 20 received", out), out
    rtt = re.search(r"= [\d.]+/([\d.]+)/([\d.]+)/", out)
    assert rtt is not None, out
    print(f"dpdk: ping rtt avg {rtt.group(1)} ms, max {rtt.group(2)} ms")


#: Opens a DPDK stack from the mtcp.conf in argv[1] in its own process; prints the error.
DPDK_OPEN = textwrap.dedent(
    """
    import sys
    import mtcp
    try:
        mtcp.Stack(mtcp.Config.load(sys.argv[1])).destroy()
    except OSError as exc:
        print(f"{type(exc).__name__} errno={exc.errno} {exc}")
        sys.exit(3)
    print("opened")
    """
)


@pytest.mark.parametrize(
    ("eal_args", "port", "message"),
    [
        # The vdev's interface does not exist in this namespace: the port is not created.
        (dpdk_eal_args("mtcp-nosuch0"), DPDK_PORT, "mtcp-nosuch0"),
        # The EAL rejects an argument it does not know.
        ("--no-pci --no-huge -m 256 --file-prefix=mtcp-interop --bogus-eal-flag", DPDK_PORT,
         "EAL initialisation"),
        # A port the EAL did not create.
        (dpdk_eal_args(), "net_af_packet7", "net_af_packet7"),
    ],
    ids=["missing-interface", "bad-eal-args", "unknown-port"],
)  # fmt: skip
def test_dpdk_open_errors_are_clear(
    lab: None, tmp_path: Path, eal_args: str, port: str, message: str
) -> None:
    """A DPDK stack that cannot open fails with an OSError whose message says why (not a
    crash, not a hang)."""
    require_dpdk()
    conf = tmp_path / "bad.conf"
    conf.write_text(
        f"io = dpdk\nport = {port}\naddr = {LAB.veth_stack_addr}/24\ndpdk_eal_args = {eal_args}\n"
    )
    proc = subprocess.run(
        ["timeout", "-k", "5", "60", "ip", "netns", "exec", netlab.STACK_NS, sys.executable,
         "-c", DPDK_OPEN, str(conf)],
        capture_output=True, text=True, timeout=70, check=False,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr[-3000:]
    assert message in proc.stdout, proc.stdout


#: In one process: a DPDK stack, destroyed, then a second one on the same port with the same
#: EAL arguments (the EAL is reused and the vdev created again), which answers a ping from
#: the kernel; then a third stack with other EAL arguments, which must fail with a message.
DPDK_TWICE = textwrap.dedent(
    """
    import subprocess, sys
    import mtcp
    conf, ping = mtcp.Config.load(sys.argv[1]), sys.argv[2:]
    first = mtcp.Stack(conf)
    first.create_context(0)
    first.destroy()
    second = mtcp.Stack(conf)
    try:
        second.create_context(0)
        print("ping", subprocess.run(ping, capture_output=True, timeout=30).returncode, flush=True)
        other = conf.replace(dpdk_eal_args=conf.dpdk_eal_args + " --log-level=8")
        try:
            mtcp.Stack(other)
        except OSError as exc:
            print("other args:", exc, flush=True)
    finally:
        second.destroy()
    """
)


@pytest.mark.skipif(shutil.which("ping") is None, reason="ping (iputils-ping) is not installed")
def test_dpdk_second_stack_in_a_process_reuses_the_eal(lab: None, tmp_path: Path) -> None:
    require_dpdk()
    site = DPDK_SITE
    ping = ["ip", "netns", "exec", site.kernel_ns, "ping", "-c", "3", "-i", "0.1", "-W", "2",
            site.stack_addr]  # fmt: skip
    proc = subprocess.run(
        ["timeout", "-k", "5", "90", "ip", "netns", "exec", site.stack_ns, sys.executable, "-c",
         DPDK_TWICE, str(_conf(site, tmp_path)), *ping],
        capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "ping 0" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert re.search(r"other args: .*initialised with", proc.stdout), proc.stdout
