"""The exception hierarchy (API.md §2): every errno gives an MtcpError that is also the builtin
OSError subclass Python's own socket module raises for it."""

from __future__ import annotations

import errno
import pickle

import pytest

import mtcp
from mtcp import errors

# errno → (mtcp class, builtin class Python's OSError maps that errno to)
EXPECTED = {
    errno.EAGAIN: (mtcp.WouldBlock, BlockingIOError),
    errno.EINPROGRESS: (mtcp.WouldBlock, BlockingIOError),
    errno.EALREADY: (mtcp.WouldBlock, BlockingIOError),
    errno.ECONNREFUSED: (mtcp.ConnectionRefused, ConnectionRefusedError),
    errno.ECONNRESET: (mtcp.ConnectionReset, ConnectionResetError),
    errno.ECONNABORTED: (mtcp.ConnectionAborted, ConnectionAbortedError),
    errno.EPIPE: (mtcp.BrokenPipe, BrokenPipeError),
    errno.ESHUTDOWN: (mtcp.BrokenPipe, BrokenPipeError),
    errno.ETIMEDOUT: (mtcp.TimedOut, TimeoutError),
    errno.EEXIST: (mtcp.FileExists, FileExistsError),
    errno.ENOENT: (mtcp.FileNotFound, FileNotFoundError),
    errno.EPERM: (mtcp.PermissionDenied, PermissionError),
    errno.EACCES: (mtcp.PermissionDenied, PermissionError),
    errno.EINTR: (mtcp.Interrupted, InterruptedError),
}
PLAIN = [
    errno.EBADF,
    errno.EINVAL,
    errno.ENFILE,
    errno.ENOTSOCK,
    errno.EISCONN,
    errno.ENOTCONN,
    errno.EADDRINUSE,
    errno.EADDRNOTAVAIL,
    errno.EAFNOSUPPORT,
    errno.EOPNOTSUPP,
    errno.ENOMEM,
]


@pytest.mark.parametrize(("code", "classes"), sorted(EXPECTED.items()))
def test_errno_maps_to_class(code: int, classes: tuple[type, type]) -> None:
    cls, builtin = classes
    exc = errors.error_from_errno(code, "connect")
    assert type(exc) is cls
    assert isinstance(exc, mtcp.MtcpError)
    assert isinstance(exc, OSError)
    assert isinstance(exc, builtin)
    assert exc.errno == code
    assert exc.strerror is not None
    assert exc.strerror.startswith("mtcp_connect: ")
    assert "mtcp_connect" in str(exc)
    # Python's own mapping agrees on the builtin class.
    assert isinstance(OSError(code, "x"), builtin)


@pytest.mark.parametrize("code", PLAIN)
def test_other_errnos_are_plain_mtcp_error(code: int) -> None:
    exc = errors.error_from_errno(code, "bind")
    assert type(exc) is mtcp.MtcpError
    assert exc.errno == code
    assert exc.strerror == f"mtcp_bind: {__import__('os').strerror(code)}"


def test_table_matches_pep3151() -> None:
    for code, cls in errors.ERRNO_CLASSES.items():
        builtin = type(OSError(code, "x"))
        assert issubclass(cls, builtin), (code, cls, builtin)


def test_catch_by_builtin_and_by_errno() -> None:
    with pytest.raises(ConnectionRefusedError) as info:
        raise errors.error_from_errno(errno.ECONNREFUSED, "connect")
    assert info.value.errno == errno.ECONNREFUSED
    with pytest.raises(mtcp.MtcpError):
        raise errors.error_from_errno(errno.EAGAIN, "read")


def test_errors_pickle() -> None:
    exc = errors.error_from_errno(errno.ECONNRESET, "read")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is mtcp.ConnectionReset
    assert back.errno == errno.ECONNRESET
    assert back.strerror == exc.strerror


def test_config_error_is_value_error_with_location() -> None:
    exc = mtcp.ConfigError(
        "f.conf:3: rcvbuf: too small", file="f.conf", line=3, key="rcvbuf", reason="too small"
    )
    assert isinstance(exc, ValueError)
    assert not isinstance(exc, OSError)
    assert (exc.file, exc.line, exc.key, exc.reason) == ("f.conf", 3, "rcvbuf", "too small")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.file, back.line, back.key, str(back)) == ("f.conf", 3, "rcvbuf", str(exc))


def test_raised_by_the_binding_carries_errno() -> None:
    """An error raised from Rust (not constructed in Python) keeps its errno (PyO3's blanket
    io::Error conversion would lose it)."""
    net = mtcp.sim.Network()
    ctx = net.add_host("198.18.0.1").create_context(0)
    with pytest.raises(mtcp.MtcpError) as info:
        ctx.bind(12345, ("198.18.0.1", 80))
    assert info.value.errno == errno.EBADF
    assert info.value.strerror == "mtcp_bind: Bad file descriptor"
