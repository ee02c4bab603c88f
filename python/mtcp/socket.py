"""``mtcp.Socket``: a descriptor of one context with the methods of Python's ``socket``.

Sockets are always non-blocking (as in mTCP): ``connect`` raises ``BlockingIOError``
(EINPROGRESS), ``accept``/``recv`` raise ``BlockingIOError`` (EAGAIN) when nothing is ready.
Wait for readiness with :class:`mtcp.Epoll`.
"""

from __future__ import annotations

import contextlib
import errno as _errno
from types import TracebackType
from typing import TYPE_CHECKING

from ._mtcp import FIONREAD
from ._types import Address, BytesLike, WritableBuffer
from .errors import MtcpError, error_from_errno

if TYPE_CHECKING:
    from .context import Context

__all__ = ["Socket"]

_DEFAULT_BACKLOG = 128


class Socket:
    """A TCP socket of one :class:`mtcp.Context`; ``fileno()`` is its mTCP sockid."""

    __slots__ = ("_ctx", "_fd", "_raw", "family", "proto", "type")

    def __init__(self, ctx: Context, family: int, type: int, proto: int = 0) -> None:
        """Prefer :meth:`mtcp.Context.socket`."""
        self._ctx = ctx
        # The native context, held directly: ``ctx.raw`` is a property (a Python call).
        self._raw = ctx.raw
        self._fd = self._raw.socket(family, type, proto)
        self.family = family
        self.type = type
        self.proto = proto

    @classmethod
    def _adopt(cls, ctx: Context, fd: int, family: int, type: int, proto: int) -> Socket:
        self = cls.__new__(cls)
        self._ctx = ctx
        self._raw = ctx.raw
        self._fd = fd
        self.family = family
        self.type = type
        self.proto = proto
        return self

    @property
    def context(self) -> Context:
        return self._ctx

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def fileno(self) -> int:
        """The sockid, or -1 once closed."""
        return self._fd

    def bind(self, address: Address) -> None:
        self._raw.bind(self._fd, address)

    def listen(self, backlog: int | None = None) -> None:
        """``backlog`` defaults to ``min(128, max_concurrency)`` (mTCP rejects a backlog
        larger than the pool)."""
        if backlog is None:
            backlog = min(_DEFAULT_BACKLOG, self._ctx.max_concurrency)
        self._raw.listen(self._fd, backlog)

    def accept(self) -> tuple[Socket, Address]:
        """``(socket, (host, port))``; ``BlockingIOError`` (EAGAIN) when none is waiting."""
        fd, addr = self._raw.accept(self._fd)
        sock = Socket.__new__(Socket)
        sock._ctx, sock._raw, sock._fd = self._ctx, self._raw, fd
        sock.family, sock.type, sock.proto = self.family, self.type, self.proto
        return sock, addr

    def connect(self, address: Address) -> None:
        """Starts the handshake and raises ``BlockingIOError`` (EINPROGRESS), like a
        non-blocking Python socket. Completion shows as ``EPOLLOUT`` (``SO_ERROR`` 0) or
        ``EPOLLERR`` (``SO_ERROR`` says why)."""
        self._raw.connect(self._fd, address)

    def connect_ex(self, address: Address) -> int:
        """Like :meth:`connect`, returning the errno (0 or ``errno.EINPROGRESS``, …)."""
        try:
            self._raw.connect(self._fd, address)
        except MtcpError as exc:
            return exc.errno if exc.errno is not None else _errno.EIO
        return 0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` at end of stream; ``flags``: 0 or ``MSG_PEEK``."""
        if flags:
            return self._raw.recv(self._fd, bufsize, flags)
        return self._raw.read(self._fd, bufsize)

    def recv_into(self, buffer: WritableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """Reads into ``buffer`` (at most ``nbytes``, or its size when 0); returns the count."""
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("recv_into() needs a writable buffer")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes == 0 or nbytes > view.nbytes:
            nbytes = view.nbytes
        data = (
            self._raw.recv(self._fd, nbytes, flags) if flags else self._raw.read(self._fd, nbytes)
        )
        n = len(data)
        view[:n] = data
        return n

    def send(self, data: BytesLike, flags: int = 0) -> int:
        """Queues what fits of ``data``; returns the count (may be fewer; ``BlockingIOError``
        when the send buffer is full). mTCP has no send flags: ``flags`` must be 0."""
        if flags:
            raise error_from_errno(_errno.EOPNOTSUPP, "send", "flags are not supported")
        return self._raw.write(self._fd, data)

    def shutdown(self, how: int) -> None:
        self._raw.shutdown(self._fd, how)

    def close(self) -> None:
        """Closes the connection gracefully (FIN) and frees the descriptor. Idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._raw.close(fd)

    def abort(self) -> None:
        """Resets the connection (RST) and frees the descriptor (``mtcp_abort``)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._raw.abort(fd)

    def detach(self) -> int:
        """Forgets the descriptor without closing it; returns it."""
        fd, self._fd = self._fd, -1
        return fd

    def getsockopt(self, level: int, optname: int) -> int:
        return self._raw.getsockopt(self._fd, level, optname)

    def setsockopt(self, level: int, optname: int, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError(f"setsockopt() value must be int, not {type(value).__name__}")
        self._raw.setsockopt(self._fd, level, optname, int(value))

    def getsockname(self) -> Address:
        return self._raw.getsockname(self._fd)

    def getpeername(self) -> Address:
        return self._raw.getpeername(self._fd)

    def pending(self) -> int:
        """Bytes readable now (``FIONREAD``)."""
        return self._raw.socket_ioctl(self._fd, FIONREAD)

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        parts = [f"fd={self._fd}"]
        if self._fd >= 0:
            for name, get in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                with contextlib.suppress(MtcpError):
                    parts.append(f"{name}={get()!r}")
        else:
            parts.append("[closed]")
        return f"<mtcp.Socket {' '.join(parts)}>"
