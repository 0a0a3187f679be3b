"""Fast sequential reads of a GGUF header through a chunked buffer."""

from __future__ import annotations

import struct
from typing import Any, BinaryIO, Final

CHUNK_BYTES: Final = 1 << 20
_U64: Final = struct.Struct("<Q")


class TruncatedReadError(Exception):
    """The file ended before a structure it declares."""


class BadStringLengthError(Exception):
    """A string inside a string array claims more bytes than the file has left."""

    def __init__(self, index: int, length: int, at: int) -> None:
        super().__init__(index, length, at)
        self.index, self.length, self.at = index, length, at


class ByteStream:
    """Sequential reads over a file object through a chunked buffer.

    Parsing with ``struct.unpack_from`` on a buffer is several times faster
    than one ``read`` call per field, which matters for 150k-token vocabularies.
    """

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self.size = size
        self._buf = b""
        self._base = 0  # file offset of _buf[0]
        self._pos = 0  # read position inside _buf

    @property
    def offset(self) -> int:
        """Absolute file offset of the next byte to read."""
        return self._base + self._pos

    @property
    def remaining(self) -> int:
        """Bytes between the read position and the end of the file."""
        return self.size - self._base - self._pos

    def _fill(self, n: int) -> None:
        tail = self._buf[self._pos :]
        self._base += self._pos
        self._buf = tail + self._f.read(max(CHUNK_BYTES, n - len(tail)))
        self._pos = 0
        if len(self._buf) < n:
            raise TruncatedReadError

    def unpack(self, fmt: struct.Struct) -> tuple[Any, ...]:
        """Read and unpack one struct."""
        if self._pos + fmt.size > len(self._buf):
            self._fill(fmt.size)
        values = fmt.unpack_from(self._buf, self._pos)
        self._pos += fmt.size
        return values

    def read(self, n: int) -> bytes:
        """Read ``n`` bytes."""
        if self._pos + n > len(self._buf):
            self._fill(n)
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    def skip(self, n: int) -> None:
        """Move ``n`` bytes ahead without reading them."""
        if self._pos + n <= len(self._buf):
            self._pos += n
            return
        target = self.offset + n
        if target > self.size:
            raise TruncatedReadError
        self._f.seek(target)
        self._buf, self._base, self._pos = b"", target, 0

    def skip_strings(self, count: int) -> None:
        """Skip ``count`` length-prefixed strings; the hot loop of a header read."""
        unpack = _U64.unpack_from
        buf, pos = self._buf, self._pos
        for index in range(count):
            if pos + 8 > len(buf):
                self._pos = pos
                self._fill(8)
                buf, pos = self._buf, self._pos
            (n,) = unpack(buf, pos)
            pos += 8 + n
            if pos > len(buf):  # the string leaves the buffer: seek past it
                self._pos = pos - n
                if n > self.remaining:
                    raise BadStringLengthError(index, n, self.offset - 8)
                self.skip(n)
                buf, pos = self._buf, self._pos
        self._pos = pos
