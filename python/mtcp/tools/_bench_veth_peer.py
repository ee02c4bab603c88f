"""The kernel peer of ``mtcp bench --veth`` (:mod:`mtcp.tools._bench_veth`): an echo service
and a sink, served by the Linux kernel's TCP in a lab namespace.

Protocol: echo on the first port; on the second an 8-byte big-endian length, then that many
bytes, answered by one byte ``k``. Arguments: address, echo port, sink port, workers. Each of
``workers`` processes (forked) binds its own ``SO_REUSEPORT`` listeners (the kernel spreads
connections over them by their 4-tuple hash), runs one epoll loop and prints ``ready <pid>``
in one ``write``.

Two implementations of the same program: :data:`PEER_C`, compiled with ``cc -O2`` when a C
compiler is present (a few system calls per operation and no interpreter: on a 2-vCPU machine
the peer's CPU is CPU the clients do not get), and :data:`PEER_SERVER` (Python's standard
library) otherwise. :func:`peer_program` picks one; :func:`peer_server` runs it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["PEER_C", "PEER_SERVER", "PEER_WORKERS", "peer_program", "peer_server"]

#: How long the peer server may live at most (``timeout`` kills it).
SERVER_LIFETIME_S = 900
#: Worker processes of each peer server.
PEER_WORKERS = 2
#: How long the peer's workers may take to bind and say so.
PEER_START_S = 20.0

#: The peer in Python (standard library only; see the module docs for the protocol).
PEER_SERVER = r"""
import os, select, socket, sys
addr, echo_port, sink_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
for _ in range(workers - 1):
    if os.fork() == 0:
        break
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port)); s.listen(4096); s.setblocking(False)
    return s
ls = {listen(echo_port): "echo", listen(sink_port): "sink"}
byfd = {s.fileno(): (s, kind) for s, kind in ls.items()}
ep = select.epoll()
for s in ls: ep.register(s, select.EPOLLIN)
conns = {}
os.write(1, b"ready %d\n" % os.getpid())  # one write: the workers share the pipe
def drop(fd, c):
    ep.unregister(fd); c.close(); del conns[fd]
while True:
    for fd, ev in ep.poll(1.0):
        if fd in byfd:
            lsock, kind = byfd[fd]
            while True:
                try:
                    c, _ = lsock.accept()
                except BlockingIOError:
                    break
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[c.fileno()] = [c, kind, -1, 0, b""]
                ep.register(c, select.EPOLLIN)
            continue
        st = conns.get(fd)
        if st is None:
            continue
        c = st[0]
        try:
            data = c.recv(262144)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            drop(fd, c)
            continue
        if st[1] == "echo":
            try:
                n = c.send(data)
            except BlockingIOError:
                n = 0
            except OSError:
                drop(fd, c)
                continue
            if n < len(data):  # never for 64 B; a full send buffer waits (bounded)
                try:
                    c.settimeout(5.0); c.sendall(data[n:]); c.setblocking(False)
                except OSError:
                    drop(fd, c)
            continue
        if st[2] < 0:
            st[4] += data
            if len(st[4]) < 8:
                continue
            st[2] = int.from_bytes(st[4][:8], "big"); st[3] = len(st[4]) - 8; st[4] = b""
        else:
            st[3] += len(data)
        if st[3] >= st[2]:
            try:
                c.send(b"k")
            except OSError:
                pass
            st[2] = -1; st[3] = 0
"""


#: The peer in C (see the module docs), for ``cc -O2``.
PEER_C = r"""
/* mtcp bench --veth's kernel peer (see PEER_SERVER): echo and sink, N forked workers
   with SO_REUSEPORT listeners, one epoll loop each.
   argv: address echo-port sink-port [workers]. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAXFD 65536
enum { NONE, ECHO, SINK };
struct conn { int kind, hlen; long long need, got; unsigned char hdr[8]; };
static struct conn st[MAXFD];
static char buf[262144];

static int listen_on(const char *addr, int port) {
    int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (s < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) || listen(s, 4096)) return -1;
    return s;
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    st[fd].kind = NONE;
}

/* The rest of an echo that did not fit the send buffer: blocking, at most 5 s. */
static int send_rest(int fd, const char *p, size_t n) {
    struct timeval tv = {5, 0};
    int flags = 0;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (n > 0) {
        ssize_t w = send(fd, p, n, flags);
        if (w < 0 && errno == EAGAIN) {
            struct timeval t0 = {0, 1000};
            select(0, NULL, NULL, NULL, &t0);
            continue;
        }
        if (w <= 0) return -1;
        p += w; n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int workers = argc > 4 ? atoi(argv[4]) : 1;
    for (int i = 1; i < workers; i++)
        if (fork() == 0) break;
    int ls[2] = {listen_on(argv[1], atoi(argv[2])), listen_on(argv[1], atoi(argv[3]))};
    if (ls[0] < 0 || ls[1] < 0) { perror("listen"); return 1; }
    int ep = epoll_create1(0);
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, ls[i], &ev);
    }
    char line[32];
    int len = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
    if (write(1, line, (size_t)len) != len) return 1; /* one write: the workers share the pipe */
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls[0] || fd == ls[1]) {
                int c, one = 1;
                while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    st[c] = (struct conn){.kind = fd == ls[0] ? ECHO : SINK, .need = -1};
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            struct conn *c = &st[fd];
            if (c->kind == NONE) continue;
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) { drop(ep, fd); continue; }
            if (c->kind == ECHO) {
                ssize_t w = send(fd, buf, (size_t)r, 0);
                if (w < 0 && errno == EAGAIN) w = 0;
                if (w < 0 || (w < r && send_rest(fd, buf + w, (size_t)(r - w)))) drop(ep, fd);
                continue;
            }
            ssize_t off = 0;
            while (c->need < 0 && off < r && c->hlen < 8)
                c->hdr[c->hlen++] = (unsigned char)buf[off++];
            if (c->need < 0) {
                if (c->hlen < 8) continue;
                c->need = 0;
                for (int k = 0; k < 8; k++) c->need = (c->need << 8) | c->hdr[k];
                c->got = 0;
            }
            c->got += r - off;
            if (c->got >= c->need) {
                if (send(fd, "k", 1, 0) < 0) { drop(ep, fd); continue; }
                c->need = -1; c->hlen = 0; c->got = 0;
            }
        }
    }
}
"""


def peer_program(workdir: Path) -> tuple[list[str], str]:
    """The peer's command (before its arguments) and a description: the C peer built in
    ``workdir`` when ``cc`` is present and compiles it (bounded, 60 s), else the Python one."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is not None:
        source, binary = workdir / "mtcp-bench-peer.c", workdir / "mtcp-bench-peer"
        source.write_text(PEER_C)
        try:
            done = subprocess.run(
                [cc, "-O2", "-o", str(binary), str(source)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc)
        else:
            if done.returncode == 0:
                return [str(binary)], "C (cc -O2)"
            why = done.stderr.strip()[-200:]
        return [sys.executable, "-c", PEER_SERVER], f"Python (the C peer did not build: {why})"
    return [sys.executable, "-c", PEER_SERVER], "Python (no C compiler)"


@contextlib.contextmanager
def peer_server(
    ns: str,
    addr: str,
    ports: Sequence[int],
    program: Sequence[str] | None = None,
    workers: int = PEER_WORKERS,
) -> Iterator[list[int]]:
    """``program`` (default: the Python peer) in namespace ``ns`` (``""``: this one) on
    ``addr`` with ``ports`` (echo, sink); yields its workers' pids; stopped (killed, whole
    process group) on exit. Raises OSError when it does not come up."""
    argv = [*(program or [sys.executable, "-c", PEER_SERVER]), addr, *map(str, ports)]
    argv += [str(workers)]
    prefix = ["ip", "netns", "exec", ns] if ns else []
    proc = subprocess.Popen(
        [*prefix, "timeout", str(SERVER_LIFETIME_S), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: `timeout` and the workers die together
    )
    try:
        assert proc.stdout is not None
        try:
            pids = _ready_pids(proc.stdout.fileno(), workers, PEER_START_S)
        except OSError as exc:
            _stop(proc)
            _, err = proc.communicate(timeout=10)
            tail = err.decode(errors="replace")[-500:]
            raise OSError(
                f"kernel peer server in {ns or 'this namespace'} on {addr}: {exc}: {tail}"
            ) from None
        yield pids
    finally:
        _stop(proc)
        proc.communicate(timeout=10)  # reaps it and closes both pipes


def _ready_pids(fd: int, workers: int, timeout: float) -> list[int]:
    """Reads ``workers`` lines ``ready <pid>`` from ``fd``, for at most ``timeout`` seconds
    (a worker that died before printing must not leave us waiting on its siblings' pipe)."""
    deadline = time.monotonic() + timeout
    text = b""
    while (ready := text.count(b"\n")) < workers:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise OSError(f"{ready} of {workers} workers ready after {timeout:.0f} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise OSError(f"exited with {ready} of {workers} workers ready")
        text += chunk
    pids = []
    for line in text.decode().splitlines()[:workers]:
        word, _, pid = line.partition(" ")
        if word != "ready" or not pid.strip().isdigit():
            raise OSError(f"unexpected line {line!r}")
        pids.append(int(pid))
    return pids


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Killing only `timeout` left the server holding the pipes, and communicate() timed out.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
