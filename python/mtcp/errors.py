"""Exceptions raised by mtcp.

Every failing call raises an instance of :class:`MtcpError` (an :class:`OSError`), which is
also an instance of the builtin subclass Python's own :mod:`socket` raises for the same errno,
so ``except BlockingIOError``, ``except mtcp.MtcpError`` and ``e.errno == errno.EAGAIN`` all
work. The message names the call: ``mtcp_connect: Connection refused``.

The Rust bindings construct these through :func:`error_from_errno`, with args
``(errno, "mtcp_<call>: <strerror>")``, so ``.errno`` and ``.strerror`` are set.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ERRNO_CLASSES",
    "BrokenPipe",
    "ConfigError",
    "ConnectionAborted",
    "ConnectionRefused",
    "ConnectionReset",
    "FileExists",
    "FileNotFound",
    "InternalError",
    "Interrupted",
    "MtcpError",
    "PermissionDenied",
    "TimedOut",
    "WouldBlock",
    "error_from_errno",
]


class MtcpError(OSError):
    """Base class of every errno-carrying mtcp error."""

    # No per-instance slots (not even ``__weakref__``), like the builtin ``OSError``s: a
    # subclass that adds one costs twice as much to raise and catch, and a non-blocking loop
    # raises ``BlockingIOError`` on most empty reads. Attributes still go to ``__dict__``.
    __slots__ = ()


class WouldBlock(MtcpError, BlockingIOError):
    """EAGAIN / EWOULDBLOCK, EINPROGRESS, EALREADY: the operation cannot complete now."""

    __slots__ = ()


class ConnectionRefused(MtcpError, ConnectionRefusedError):
    """ECONNREFUSED: the peer answered the SYN with RST."""

    __slots__ = ()


class ConnectionReset(MtcpError, ConnectionResetError):
    """ECONNRESET: the peer reset the connection."""

    __slots__ = ()


class ConnectionAborted(MtcpError, ConnectionAbortedError):
    """ECONNABORTED: the connection was aborted locally."""

    __slots__ = ()


class BrokenPipe(MtcpError, BrokenPipeError):
    """EPIPE / ESHUTDOWN: writing to a connection that can no longer send."""

    __slots__ = ()


class TimedOut(MtcpError, TimeoutError):
    """ETIMEDOUT: retransmissions or the idle timeout gave up."""

    __slots__ = ()


class FileExists(MtcpError, FileExistsError):
    """EEXIST (e.g. ``epoll_ctl`` ADD of a registered descriptor)."""

    __slots__ = ()


class FileNotFound(MtcpError, FileNotFoundError):
    """ENOENT (e.g. ``epoll_ctl`` MOD/DEL of an unregistered descriptor)."""

    __slots__ = ()


class PermissionDenied(MtcpError, PermissionError):
    """EPERM / EACCES (e.g. a call on a destroyed context, a backend without privileges)."""

    __slots__ = ()


class Interrupted(MtcpError, InterruptedError):
    """EINTR: a wait was interrupted (e.g. the context was destroyed)."""

    __slots__ = ()


class InternalError(RuntimeError):
    """A bug inside mtcp (a Rust panic caught at the binding boundary). Please report it."""


class ConfigError(ValueError):
    """A bad configuration file or value.

    ``file``, ``line`` and ``key`` say where, when known; ``reason`` is what is wrong and
    ``str(err)`` is the whole message (``path:line: key: reason``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason if reason is not None else message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields survive pickling (exceptions pickle only `args` by default).
        return (
            _rebuild_config_error,
            (str(self), self.file, self.line, self.key, self.reason),
        )


def _rebuild_config_error(
    message: str, file: str | None, line: int | None, key: str | None, reason: str | None
) -> ConfigError:
    return ConfigError(message, file=file, line=line, key=key, reason=reason)


#: errno → exception class; errnos not listed raise plain :class:`MtcpError`.
ERRNO_CLASSES: Mapping[int, type[MtcpError]] = MappingProxyType(
    {
        _errno.EAGAIN: WouldBlock,
        _errno.EINPROGRESS: WouldBlock,
        _errno.EALREADY: WouldBlock,
        _errno.ECONNREFUSED: ConnectionRefused,
        _errno.ECONNRESET: ConnectionReset,
        _errno.ECONNABORTED: ConnectionAborted,
        _errno.EPIPE: BrokenPipe,
        _errno.ESHUTDOWN: BrokenPipe,
        _errno.ETIMEDOUT: TimedOut,
        _errno.EEXIST: FileExists,
        _errno.ENOENT: FileNotFound,
        _errno.EPERM: PermissionDenied,
        _errno.EACCES: PermissionDenied,
        _errno.EINTR: Interrupted,
    }
)


def error_from_errno(errno: int, call: str, detail: str | None = None) -> MtcpError:
    """The exception for ``errno`` raised by ``mtcp_<call>``.

    ``call`` is the mTCP name without its ``mtcp_`` prefix (``"connect"``). The result has
    ``.errno == errno`` and ``.strerror == "mtcp_<call>: <strerror>"`` (followed by
    ``" (<detail>)"`` when given).
    """
    cls = ERRNO_CLASSES.get(errno, MtcpError)
    message = f"mtcp_{call}: {os.strerror(errno)}"
    if detail:
        message += f" ({detail})"
    return cls(errno, message)
