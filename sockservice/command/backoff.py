# -*- test-case-name: tests.test_commandauth -*-
"""
Slow down repeated failed C{auth} from one address: pure bookkeeping, the
time passed in by the caller.

Each failure from an address doubles the wait before its next
C{refused unauthorized} reply (from L{FIRST_DELAY} up to L{MAX_DELAY}); an
address that has not failed for L{FORGET_AFTER} seconds starts again.  The
table keeps at most C{maxHosts} addresses, forgetting the one that failed
longest ago.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["AuthBackoff", "FIRST_DELAY", "FORGET_AFTER", "MAX_DELAY"]

FIRST_DELAY = 0.5
"""Seconds before the reply to an address's first failed C{auth}."""

MAX_DELAY = 30.0
"""The longest wait before a reply, in seconds."""

FORGET_AFTER = 600.0
"""Seconds without a failure after which an address starts again."""


class AuthBackoff:
    """
    How long to wait before answering a failed C{auth}, per address.
    """

    def __init__(self, maxHosts: int = 4096) -> None:
        self.maxHosts = maxHosts
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def failed(self, host: str, now: float) -> float:
        """
        Record a failed C{auth} from C{host} at time C{now}.

        @return: the seconds to wait before replying.
        """
        count, last = self._failures.pop(host, (0, now))
        if now - last > FORGET_AFTER:
            count = 0
        count += 1
        self._failures[host] = (count, now)
        if len(self._failures) > self.maxHosts:
            self._failures.popitem(last=False)
        return float(min(MAX_DELAY, FIRST_DELAY * 2 ** (count - 1)))
