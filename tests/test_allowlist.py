# -*- test-case-name: tests.test_allowlist -*-
"""
Tests for L{sockservice.command.allowlist}: loading the file and resolving requests.
"""

from __future__ import annotations

import os
import sys

from twisted.trial.unittest import SkipTest, TestCase

from sockservice.command.allowlist import AllowList, AllowListError, Refused, loadAllowList
from tests.servicefakes import tempPath

SAMPLE = """
# comments are fine
[DEFAULT]
timeout = 7

[greet]
argv = echo hello "big world"

[py]
argv = {python} -c "print(1)"
max-output = 100

[ping]
argv = echo pong --
args = [a-z0-9][a-z0-9.-]{{0,62}}
max-args = 2
timeout = 2.5
"""


class LoadTests(TestCase):
    """
    Tests for L{loadAllowList}.
    """

    def write(self, text: str) -> str:
        path = tempPath(self)
        with open(path, "w") as f:
            f.write(text)
        return path

    def load(self, text: str) -> AllowList:
        return loadAllowList(self.write(text))

    def test_sample(self) -> None:
        """Each section is a command with a fixed argv, its program made absolute."""
        allow = self.load(SAMPLE.format(python=sys.executable))
        self.assertEqual(sorted(allow.commands), ["greet", "ping", "py"])
        greet = allow.commands["greet"]
        self.assertTrue(os.path.isabs(greet.argv[0]))
        self.assertEqual(greet.argv[1:], ("hello", "big world"))
        self.assertEqual((greet.timeout, greet.maxArgs, greet.argPattern), (7, 0, None))
        self.assertEqual(allow.commands["py"].maxOutput, 100)
        ping = allow.commands["ping"]
        self.assertEqual((ping.timeout, ping.maxArgs), (2.5, 2))

    def assertLoadError(self, text: str, message: str) -> None:
        with self.assertRaises(AllowListError) as e:
            self.load(text)
        self.assertIn(message, str(e.exception))

    def test_errors(self) -> None:
        """Malformed files are refused with a message naming the section and key."""
        self.assertLoadError("[a]\nargv = echo\nargz = x\n", "[a] unknown key(s): argz")
        self.assertLoadError("[a]\ntimeout = 1\n", "[a] argv is required")
        self.assertLoadError("[a]\nargv = 'echo\n", "[a] argv: No closing quotation")
        self.assertLoadError("[a]\nargv = no-such-program-x\n", "[a] program not found")
        self.assertLoadError("[a]\nargv = /\n", "[a] program not found")
        self.assertLoadError("[a]\nargv = echo\nargs = (\n", "[a] args:")
        self.assertLoadError("[a]\nargv = echo\ntimeout = -1\n", "[a] timeout must be")
        self.assertLoadError("[a]\nargv = echo\ntimeout = x\n", "[a] timeout must be")
        self.assertLoadError("[a b]\nargv = echo\n", "command names are")
        self.assertLoadError("argv = echo\n", "cannot read allow-list")

    def test_missingFile(self) -> None:
        """A missing file is an L{AllowListError}."""
        with self.assertRaises(AllowListError):
            loadAllowList(tempPath(self))


class ResolveTests(TestCase):
    """
    Tests for L{AllowList.resolve}.
    """

    def setUp(self) -> None:
        path = tempPath(self)
        with open(path, "w") as f:
            f.write(SAMPLE.format(python=sys.executable))
        self.allow = loadAllowList(path)

    def assertRefused(self, name: bytes, args: list, reason: str) -> None:
        with self.assertRaises(Refused) as e:
            self.allow.resolve(name, args)
        self.assertEqual(str(e.exception), reason)

    def test_allowed(self) -> None:
        """An allowed name gives its fixed argv."""
        command, argv = self.allow.resolve(b"greet", [])
        self.assertEqual(argv, command.argv)

    def test_unknown(self) -> None:
        """Names outside the list, shell syntax included, are refused."""
        for name in [
            b"rm",
            b"greet; rm -rf /",
            b"$(id)",
            b"`id`",
            b"greet|sh",
            b"GREET",
            b"greet ",
            b"../greet",
            b"\xff",
            b"",
            b"DEFAULT",
        ]:
            self.assertRefused(name, [], "unknown command")

    def test_noArguments(self) -> None:
        """A command without an C{args} pattern takes no arguments."""
        self.assertRefused(b"greet", [b"x"], "too many arguments")

    def test_pattern(self) -> None:
        """Each argument must match the pattern in full."""
        _, argv = self.allow.resolve(b"ping", [b"example.org", b"a1"])
        self.assertEqual(argv[-3:], ("--", "example.org", "a1"))
        for bad in [b"-rf", b"a;rm", b"a b", b"$(id)", b"a\x00", b"a\n", b"\xff", b""]:
            self.assertRaises(Refused, self.allow.resolve, b"ping", [bad])

    def test_maxArgs(self) -> None:
        """More arguments than C{max-args} are refused."""
        self.assertRefused(b"ping", [b"a", b"b", b"c"], "too many arguments")


class ExampleTests(TestCase):
    """
    The allow-list shipped in C{examples/}.
    """

    def test_exampleLoads(self) -> None:
        """examples/commands.ini is a valid allow-list (where its programs exist)."""
        import shutil

        from tests.support import EXAMPLES

        if not all(shutil.which(p) for p in ("uptime", "date", "df")):
            raise SkipTest("uptime, date or df is missing")
        allow = loadAllowList(str(EXAMPLES / "commands.ini"))
        self.assertEqual(sorted(allow.commands), ["date", "disk", "uptime"])
        self.assertEqual(allow.commands["uptime"].timeout, 5)
        self.assertRaises(Refused, allow.resolve, b"disk", [b"-x"])
