"""epoll_wait releases the GIL while it waits and stays interruptible (Ctrl-C)."""

from __future__ import annotations

import signal
import threading
import time

import pytest

import mtcp
from conftest import ADDR_A, Link, fresh_port, listen


class AlarmError(Exception):
    pass


@pytest.fixture
def idle_epoll() -> tuple[mtcp.Context, int]:
    link = Link("memory")
    ctx = link.context(ADDR_A)
    ep = mtcp.mtcp_epoll_create(ctx, 4)
    fd = listen(ctx, ADDR_A, fresh_port())
    mtcp.mtcp_epoll_ctl(ctx, ep, mtcp.MTCP_EPOLL_CTL_ADD, fd, mtcp.MTCP_EPOLLIN)
    yield ctx, ep
    link.close()


def test_infinite_epoll_wait_is_interruptible(idle_epoll: tuple[mtcp.Context, int]) -> None:
    ctx, ep = idle_epoll

    def on_alarm(signum: int, frame: object) -> None:
        raise AlarmError

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()
        with pytest.raises(AlarmError):
            mtcp.mtcp_epoll_wait(ctx, ep, 4, -1)
        assert time.monotonic() - start < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_epoll_wait_releases_the_gil(idle_epoll: tuple[mtcp.Context, int]) -> None:
    ctx, ep = idle_epoll
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.01)
        before = counter[0]
        assert mtcp.mtcp_epoll_wait(ctx, ep, 4, 300) == []
        # While the main thread waited, the Python thread ran (it could not, holding no GIL).
        assert counter[0] - before > 10_000
    finally:
        stop.set()
        thread.join()


def test_epoll_wait_honours_timeout(idle_epoll: tuple[mtcp.Context, int]) -> None:
    ctx, ep = idle_epoll
    start = time.monotonic()
    assert mtcp.mtcp_epoll_wait(ctx, ep, 4, 120) == []
    elapsed = time.monotonic() - start
    assert 0.1 <= elapsed < 1.0
