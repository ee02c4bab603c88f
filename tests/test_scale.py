"""10,000 sequential connections through one context: no descriptor leak, no slowdown (the
socket pool, flow table and timers are O(1) per connection). Runs in a few seconds over the
simulated network, so it is not marked slow."""

from __future__ import annotations

import time

import mtcp
from conftest import ADDR_A, ADDR_B, Link, fresh_port

N = 10_000
WINDOW = 1_000


def test_ten_thousand_sequential_connections() -> None:
    link = Link("sim", seed=1)
    ca = link.context(ADDR_A, max_concurrency=64)
    cb = link.context(ADDR_B, max_concurrency=64)
    port = fresh_port()
    lfd = mtcp.mtcp_socket(cb, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
    mtcp.mtcp_bind(cb, lfd, (ADDR_B, port))
    mtcp.mtcp_listen(cb, lfd, 64)
    base_a = ca.stats().sockets_in_use
    base_b = cb.stats().sockets_in_use
    seen_fds: set[int] = set()
    times: list[float] = []
    for i in range(N):
        t0 = time.perf_counter()
        cfd = mtcp.mtcp_socket(ca, mtcp.AF_INET, mtcp.SOCK_STREAM, 0)
        seen_fds.add(cfd)
        try:
            mtcp.mtcp_connect(ca, cfd, (ADDR_B, port))
        except BlockingIOError:
            pass
        got: list[int] = []

        def accepted() -> bool:
            try:
                got.append(mtcp.mtcp_accept(cb, lfd)[0])  # noqa: B023
            except BlockingIOError:
                return False
            return True

        assert link.wait(accepted, 10_000), f"connection {i} was not accepted"
        sfd = got[0]
        mtcp.mtcp_write(ca, cfd, b"x")
        assert link.wait(lambda: _readable(cb, sfd), 10_000)  # noqa: B023
        assert mtcp.mtcp_read(cb, sfd, 1) == b"x"
        mtcp.mtcp_close(ca, cfd)
        mtcp.mtcp_close(cb, sfd)
        times.append(time.perf_counter() - t0)
    assert link.net is not None
    link.net.run(max_ms=1_000)  # let FIN/ACK and TIME-WAIT finish
    assert ca.stats().sockets_in_use == base_a
    assert cb.stats().sockets_in_use == base_b
    assert ca.stats().flows == 0
    assert len(seen_fds) <= 4, "descriptors are reused, not leaked"
    first, last = sum(times[:WINDOW]), sum(times[-WINDOW:])
    assert last < 3 * first + 0.5, (first, last)
    link.close()


def _readable(ctx: mtcp.Context, fd: int) -> bool:
    return mtcp.mtcp_socket_ioctl(ctx, fd, mtcp.FIONREAD) > 0
