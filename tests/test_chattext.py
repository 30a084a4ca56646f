# -*- test-case-name: tests.test_chattext -*-
"""
Tests for L{sockservice.chat.text}: the one rule for chat text.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from sockservice.chat.text import hasControl, isControl, replaceControl


class ControlTests(SynchronousTestCase):
    """
    Control characters are refused by one predicate.
    """

    def test_controlCharacters(self) -> None:
        """In the Basic Multilingual Plane, exactly C0, DEL and C1 are control characters."""
        found = {code for code in range(0x10000) if isControl(chr(code))}
        self.assertEqual(found, set(range(0x20)) | set(range(0x7F, 0xA0)))

    def test_text(self) -> None:
        """Text with one control character has one; it is replaced, nothing else is."""
        self.assertFalse(hasControl("héllo, 世界 !"))
        self.assertTrue(hasControl("red \x1b[31m"))
        self.assertEqual(replaceControl("a\x1b[2J\x85b"), "a\ufffd[2J\ufffdb")
