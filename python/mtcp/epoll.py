"""``mtcp.Epoll``: an mTCP epoll instance with the interface of :class:`select.epoll`."""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING

from ._mtcp import (
    MTCP_EPOLL_CTL_ADD,
    MTCP_EPOLL_CTL_DEL,
    MTCP_EPOLL_CTL_MOD,
    MTCP_EPOLLIN,
    MTCP_EPOLLOUT,
)
from ._types import SupportsFileno

if TYPE_CHECKING:
    from .context import Context

__all__ = ["Epoll"]

_MAX_TIMEOUT_MS = 2**31 - 1


def _fd(fd: int | SupportsFileno) -> int:
    if isinstance(fd, int):
        return fd
    fileno = getattr(fd, "fileno", None)
    if fileno is None:
        raise TypeError(f"argument must be an int or have a fileno() method, not {fd!r}")
    value = fileno()
    if not isinstance(value, int):
        raise TypeError("fileno() returned a non-integer")
    return value


class Epoll:
    """Readiness notification for the descriptors of one context. Create with
    :meth:`mtcp.Context.epoll`. Event masks use ``mtcp.EPOLLIN`` etc. (Linux values)."""

    __slots__ = ("_ctx", "_epid", "_maxevents", "_raw")

    def __init__(self, ctx: Context, sizehint: int = -1) -> None:
        """Prefer :meth:`mtcp.Context.epoll`."""
        self._ctx = ctx
        # The native context, held directly: ``ctx.raw`` is a property (a Python call).
        self._raw = ctx.raw
        self._maxevents = ctx.max_concurrency
        self._epid = self._raw.epoll_create(sizehint if sizehint > 0 else ctx.max_concurrency)

    @classmethod
    def _adopt(cls, ctx: Context, epid: int) -> Epoll:
        self = cls.__new__(cls)
        self._ctx = ctx
        self._raw = ctx.raw
        self._maxevents = ctx.max_concurrency
        self._epid = epid
        return self

    @property
    def closed(self) -> bool:
        return self._epid < 0

    def fileno(self) -> int:
        """The epoll id (a descriptor of the context), or -1 once closed."""
        return self._epid

    def register(self, fd: int | SupportsFileno, eventmask: int | None = None) -> None:
        """Watches ``fd`` for ``eventmask`` (default ``EPOLLIN | EPOLLOUT``)."""
        if eventmask is None:
            eventmask = MTCP_EPOLLIN | MTCP_EPOLLOUT
        self._raw.epoll_ctl(self._epid, MTCP_EPOLL_CTL_ADD, _fd(fd), eventmask)

    def modify(self, fd: int | SupportsFileno, eventmask: int) -> None:
        self._raw.epoll_ctl(self._epid, MTCP_EPOLL_CTL_MOD, _fd(fd), eventmask)

    def unregister(self, fd: int | SupportsFileno) -> None:
        self._raw.epoll_ctl(self._epid, MTCP_EPOLL_CTL_DEL, _fd(fd), 0)

    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
        """Waits up to ``timeout`` seconds (``None`` or negative: forever) and returns
        ``[(fd, events)]``. The GIL is released while waiting; Ctrl-C interrupts."""
        if not timeout:  # 0, 0.0 or None
            timeout_ms = -1 if timeout is None else 0
        elif timeout < 0:
            timeout_ms = -1
        else:
            timeout_ms = min(math.ceil(timeout * 1000), _MAX_TIMEOUT_MS)
        if maxevents < 0:
            maxevents = self._maxevents
        return self._raw.epoll_wait(self._epid, maxevents, timeout_ms)

    def close(self) -> None:
        """Closes the epoll instance. Idempotent."""
        epid, self._epid = self._epid, -1
        if epid >= 0:
            self._raw.close(epid)

    def __enter__(self) -> Epoll:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mtcp.Epoll fd={self._epid}>"
