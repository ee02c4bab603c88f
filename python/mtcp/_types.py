"""Type aliases shared by the package (typing only)."""

from __future__ import annotations

from typing import Protocol, Union

__all__ = ["Address", "BytesLike", "SupportsFileno", "WritableBuffer"]

#: ``(host, port)``: a dotted-quad IPv4 address (``""`` = any) and a port.
Address = tuple[str, int]
#: Anything exposing the buffer protocol: bytes, bytearray, memoryview, array, mmap, …
BytesLike = Union[bytes, bytearray, memoryview]
#: A buffer ``readv``/``recv_into`` can write into.
WritableBuffer = Union[bytearray, memoryview]


class SupportsFileno(Protocol):
    def fileno(self) -> int: ...
