# -*- test-case-name: tests.test_command -*-
"""
Fields as consecutive netstrings: the payload of the command service's
frames (see L{sockservice.command.protocol}).

A netstring is C{LENGTH:bytes,} (U{https://cr.yp.to/proto/netstrings.txt});
a list of byte strings is sent as their netstrings one after another, and
parsed back strictly: anything else is an error, never a guess.
"""

from __future__ import annotations

from typing import List, Sequence

__all__ = ["decodeFields", "encodeFields"]


def encodeFields(fields: Sequence[bytes]) -> bytes:
    """
    @return: C{fields} as consecutive netstrings.
    """
    return b"".join(b"%d:%s," % (len(f), f) for f in fields)


def decodeFields(data: bytes) -> List[bytes]:
    """
    @return: The fields of consecutive netstrings.
    @raise ValueError: If C{data} is not exactly a sequence of netstrings.
    """
    fields = []
    while data:
        head, colon, rest = data.partition(b":")
        if not colon or not head.isdigit() or len(head) > 9 or head != b"%d" % int(head):
            raise ValueError("bad netstring length")
        size = int(head)
        if rest[size : size + 1] != b",":
            raise ValueError("bad netstring end")
        fields.append(rest[:size])
        data = rest[size + 1 :]
    return fields
