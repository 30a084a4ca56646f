# -*- test-case-name: tests.test_tapservices -*-
"""
The command service's shared secret, read from a file: one reader for the
server's C{--command-token-file} and the client's C{--token-file}.
"""

from __future__ import annotations

from twisted.python.usage import UsageError

__all__ = ["MIN_TOKEN_LENGTH", "readToken"]

MIN_TOKEN_LENGTH = 16
"""The shortest token the server accepts, in bytes."""


def readToken(filename: str, option: str, minLength: int = 0) -> bytes:
    """
    Read a token: the file's first 4 KiB, without surrounding white space.

    @param option: the option that named the file, for error messages.
    @param minLength: the shortest token accepted.
    @raise UsageError: when the file cannot be read or the token is short.
    """
    try:
        with open(filename, "rb") as f:
            token = f.read(4096).strip()
    except OSError as e:
        raise UsageError(f"{option}: cannot read {filename}: {e.strerror}") from None
    if len(token) < minLength:
        raise UsageError(f"{option}: the token must be at least {minLength} bytes")
    return token
