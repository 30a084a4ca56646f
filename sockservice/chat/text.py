# -*- test-case-name: tests.test_chattext -*-
"""
What chat message text may hold, for the relay and the client alike: at most
L{MAX_TEXT} bytes of UTF-8, and no character that L{isControl} forbids:
control characters, invisible format characters (bidirectional overrides
included) and line or paragraph separators.

The relay refuses such text; the client refuses to send it, and replaces
such characters in what it shows, so that nothing a member types can move a
terminal's cursor or rewrite its screen.  The rule is the one predicate
L{isControl}: widen it there and both sides follow.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

__all__ = [
    "MAX_DATAGRAM",
    "MAX_TEXT",
    "NAME_PATTERN",
    "hasControl",
    "isControl",
    "isValidName",
    "refusal",
    "replaceControl",
    "stripLineEnd",
]

MAX_TEXT = 512
"""Longest message text, in bytes."""

_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
"""
The Unicode general categories refused: C{Cc} is C0 (U+0000-U+001F), DEL and
C1 (U+007F-U+009F); C{Cf} the invisible format characters, among them the
bidirectional overrides (U+202A-U+202E, U+2066-U+2069) that make text read
differently from what was sent, and zero-width ones; C{Zl} and C{Zp} the
line and paragraph separators (U+2028, U+2029).
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


NAME_PATTERN = re.compile(r"[\w.-]{1,24}")
"""Names: 1 to 24 letters, digits, C{_}, C{.} or C{-} (any script)."""

MAX_DATAGRAM = 1024
"""Longest datagram handled, in bytes; longer ones are refused."""


def isValidName(name: str) -> bool:
    """
    @return: Whether C{name} is a valid member name (L{NAME_PATTERN}).
    """
    return NAME_PATTERN.fullmatch(name) is not None


def stripLineEnd(text: str) -> str:
    """
    @return: C{text} without one trailing LF or CRLF.
    """
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


def refusal(text: str) -> Optional[str]:
    """
    @return: Why message C{text} may not be relayed (empty, over-long, or
        holding a character L{isControl} forbids), or L{None}.
    """
    if not text.strip():
        return "empty message"
    if len(text.encode()) > MAX_TEXT:
        return f"message longer than {MAX_TEXT} bytes"
    if hasControl(text):
        return "control characters in message"
    return None
