# -*- test-case-name: tests.test_servicecommands -*-
"""
Tests for the options of the C{time}, C{chat} and C{command} subcommands.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.cli.services import ChatOptions, CommandOptions, TimeOptions, runChat
from sockservice.client.errors import ClientError
from tests.servicefakes import FakeDatagramTransport, tempPath


class OptionsTests(TestCase):
    """
    Parsing of the subcommands' command lines.
    """

    def test_timeDefaults(self) -> None:
        """time: words are joined into one format; the defaults name the local time service."""
        options = TimeOptions()
        options.parseOptions(["%H:%M", "on", "%A"])
        self.assertEqual(options["format"], "%H:%M on %A")
        self.assertEqual(
            (options["host"], options["port"], options["tcp"]), ("127.0.0.1", 12013, 0)
        )
        self.assertEqual((options["timeout"], options["retries"]), (2.0, 2))

    def test_timeEmptyFormat(self) -> None:
        """time: no words means an empty request (the server's default format)."""
        options = TimeOptions()
        options.parseOptions(["--tcp", "-p", "9000"])
        self.assertEqual((options["format"], options["port"], options["tcp"]), ("", 9000, 1))

    def test_chatNeedsName(self) -> None:
        """chat: --name is required."""
        self.assertRaises(UsageError, ChatOptions().parseOptions, [])
        options = ChatOptions()
        options.parseOptions(["-n", "alice"])
        self.assertEqual((options["name"], options["port"]), ("alice", 12014))

    def test_command(self) -> None:
        """command: a name and arguments; a token is read from its file, stripped."""
        path = tempPath(self)
        with open(path, "wb") as f:
            f.write(b"secret-secret-secret\n")
        os.chmod(path, 0o600)
        options = CommandOptions()
        options.parseOptions(["--token-file", path, "disk", "/", "/tmp"])
        self.assertEqual((options["name"], options["args"]), ("disk", ("/", "/tmp")))
        self.assertEqual((options["token"], options["port"]), (b"secret-secret-secret", 12015))

    def test_commandErrors(self) -> None:
        """command: a missing name or an unreadable token file is a usage error."""
        self.assertRaises(UsageError, CommandOptions().parseOptions, [])
        missing = os.path.join(tempPath(self), "nope")
        self.assertRaises(UsageError, CommandOptions().parseOptions, ["--token-file", missing, "x"])

    def test_nulInTokenFile(self) -> None:
        """command: a token file name with a NUL byte is a usage error naming the option."""
        e = self.assertRaises(
            UsageError, CommandOptions().parseOptions, ["--token-file", "a\x00b", "x"]
        )
        self.assertEqual(str(e), "--token-file: not a file name: 'a\\x00b'")

    def test_looseTokenFile(self) -> None:
        """command: a token file its group or others may read is refused, as by the server."""
        path = tempPath(self)
        with open(path, "wb") as f:
            f.write(b"secret-secret-secret\n")
        os.chmod(path, 0o644)
        error = self.assertRaises(
            UsageError, CommandOptions().parseOptions, ["--token-file", path, "x"]
        )
        self.assertIn("accessible by group or others (mode 0644): chmod 600 it", str(error))

    def test_badNumbers(self) -> None:
        """A bad port or timeout is a usage error."""
        for argv in (["-p", "0"], ["-p", "70000"], ["-p", "x"], ["-t", "0"], ["-t", "x"]):
            self.assertRaises(UsageError, TimeOptions().parseOptions, argv)
        self.assertRaises(UsageError, TimeOptions().parseOptions, ["-r", "x"])

    def test_badNumberWords(self) -> None:
        """A bad number is refused in the same words as by the tcp and udp subcommands."""
        cases = [
            (["-p", "0"], "--port must be a number from 1 to 65535, not '0'"),
            (["-t", "inf"], "--timeout must be a positive number, not 'inf'"),
            (["-r", "-1"], "--retries must be a number from 0 to 1000, not '-1'"),
        ]
        for argv, message in cases:
            error = self.assertRaises(UsageError, TimeOptions().parseOptions, argv)
            self.assertEqual(str(error), message)
        error = self.assertRaises(UsageError, CommandOptions().parseOptions, ["-t", "nan", "x"])
        self.assertEqual(str(error), "--timeout must be a positive number, not 'nan'")


class RefusingReactor(Clock):
    """
    Binds a datagram protocol to a fake transport, then says that nothing
    listens where it sent.
    """

    def listenUDP(self, port: int, protocol: Any, **kwargs: Any) -> Any:
        protocol.makeConnection(FakeDatagramTransport())
        self.callLater(0, protocol.connectionRefused)
        listening = FakeDatagramTransport()
        # A real port that is not connected any more returns None.
        listening.stopListening = lambda: None  # type: ignore[attr-defined]
        return listening


class ChatFailureTests(TestCase):
    """
    How the C{chat} subcommand reports a failure.
    """

    def test_refused(self) -> None:
        """A refused chat reads like any refused connection."""
        reactor = RefusingReactor()
        options = ChatOptions()
        options.parseOptions(["-n", "alice", "-p", "9"])
        running = Deferred.fromCoroutine(runChat(reactor, options, None))
        reactor.advance(0)
        failure = self.failureResultOf(running, ClientError)
        self.assertEqual(str(failure.value), "connection refused by 127.0.0.1:9")
