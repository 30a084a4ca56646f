# -*- test-case-name: tests.test_selftest -*-
"""
How the self-tests of L{sockservice._fast} report a Twisted internal that
changed.
"""

from __future__ import annotations

__all__ = ["InternalsChanged", "require"]


class InternalsChanged(Exception):
    """
    A Twisted internal that a speed trick relies on is missing or misbehaves.
    """


def require(condition: object, what: str) -> None:
    """
    @raise InternalsChanged: naming C{what}, unless C{condition} holds.
    """
    if not condition:
        raise InternalsChanged(what)
