# -*- test-case-name: tests.test_chattext -*-
"""
What chat message text may hold, for the relay and the client alike: at most
L{MAX_TEXT} bytes of UTF-8, and no character that L{isControl} forbids.

The relay refuses such text; the client refuses to send it, and replaces
such characters in what it shows, so that nothing a member types can move a
terminal's cursor or rewrite its screen.  The rule is the one predicate
L{isControl}: widen it there and both sides follow.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_TEXT", "hasControl", "isControl", "replaceControl"]

MAX_TEXT = 512
"""Longest message text, in bytes."""

_CONTROL_CATEGORIES = frozenset({"Cc"})
"""
The Unicode general categories refused: C{Cc} is C0 (U+0000-U+001F), DEL and
C1 (U+007F-U+009F).
"""


def isControl(char: str) -> bool:
    """
    @param char: One character.
    @return: Whether C{char} may not appear in chat text.
    """
    return unicodedata.category(char) in _CONTROL_CATEGORIES


def hasControl(text: str) -> bool:
    """
    @return: Whether C{text} holds a character that L{isControl} forbids.
    """
    return any(map(isControl, text))


def replaceControl(text: str) -> str:
    """
    @return: C{text} with each character that L{isControl} forbids replaced
        by U+FFFD REPLACEMENT CHARACTER.
    """
    return "".join("\N{REPLACEMENT CHARACTER}" if isControl(c) else c for c in text)
