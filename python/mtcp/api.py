"""The mTCP API, call for call (API.md §1): ``mtcp_<name>(ctx, ...)`` as in ``mtcp_api.h``.

Failing calls raise :class:`mtcp.MtcpError` subclasses (never return -1); see
:mod:`mtcp.errors`.
"""

from __future__ import annotations

import errno as _errno
import os
import signal as _signal
import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

from ._mtcp import (
    MTCP_EPOLLERR,
    MTCP_EPOLLET,
    MTCP_EPOLLHUP,
    MTCP_EPOLLIN,
    MTCP_EPOLLMSG,
    MTCP_EPOLLONESHOT,
    MTCP_EPOLLOUT,
    MTCP_EPOLLPRI,
    MTCP_EPOLLRDBAND,
    MTCP_EPOLLRDHUP,
    MTCP_EPOLLRDNORM,
    MTCP_EPOLLWRBAND,
    MTCP_EPOLLWRNORM,
)
from ._types import Address, BytesLike, WritableBuffer
from .config import Config
from .context import Context
from .errors import error_from_errno
from .stack import ConfigLike, Stack, as_config

__all__ = [
    "event_to_string",
    "mtcp_abort",
    "mtcp_accept",
    "mtcp_bind",
    "mtcp_close",
    "mtcp_connect",
    "mtcp_core_affinitize",
    "mtcp_create_context",
    "mtcp_destroy",
    "mtcp_destroy_context",
    "mtcp_epoll_create",
    "mtcp_epoll_create1",
    "mtcp_epoll_ctl",
    "mtcp_epoll_wait",
    "mtcp_getconf",
    "mtcp_getpeername",
    "mtcp_getsockname",
    "mtcp_getsockopt",
    "mtcp_init",
    "mtcp_init_rss",
    "mtcp_listen",
    "mtcp_pipe",
    "mtcp_read",
    "mtcp_readv",
    "mtcp_recv",
    "mtcp_register_signal",
    "mtcp_setconf",
    "mtcp_setsock_nonblock",
    "mtcp_setsockopt",
    "mtcp_shutdown",
    "mtcp_socket",
    "mtcp_socket_ioctl",
    "mtcp_write",
    "mtcp_writev",
]

_lock = threading.Lock()
_default_stack: Stack | None = None
_pending_conf: Config | None = None


# -- process-wide stack ---------------------------------------------------------------------


def mtcp_init(config: ConfigLike = None) -> Stack:
    """Creates the process default stack from ``config``: the path of an ``mtcp.conf``, a
    :class:`mtcp.Config`, or ``None`` for the configuration given to :func:`mtcp_setconf`
    (or the defaults). Raises ``MtcpError`` (EBUSY) if already initialised."""
    global _default_stack
    with _lock:
        if _default_stack is not None:
            raise error_from_errno(_errno.EBUSY, "init", "already initialised; mtcp_destroy first")
        cfg = as_config(config if config is not None else _pending_conf)
        _default_stack = Stack(cfg)
        return _default_stack


def mtcp_destroy() -> None:
    """Stops the default stack and every context it created. A no-op if none exists."""
    global _default_stack
    with _lock:
        stack, _default_stack = _default_stack, None
    if stack is not None:
        stack.destroy()


def _default() -> Stack:
    stack = _default_stack
    if stack is None:
        raise error_from_errno(_errno.EPERM, "create_context", "call mtcp_init first")
    return stack


def mtcp_getconf() -> Config:
    """The default stack's configuration (before :func:`mtcp_init`: what it would use)."""
    stack = _default_stack
    if stack is not None:
        return stack.config()
    return _pending_conf if _pending_conf is not None else Config()


def mtcp_setconf(conf: Config) -> None:
    """Sets the configuration :func:`mtcp_init` uses when called without a file.

    A running stack's configuration is fixed: after :func:`mtcp_init` this raises
    ``MtcpError`` (EBUSY) instead of silently doing nothing (deviation from mTCP, whose
    ``setconf`` after ``init`` affects only contexts created later)."""
    global _pending_conf
    if not isinstance(conf, Config):
        raise TypeError(f"mtcp_setconf() takes a mtcp.Config, not {type(conf).__name__}")
    with _lock:
        if _default_stack is not None:
            raise error_from_errno(_errno.EBUSY, "setconf", "the stack is already running")
        _pending_conf = conf


def mtcp_core_affinitize(core: int) -> None:
    """Pins the calling thread to CPU ``core``."""
    ncpu = os.cpu_count() or 1
    if isinstance(core, bool) or not isinstance(core, int):
        raise TypeError(f"core must be an int, not {type(core).__name__}")
    if not 0 <= core < ncpu:
        raise error_from_errno(_errno.EINVAL, "core_affinitize", f"core {core} of {ncpu}")
    try:
        os.sched_setaffinity(0, {core})  # pid 0: the calling thread
    except OSError as exc:
        raise error_from_errno(exc.errno or _errno.EINVAL, "core_affinitize") from exc


def mtcp_create_context(core: int) -> Context:
    """A context of the default stack (``mtcp_init`` first); same as
    ``stack.create_context(core)``."""
    return _default().create_context(core)


def mtcp_destroy_context(ctx: Context) -> None:
    ctx.destroy()


_Handler = Union[Callable[[int, Any], Any], int, None]


def mtcp_register_signal(signum: int, handler: _Handler) -> _Handler:
    """Installs ``handler`` for ``signum`` (``signal.signal``); returns the previous one."""
    return _signal.signal(signum, handler)


# -- sockets --------------------------------------------------------------------------------


def mtcp_socket(ctx: Context, domain: int, type: int, protocol: int) -> int:
    """A new socket descriptor. ``domain`` other than ``AF_INET`` → EAFNOSUPPORT; ``type``
    other than ``SOCK_STREAM`` → EINVAL; ``protocol`` other than 0 → EINVAL; no free
    descriptor → ENFILE."""
    return ctx.raw.socket(domain, type, protocol)


def mtcp_bind(ctx: Context, sockid: int, addr: Address) -> None:
    ctx.bind(sockid, addr)


def mtcp_listen(ctx: Context, sockid: int, backlog: int) -> None:
    ctx.listen(sockid, backlog)


def mtcp_accept(ctx: Context, sockid: int) -> tuple[int, Address]:
    """``(sockid, (host, port))``; ``BlockingIOError`` (EAGAIN) when the queue is empty."""
    return ctx.accept(sockid)


def mtcp_connect(ctx: Context, sockid: int, addr: Address) -> None:
    """Non-blocking: raises ``BlockingIOError`` with errno EINPROGRESS once the SYN is on
    its way."""
    ctx.connect(sockid, addr)


def mtcp_read(ctx: Context, sockid: int, n: int) -> bytes:
    """Up to ``n`` bytes; ``b""`` at end of stream; ``BlockingIOError`` (EAGAIN) if empty."""
    return ctx.read(sockid, n)


def mtcp_recv(ctx: Context, sockid: int, n: int, flags: int) -> bytes:
    """As :func:`mtcp_read`; ``flags`` 0 or ``MSG_PEEK``."""
    return ctx.recv(sockid, n, flags)


def mtcp_readv(ctx: Context, sockid: int, buffers: Sequence[WritableBuffer]) -> int:
    """Fills the writable ``buffers`` in order; returns the bytes read."""
    return ctx.raw.readv(sockid, list(buffers))


def mtcp_write(ctx: Context, sockid: int, data: BytesLike) -> int:
    """Queues what fits of ``data`` (any bytes-like object); returns the count."""
    return ctx.write(sockid, data)


def mtcp_writev(ctx: Context, sockid: int, buffers: Sequence[BytesLike]) -> int:
    return ctx.raw.writev(sockid, list(buffers))


def mtcp_shutdown(ctx: Context, sockid: int, how: int) -> None:
    """``SHUT_RD``, ``SHUT_WR`` or ``SHUT_RDWR`` (Linux semantics; mTCP has no shutdown)."""
    ctx.shutdown(sockid, how)


def mtcp_close(ctx: Context, sockid: int) -> None:
    """Sends FIN and frees the descriptor."""
    ctx.close(sockid)


def mtcp_abort(ctx: Context, sockid: int) -> None:
    """Sends RST and frees the descriptor."""
    ctx.abort(sockid)


def mtcp_getsockopt(ctx: Context, sockid: int, level: int, optname: int) -> int:
    return ctx.getsockopt(sockid, level, optname)


def mtcp_setsockopt(ctx: Context, sockid: int, level: int, optname: int, value: int) -> None:
    ctx.setsockopt(sockid, level, optname, value)


def mtcp_getsockname(ctx: Context, sockid: int) -> Address:
    return ctx.getsockname(sockid)


def mtcp_getpeername(ctx: Context, sockid: int) -> Address:
    return ctx.getpeername(sockid)


def mtcp_socket_ioctl(ctx: Context, sockid: int, request: int) -> int:
    """``FIONREAD``: bytes readable now."""
    return ctx.socket_ioctl(sockid, request)


def mtcp_setsock_nonblock(ctx: Context, sockid: int) -> None:
    """Sockets are non-blocking already; kept for mTCP code."""
    ctx.setsock_nonblock(sockid)


def mtcp_init_rss(ctx: Context, saddr: str, num_addrs: int, daddr: str, dport: int) -> None:
    """Source ports for later ``connect`` calls to ``(daddr, dport)`` land on this core."""
    ctx.init_rss(saddr, num_addrs, daddr, dport)


def mtcp_pipe(ctx: Context) -> tuple[int, int]:
    """``(read_end, write_end)``: an in-context pipe usable with epoll, as in mTCP."""
    return ctx.pipe()


# -- epoll ----------------------------------------------------------------------------------


def mtcp_epoll_create(ctx: Context, size: int) -> int:
    return ctx.epoll_create(size)


def mtcp_epoll_create1(ctx: Context, flags: int) -> int:
    """``flags``: 0 or ``os.O_CLOEXEC`` (ignored), as in mTCP; else EINVAL."""
    if flags not in (0, os.O_CLOEXEC):
        raise error_from_errno(_errno.EINVAL, "epoll_create1")
    return ctx.epoll_create(ctx.max_concurrency)


def mtcp_epoll_ctl(ctx: Context, epid: int, op: int, sockid: int, events: int) -> None:
    """``op``: ``MTCP_EPOLL_CTL_ADD/MOD/DEL``; ``events``: ``MTCP_EPOLLIN|OUT|…|ET``."""
    ctx.epoll_ctl(epid, op, sockid, events)


def mtcp_epoll_wait(
    ctx: Context, epid: int, maxevents: int, timeout_ms: int
) -> list[tuple[int, int]]:
    """``[(sockid, events)]``, waiting up to ``timeout_ms`` (-1: forever) without the GIL."""
    return ctx.epoll_wait(epid, maxevents, timeout_ms)


_EVENT_NAMES = (
    (MTCP_EPOLLIN, "EPOLLIN"),
    (MTCP_EPOLLPRI, "EPOLLPRI"),
    (MTCP_EPOLLOUT, "EPOLLOUT"),
    (MTCP_EPOLLERR, "EPOLLERR"),
    (MTCP_EPOLLHUP, "EPOLLHUP"),
    (MTCP_EPOLLRDNORM, "EPOLLRDNORM"),
    (MTCP_EPOLLRDBAND, "EPOLLRDBAND"),
    (MTCP_EPOLLWRNORM, "EPOLLWRNORM"),
    (MTCP_EPOLLWRBAND, "EPOLLWRBAND"),
    (MTCP_EPOLLMSG, "EPOLLMSG"),
    (MTCP_EPOLLRDHUP, "EPOLLRDHUP"),
    (MTCP_EPOLLONESHOT, "EPOLLONESHOT"),
    (MTCP_EPOLLET, "EPOLLET"),
)


def event_to_string(events: int) -> str:
    """``"EPOLLIN|EPOLLOUT"`` (mTCP's ``EventToString``)."""
    names = [name for bit, name in _EVENT_NAMES if events & bit]
    return "|".join(names) if names else "EPOLLNONE"
