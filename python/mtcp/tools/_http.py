"""The small HTTP/1.0-1.1 subset epserver and epwget speak (RFC 9112): request and response
heads, ``Content-Length`` bodies, ``Connection: keep-alive/close``; plus the generated file set
whose bodies are a known pattern, so a client can verify every byte it got."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "MAX_HEAD",
    "Expect",
    "HttpError",
    "Request",
    "RequestParser",
    "Resource",
    "ResponseHead",
    "ResponseParser",
    "Url",
    "build_request",
    "generate_body",
    "parse_url",
]

#: Longest request or response head accepted (request line/status line plus headers).
MAX_HEAD = 16 * 1024
_END_OF_HEAD = b"\r\n\r\n"
_PRINTABLE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Maps every byte value onto the 64 printable characters above (four times over).
_TO_PRINTABLE = bytes(_PRINTABLE[i % 64] for i in range(256))


class HttpError(ValueError):
    """A malformed request or response head."""


def generate_body(name: str, size: int) -> bytes:
    """``size`` printable pseudo-random bytes determined by ``name`` alone, so a client that
    knows the name can recompute the body and check it byte for byte."""
    if size < 0:
        raise ValueError("size must be >= 0")
    return random.Random(f"mtcp:{name}").randbytes(size).translate(_TO_PRINTABLE)


@dataclass(frozen=True)
class Expect:
    """What a verified body must be: its length and CRC-32."""

    length: int
    crc32: int

    @classmethod
    def of(cls, body: bytes) -> Expect:
        return cls(len(body), zlib.crc32(body))


# -- server side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A parsed request head."""

    method: str
    target: str
    version: str
    keep_alive: bool


def _keep_alive(version: str, connection: str | None) -> bool:
    """RFC 9112 §9.3: HTTP/1.1 persists unless ``close``; HTTP/1.0 only with ``keep-alive``."""
    tokens = {t.strip().lower() for t in (connection or "").split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def parse_request_head(head: bytes) -> Request:
    """Parses ``head`` (without the final blank line). Raises :class:`HttpError`."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError("undecodable head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HttpError(f"bad request line {lines[0][:80]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(f"unsupported version {version[:16]!r}")
    connection: str | None = None
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(f"bad header line {line[:80]!r}")
        if name.strip().lower() == "connection":
            connection = value.strip()
    return Request(method, target, version, _keep_alive(version, connection))


class RequestParser:
    """Accumulates bytes read from one connection and yields complete request heads.
    Request bodies are not supported (GET and HEAD have none)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_request(self) -> Request | None:
        """The next complete request, or ``None`` if more bytes are needed. Raises
        :class:`HttpError` on a malformed or oversized head."""
        end = self._buf.find(_END_OF_HEAD)
        if end < 0:
            if len(self._buf) > MAX_HEAD:
                raise HttpError("request head too large")
            return None
        head = bytes(self._buf[:end])
        del self._buf[: end + len(_END_OF_HEAD)]
        return parse_request_head(head)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    501: "Not Implemented",
}


def response_head(status: int, length: int, keep_alive: bool, content_type: str) -> bytes:
    """A response head as epserver sends it."""
    conn = "keep-alive" if keep_alive else "close"
    return (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        f"Server: mtcp-epserver\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n"
        f"Connection: {conn}\r\n\r\n"
    ).encode("ascii")


def _content_type(path: str) -> str:
    if path.endswith((".html", ".htm")):
        return "text/html"
    if path.endswith(".txt"):
        return "text/plain"
    return "application/octet-stream"


class Resource:
    """One preloaded file with its responses prebuilt (no work per request but a lookup)."""

    __slots__ = ("body", "full", "head", "path")

    def __init__(self, path: str, body: bytes) -> None:
        self.path = path
        self.body = body
        ctype = _content_type(path)
        #: ``head[keep_alive]``: the response head alone (for HEAD requests).
        self.head = {ka: response_head(200, len(body), ka, ctype) for ka in (False, True)}
        #: ``full[keep_alive]``: head and body in one buffer (one write when it fits).
        self.full = {ka: self.head[ka] + body for ka in (False, True)}


def error_response(status: int, keep_alive: bool) -> bytes:
    body = f"{status} {_REASONS[status]}\n".encode("ascii")
    return response_head(status, len(body), keep_alive, "text/plain") + body


# -- client side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    """An ``http://host[:port]/path`` URL."""

    host: str
    port: int
    path: str

    def __str__(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


def parse_url(text: str) -> Url:
    """Parses ``http://host[:port][/path]`` (the scheme may be omitted). The host must be an
    IPv4 address: the stack has no resolver. Raises ``ValueError``."""
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"only http:// URLs are supported, not {parts.scheme}://")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in URL {text!r}")
    octets = host.split(".")
    if len(octets) != 4 or not all(o.isdigit() and int(o) < 256 for o in octets):
        raise ValueError(f"the host must be an IPv4 address (no DNS here), not {host!r}")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"bad port in URL {text!r}") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Url(host, port, path)


def build_request(url: Url, keep_alive: bool) -> bytes:
    """A GET request as epwget sends it."""
    conn = "keep-alive" if keep_alive else "close"
    return (
        f"GET {url.path} HTTP/1.1\r\n"
        f"User-Agent: mtcp-epwget\r\n"
        f"Host: {url.host}\r\n"
        f"Accept: */*\r\n"
        f"Connection: {conn}\r\n\r\n"
    ).encode("ascii")


@dataclass(frozen=True)
class ResponseHead:
    status: int
    #: ``None`` when the response has no ``Content-Length`` (the body ends at end of stream).
    content_length: int | None
    keep_alive: bool


def parse_response_head(head: bytes) -> ResponseHead:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {lines[0][:80]!r}")
    version, status = parts[0], int(parts[1])
    length: int | None = None
    connection: str | None = None
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        if key == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise HttpError(f"bad Content-Length {value[:20]!r}")
            length = int(value)
        elif key == "connection":
            connection = value.strip()
    return ResponseHead(status, length, _keep_alive(version, connection))


class ResponseParser:
    """Follows one response on a connection: the head, then ``Content-Length`` body bytes
    (or everything up to end of stream), keeping the body's CRC-32 and length."""

    __slots__ = ("_buf", "body_crc", "body_len", "head", "sink")

    def __init__(self, sink: bytearray | None = None) -> None:
        self._buf = bytearray()
        self.head: ResponseHead | None = None
        self.body_len = 0
        self.body_crc = 0
        #: If set, receives a copy of the body (for ``epwget -o``).
        self.sink = sink

    def _body(self, data: bytes | memoryview) -> None:
        self.body_len += len(data)
        self.body_crc = zlib.crc32(data, self.body_crc)
        if self.sink is not None:
            self.sink += data

    def feed(self, data: bytes) -> int:
        """Consumes ``data``; returns how many bytes of it belong to this response (the rest,
        if any, is the start of the next one, which the server should not have sent)."""
        used = 0
        if self.head is None:
            self._buf += data
            end = self._buf.find(_END_OF_HEAD)
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    raise HttpError("response head too large")
                return len(data)
            self.head = parse_response_head(bytes(self._buf[:end]))
            rest = memoryview(self._buf)[end + len(_END_OF_HEAD) :]
            used = len(data) - len(rest)
            taken = self._take(rest)
            rest.release()
            self._buf = bytearray()
            return used + taken
        return self._take(memoryview(data))

    def _take(self, data: memoryview) -> int:
        assert self.head is not None
        want = len(data)
        if self.head.content_length is not None:
            want = min(want, self.head.content_length - self.body_len)
        if want:
            self._body(data[:want])
        return want

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived (never, before EOF, without Content-Length)."""
        return (
            self.head is not None
            and self.head.content_length is not None
            and self.body_len >= self.head.content_length
        )

    def finish_at_eof(self) -> bool:
        """At end of stream: whether the response is complete (a body without
        ``Content-Length`` ends here)."""
        return self.complete or (self.head is not None and self.head.content_length is None)
