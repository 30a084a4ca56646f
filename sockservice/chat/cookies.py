# -*- test-case-name: tests.test_chat -*-
"""
Join cookies: how the chat relay learns that a source address is real
before it sends that address anything more than one small reply.

A cookie is an HMAC of the address and the current period of
C{lifetime} seconds, under a secret of the relay's: only someone who
receives at that address can echo it back, and it is valid for between
one and two periods.  As with DTLS and QUIC, the relay keeps no state for
an address until its cookie comes back.
"""

from __future__ import annotations

import hmac
import os
from hashlib import sha256
from typing import Callable, Optional, Tuple

__all__ = ["JoinCookies"]


class JoinCookies:
    """
    Make and check join cookies.
    """

    def __init__(
        self,
        seconds: Callable[[], float],
        secret: Optional[bytes] = None,
        lifetime: float = 30.0,
    ) -> None:
        """
        @param seconds: The clock.
        @param secret: The key; random by default.
        @param lifetime: A cookie is valid for between one and two of these
            periods.
        """
        self.seconds = seconds
        self.lifetime = lifetime
        self._secret = secret if secret is not None else os.urandom(32)

    def make(self, addr: Tuple[str, int], age: int = 0) -> str:
        """
        @param addr: The address the cookie is for.
        @param age: 0 for the current period, 1 for the previous one.
        @return: The join cookie for C{addr}: 16 hex digits.
        """
        period = int(self.seconds() // self.lifetime) - age
        message = f"{period} {addr[0]} {addr[1]}".encode()
        return hmac.new(self._secret, message, sha256).hexdigest()[:16]

    def valid(self, addr: Tuple[str, int], cookie: str) -> bool:
        """
        @return: Whether C{cookie} is C{addr}'s, of this period or the last
            (compared in constant time).
        """
        given = cookie.encode()
        return any(hmac.compare_digest(given, self.make(addr, age).encode()) for age in (0, 1))
