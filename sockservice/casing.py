# -*- test-case-name: tests.test_casing -*-
"""
The upper-casing transform: pure, no Twisted, no I/O.

Two modes:

  - C{"unicode"} (the default): bytes are decoded as UTF-8 with
    C{errors="surrogateescape"}, upper-cased with C{str.upper}, and encoded the
    same way.  Valid UTF-8 is upper-cased the Unicode way (C{"straße"} becomes
    C{"STRASSE"}), bytes that are not valid UTF-8 come back unchanged, and
    ASCII letters are always upper-cased.  The reply may be longer than the
    request (at most three times as long).
  - C{"ascii"}: exactly C{bytes.upper}: only C{a-z} change and the reply has
    the same length as the request.

On a stream, L{Uppercaser} gives the same bytes however the input is split:
an incomplete trailing UTF-8 sequence is held back until the next chunk or
L{Uppercaser.flush}.
"""

from __future__ import annotations

import codecs
import platform
import re
from typing import Callable, Optional

__all__ = ["MODES", "Uppercaser", "checkMode", "transform", "maxExpansion"]

MODES = ("unicode", "ascii")


def checkMode(mode: str) -> str:
    """
    @return: C{mode}, one of L{MODES}.
    @raise ValueError: for any other.
    """
    if mode not in MODES:
        raise ValueError(f"unknown case mode {mode!r}")
    return mode


#: The largest factor by which a transform can grow its input (U+0390, two
#: bytes, upper-cases to three code points taking six bytes).
maxExpansion = 3


#: The characters that C{surrogateescape} decodes undecodable bytes to.
_ESCAPES = re.compile("([\udc80-\udcff]+)")
_UNESCAPE = {0xDC00 + b: b for b in range(0x80, 0x100)}


def _encodeRuns(text: str) -> bytes:
    """
    C{text.encode("utf-8", "surrogateescape")} in time linear in the escapes.

    PyPy's error handler takes time quadratic in the number of escaped bytes
    (64 KiB of C{0xff} took 45 s of CPU), so that one read of bytes that are
    not UTF-8 could stall the reactor: there, each run of escapes is
    encoded at once instead.
    """
    parts = _ESCAPES.split(text)
    if len(parts) == 1:
        return text.encode("utf-8")
    return b"".join(
        part.translate(_UNESCAPE).encode("latin-1") if i % 2 else part.encode("utf-8")
        for i, part in enumerate(parts)
    )


def _encodeEscaped(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_encode: Callable[[str], bytes] = (
    _encodeRuns if platform.python_implementation() == "PyPy" else _encodeEscaped
)


def _upperUnicode(data: bytes) -> bytes:
    if data.isascii():
        return data.upper()
    return _encode(data.decode("utf-8", "surrogateescape").upper())


def transform(data: bytes, mode: str = "unicode") -> bytes:
    """
    Upper-case one whole message (a datagram, or a stream's entire content).

    @param data: the bytes received.
    @param mode: one of L{MODES}.
    @return: the upper-cased bytes.
    @raise ValueError: for a mode not in L{MODES}.
    """
    if checkMode(mode) == "ascii":
        return data.upper()
    return _upperUnicode(data)


class Uppercaser:
    """
    Incremental form of L{transform} for byte streams.

    C{transform(whole, mode) == b"".join(u.feed(c) for c in chunks) + u.flush()}
    for every way of splitting C{whole} into C{chunks}.
    """

    def __init__(self, mode: str = "unicode") -> None:
        checkMode(mode)
        # True while the decoder holds back the start of a UTF-8 sequence.
        self._pending = False
        # Made on the first non-ASCII chunk: most streams never need one.
        self._decoder: Optional[codecs.IncrementalDecoder] = None
        if mode == "ascii":
            # Not a bound method of self, which would make a reference cycle:
            # each connection's caser left for the garbage collector.
            self.feed = bytes.upper  # type: ignore[method-assign,assignment]

    def feed(self, data: bytes) -> bytes:
        """
        Upper-case the next chunk, holding back an incomplete trailing sequence.
        """
        if not self._pending and data.isascii():
            return data.upper()
        if self._decoder is None:
            self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        text = self._decoder.decode(data)
        self._pending = bool(self._decoder.getstate()[0])
        return _encode(text.upper())

    def flush(self) -> bytes:
        """
        End of stream: return whatever is still held back (as raw bytes, since
        an incomplete sequence is not valid UTF-8).
        """
        if not self._pending:
            return b""
        self._pending = False
        assert self._decoder is not None
        text = self._decoder.decode(b"", final=True)
        return _encode(text.upper())
