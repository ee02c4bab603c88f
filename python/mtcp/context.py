"""One core's TCP engine: mTCP's ``mctx_t``, with every mTCP call as a method.

Descriptors are small ints local to their context. :meth:`Context.socket` and
:meth:`Context.epoll` return the Pythonic :class:`~mtcp.Socket` and :class:`~mtcp.Epoll`
objects; every other method takes and returns ints, like the C API (``ctx.bind(sockid, addr)``).
The raw native object is :attr:`Context.raw` (``raw.socket(...)`` returns an int).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from . import _mtcp
from ._mtcp import AF_INET, SOCK_STREAM
from ._types import Address, BytesLike, WritableBuffer

if TYPE_CHECKING:
    from .epoll import Epoll
    from .socket import Socket
    from .stack import Stack

__all__ = ["Context", "ContextStats"]

ContextStats = _mtcp.ContextStats


#: The descriptor-int calls a :class:`Context` forwards unchanged to its native context.
_NATIVE_CALLS = (
    "bind",
    "listen",
    "accept",
    "connect",
    "read",
    "recv",
    "write",
    "shutdown",
    "close",
    "abort",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "socket_ioctl",
    "setsock_nonblock",
    "epoll_create",
    "epoll_ctl",
    "epoll_wait",
    "init_rss",
    "pipe",
)


class Context:
    """One core's engine. Create with :meth:`mtcp.Stack.create_context`; ``with ctx:``
    destroys it at the end of the block. Use a context from one thread at a time."""

    __slots__ = (
        "__weakref__",
        "_destroyed",
        "_max_concurrency",
        "_raw",
        "_stack",
        *_NATIVE_CALLS,
    )

    def __init__(self, raw: _mtcp.Context, stack: Stack, max_concurrency: int) -> None:
        self._raw = raw
        self._stack = stack
        self._max_concurrency = max_concurrency
        self._destroyed = False
        for name in _NATIVE_CALLS:
            setattr(self, name, getattr(raw, name))

    @property
    def raw(self) -> _mtcp.Context:
        """The native context: every mTCP call, ints only."""
        return self._raw

    @property
    def stack(self) -> Stack:
        return self._stack

    @property
    def core(self) -> int:
        """The core this context runs on."""
        return self._raw.core()

    @property
    def max_concurrency(self) -> int:
        """Size of this context's descriptor pool (the config's ``max_concurrency``)."""
        return self._max_concurrency

    # -- Pythonic layer (API.md §3) ------------------------------------------------------------

    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0) -> Socket:
        """A new :class:`mtcp.Socket` (``mtcp_socket``)."""
        from .socket import Socket

        return Socket._adopt(self, self._raw.socket(family, type, proto), family, type, proto)

    def epoll(self, sizehint: int = -1) -> Epoll:
        """A new :class:`mtcp.Epoll` (``mtcp_epoll_create``); ``sizehint <= 0``: room for
        every descriptor of the pool."""
        from .epoll import Epoll

        size = sizehint if sizehint > 0 else self._max_concurrency
        return Epoll._adopt(self, self._raw.epoll_create(size))

    def stats(self) -> _mtcp.ContextStats:
        """This context's counters (frames, bytes, connections, ``sockets_in_use``, …)."""
        return self._raw.stats()

    def destroy(self) -> None:
        """``mtcp_destroy_context``: stops the loop and closes every socket. Idempotent."""
        if not self._destroyed:
            self._destroyed = True
            self._raw.destroy()

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    def __repr__(self) -> str:
        state = " destroyed" if self._destroyed else ""
        try:
            core = str(self.core)
        except Exception:  # a destroyed or broken context must still print
            core = "?"
        return f"<mtcp.Context core={core}{state}>"

    # -- mTCP calls, descriptor ints (API.md §1) -----------------------------------------------
    #
    # Every call below but readv/writev is the native method itself, bound per instance in
    # __init__ (see _NATIVE_CALLS): a Python method that only forwards to ``self._raw`` would
    # add a frame to every read, write and epoll_wait. The definitions here are for type
    # checkers and readers.

    if TYPE_CHECKING:

        def bind(self, sockid: int, addr: Address) -> None: ...
        def listen(self, sockid: int, backlog: int) -> None: ...
        def accept(self, sockid: int) -> tuple[int, Address]: ...
        def connect(self, sockid: int, addr: Address) -> None: ...
        def read(self, sockid: int, n: int) -> bytes: ...
        def recv(self, sockid: int, n: int, flags: int = 0) -> bytes: ...
        def write(self, sockid: int, data: BytesLike) -> int: ...
        def shutdown(self, sockid: int, how: int) -> None: ...
        def close(self, sockid: int) -> None: ...
        def abort(self, sockid: int) -> None: ...
        def getsockopt(self, sockid: int, level: int, optname: int) -> int: ...
        def setsockopt(self, sockid: int, level: int, optname: int, value: int) -> None: ...
        def getsockname(self, sockid: int) -> Address: ...
        def getpeername(self, sockid: int) -> Address: ...
        def socket_ioctl(self, sockid: int, request: int) -> int: ...
        def setsock_nonblock(self, sockid: int) -> None: ...
        def epoll_create(self, size: int) -> int: ...
        def epoll_ctl(self, epid: int, op: int, sockid: int, events: int) -> None: ...
        def epoll_wait(
            self, epid: int, maxevents: int, timeout_ms: int
        ) -> list[tuple[int, int]]: ...
        def init_rss(self, saddr: str, num_addrs: int, daddr: str, dport: int) -> None: ...
        def pipe(self) -> tuple[int, int]: ...

    def readv(self, sockid: int, buffers: Sequence[WritableBuffer]) -> int:
        return self._raw.readv(sockid, list(buffers))

    def writev(self, sockid: int, buffers: Sequence[BytesLike]) -> int:
        return self._raw.writev(sockid, list(buffers))
