# -*- test-case-name: tests.test_chattext -*-
"""
Tests for L{sockservice.chat.text}: the one rule for chat text.
"""

from __future__ import annotations

import unicodedata

from twisted.trial.unittest import SynchronousTestCase

from sockservice.chat.text import hasControl, isControl, replaceControl


class ControlTests(SynchronousTestCase):
    """
    Control characters are refused by one predicate.
    """

    def test_controlCharacters(self) -> None:
        """
        In the Basic Multilingual Plane, exactly C0, DEL, C1, the format
        characters (Cf) and the line and paragraph separators are refused.
        """
        found = {code for code in range(0x10000) if isControl(chr(code))}
        expected = set(range(0x20)) | set(range(0x7F, 0xA0)) | {0x2028, 0x2029}
        expected |= {c for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf"}
        self.assertEqual(found, expected)
        for code in (0x202A, 0x202E, 0x2066, 0x2069, 0x200B, 0x200D, 0xFEFF, 0xAD):
            self.assertTrue(isControl(chr(code)), hex(code))

    def test_text(self) -> None:
        """Text with one control character has one; it is replaced, nothing else is."""
        self.assertFalse(hasControl("héllo, 世界 !"))
        self.assertTrue(hasControl("red \x1b[31m"))
        self.assertEqual(replaceControl("a\x1b[2J\x85b"), "a\ufffd[2J\ufffdb")
