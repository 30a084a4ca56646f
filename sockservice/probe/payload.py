# -*- test-case-name: tests.test_probepayload -*-
"""
The probe's requests: letters only, so that upper-casing keeps them
readable, and every reply can be checked byte for byte.

A request of C{size} bytes is a header of L{HEADER} lowercase letters, the
sequence number (12 hexadecimal digits) and the send time in monotonic
nanoseconds (16 hexadecimal digits), each digit written as a letter from
C{a} (0) to C{p} (15), then padding: the byte at offset C{k} is the
C{k % 26}th lowercase letter.  The expected reply is the request
upper-cased (L{expectedReply}); L{firstDifference} says where a reply
departs from it.  Pure: no Twisted, no I/O.
"""

from __future__ import annotations

import string
from typing import Dict, Optional, Tuple

__all__ = [
    "HEADER",
    "MAX_SEQUENCE",
    "decodeHeader",
    "encode",
    "encodeHeader",
    "expectedReply",
    "firstDifference",
    "padding",
]

HEADER = 28
"""The header's length: the smallest request."""

MAX_SEQUENCE = 16**12 - 1
"""The largest sequence number the header holds."""

_TO_LETTERS = bytes.maketrans(b"0123456789abcdef", b"abcdefghijklmnop")
_FROM_LETTERS = bytes.maketrans(b"ABCDEFGHIJKLMNOP", b"0123456789abcdef")
_INVALID = bytes(i for i in range(256) if not 0x41 <= i <= 0x50)
_ALPHABET = string.ascii_lowercase.encode("ascii")
_paddings: Dict[int, bytes] = {}


def padding(size: int) -> bytes:
    """
    The padding of a request of C{size} bytes: the bytes after the header.
    """
    found = _paddings.get(size)
    if found is None:
        found = (_ALPHABET * (size // 26 + 1))[HEADER:size]
        if len(_paddings) < 64:
            _paddings[size] = found
    return found


def encodeHeader(sequence: int, sentNs: int) -> bytes:
    """
    The header of the request numbered C{sequence}, sent at C{sentNs}: the
    part of a request that changes (the padding, L{padding}, does not).

    @param sequence: From 0 to L{MAX_SEQUENCE}.
    @param sentNs: The send time, monotonic nanoseconds (0 to 2**64 - 1).
    """
    header = f"{sequence:012x}{sentNs & 0xFFFFFFFFFFFFFFFF:016x}".encode("ascii")
    return header.translate(_TO_LETTERS)


def encode(sequence: int, sentNs: int, size: int) -> bytes:
    """
    The request numbered C{sequence}, sent at C{sentNs}, of C{size} bytes.

    @param sequence: From 0 to L{MAX_SEQUENCE}.
    @param sentNs: The send time, monotonic nanoseconds (0 to 2**64 - 1).
    @param size: At least L{HEADER}.
    """
    return encodeHeader(sequence, sentNs) + padding(size)


def expectedReply(sequence: int, sentNs: int, size: int) -> bytes:
    """
    What the service must answer to L{encode}C{(sequence, sentNs, size)}.
    """
    return encode(sequence, sentNs, size).upper()


def decodeHeader(reply: bytes) -> Optional[Tuple[int, int]]:
    """
    The sequence number and send time that a reply's header carries, or
    C{None} if the reply does not start with a valid upper-cased header.
    """
    header = reply[:HEADER]
    if len(header) < HEADER or header.translate(None, _INVALID) != header:
        return None
    digits = header.translate(_FROM_LETTERS)
    return int(digits[:12], 16), int(digits[12:], 16)


def firstDifference(expected: bytes, actual: bytes) -> Optional[int]:
    """
    The first offset where C{actual} differs from C{expected} (the shorter
    one's length if one is a prefix of the other), or C{None} if equal.
    """
    if expected == actual:
        return None
    for offset, (one, other) in enumerate(zip(expected, actual)):
        if one != other:
            return offset
    return min(len(expected), len(actual))
