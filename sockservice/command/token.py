# -*- test-case-name: tests.test_fragments -*-
"""
The command service's shared secret, read from a file: one reader for the
server's C{--command-token-file} and the client's C{--token-file}.
"""

from __future__ import annotations

import os
import stat

from twisted.python.usage import UsageError

__all__ = ["MIN_TOKEN_LENGTH", "readToken"]

MIN_TOKEN_LENGTH = 16
"""The shortest token the server accepts, in bytes."""


def readToken(filename: str, option: str, minLength: int = 0) -> bytes:
    """
    Read a token: the file's first 4 KiB, without surrounding white space.

    Like ssh with a private key, a file that its group or others may read
    is refused: the secret would not be one.

    @param option: the option that named the file, for error messages.
    @param minLength: the shortest token accepted.
    @raise UsageError: when the file cannot be read, is readable by others,
        or the token is short.
    """
    try:
        with open(filename, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise UsageError(
                    f"{option}: {filename} is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}): chmod 600 it"
                )
            token = f.read(4096).strip()
    except OSError as e:
        raise UsageError(f"{option}: cannot read {filename}: {e.strerror}") from None
    if len(token) < minLength:
        raise UsageError(f"{option}: the token must be at least {minLength} bytes")
    return token
