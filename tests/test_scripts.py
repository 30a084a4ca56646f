# -*- test-case-name: tests.test_scripts -*-
"""
Tests for L{sockservice.cli.main} and L{sockservice.cli.uppercase}: options,
modes and exit statuses, in process, over fake reactors.
"""

from __future__ import annotations

import io
import sys
from typing import List

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.test.iosim import ConnectionCompleter
from twisted.trial.unittest import SynchronousTestCase

from sockservice.cli import main as scripts
from sockservice.cli.console import Console
from sockservice.cli.stdin import LinePump
from sockservice.cli.uppercase import PROMPT, TCPOptions, UDPOptions
from sockservice.uppercase.tcp import UppercaseFactory
from tests.servicefakes import FakeUDPReactor


class _Console(Console):
    """
    A console over in-memory files; protocols attached to it are kept.
    """

    def __init__(self, interactive: bool = False) -> None:
        self.attached: List[LinePump] = []
        super().__init__(io.BytesIO(), io.StringIO(), interactive, self.attached.append)


def _run(reactor, *argv: str, console: _Console = None):
    console = console or _Console()
    return Deferred.fromCoroutine(scripts.run(reactor, argv, console)), console


class OptionsTests(SynchronousTestCase):
    """
    The command line: a table of subcommands, each with its own options.
    """

    def test_subcommandsFromTable(self):
        """
        The subcommands offered are exactly the rows of L{scripts.SUBCOMMANDS}.
        """
        self.assertEqual(
            [name for name, _, _, _ in scripts.Options.subCommands],
            [s.name for s in scripts.SUBCOMMANDS],
        )
        self.assertEqual(
            [s.name for s in scripts.SUBCOMMANDS],
            ["tcp", "udp", "time", "chat", "command", "probe"],
        )

    def test_defaults(self):
        """
        Both reach 127.0.0.1 port 12000; TCP waits 10 s and does not retry,
        UDP waits 1 s per try and sends again twice.
        """
        tcp, udp = TCPOptions(), UDPOptions()
        tcp.parseOptions([])
        udp.parseOptions([])
        self.assertEqual(
            (tcp["host"], tcp["port"], tcp["timeout"], tcp["retries"], tcp["message"]),
            ("127.0.0.1", 12000, 10.0, 0, ()),
        )
        self.assertEqual((udp["timeout"], udp["retries"]), (1.0, 2))

    def test_values(self):
        """
        Every option can be given; the remaining words are the message.
        """
        options = UDPOptions()
        options.parseOptions(
            [
                "--host",
                "::1",
                "-p",
                "9",
                "--timeout",
                "0.5",
                "-r",
                "0",
                "hello",
                "world",
            ]
        )
        self.assertEqual(
            (options["host"], options["port"], options["timeout"], options["retries"]),
            ("::1", 9, 0.5, 0),
        )
        self.assertEqual(options["message"], ("hello", "world"))

    def test_badValues(self):
        """
        Bad numbers are usage errors with exact messages.
        """
        cases = [
            (["--port", "0"], "--port must be a number from 1 to 65535, not '0'"),
            (["--port", "http"], "--port must be a number from 1 to 65535, not 'http'"),
            (["--timeout", "-1"], "--timeout must be a positive number, not '-1'"),
            (["--timeout", "nan"], "--timeout must be a positive number, not 'nan'"),
            (["--timeout", "inf"], "--timeout must be a positive number, not 'inf'"),
            (["--retries", "1001"], "--retries must be a number from 0 to 1000, not '1001'"),
            (["--retries", "x"], "--retries must be a number from 0 to 1000, not 'x'"),
        ]
        for argv, message in cases:
            error = self.assertRaises(usage.UsageError, UDPOptions().parseOptions, argv)
            self.assertEqual(str(error), message)

    def test_newlineInTCPMessage(self):
        """
        A TCP message cannot contain a newline: it would be two requests.
        """
        self.assertRaises(usage.UsageError, TCPOptions().parseOptions, ["a\nb"])


class UsageTests(SynchronousTestCase):
    """
    Usage errors exit 2 with the usage text; help exits 0.
    """

    def test_noSubcommand(self):
        """
        Without a subcommand: status 2, the usage, and what is missing.
        """
        result, console = _run(MemoryReactorClock())
        self.assertEqual(self.successResultOf(result), 2)
        error = console.stderr.getvalue()
        self.assertTrue(
            error.startswith("Usage: sockservice-client tcp|udp|time|chat|command|probe ")
        )
        self.assertTrue(
            error.endswith(
                "sockservice-client: name a subcommand: tcp, udp, time, chat, command, probe\n"
            )
        )

    def test_unknownSubcommand(self):
        """
        An unknown subcommand is a usage error.
        """
        result, console = _run(MemoryReactorClock(), "sctp", "hi")
        self.assertEqual(self.successResultOf(result), 2)
        self.assertIn("sctp", console.stderr.getvalue())

    def test_subcommandUsage(self):
        """
        A bad option of a subcommand shows that subcommand's usage.
        """
        result, console = _run(MemoryReactorClock(), "udp", "--port", "99999")
        self.assertEqual(self.successResultOf(result), 2)
        error = console.stderr.getvalue()
        self.assertTrue(error.startswith("Usage: sockservice-client udp [options] [MESSAGE ...]"))
        self.assertIn("--retries", error)
        self.assertTrue(
            error.endswith(
                "sockservice-client: --port must be a number from 1 to 65535, not '99999'\n"
            )
        )

    def test_help(self):
        """
        C{--help} prints the usage on standard output and exits 0.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        result, console = _run(MemoryReactorClock(), "tcp", "--help")
        self.assertEqual(self.successResultOf(result), 0)
        self.assertIn("Usage: sockservice-client tcp", out.getvalue())
        self.assertEqual(console.stderr.getvalue(), "")

    def test_version(self):
        """
        C{--version} prints this program's version.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        result, _ = _run(MemoryReactorClock(), "--version")
        self.assertEqual(self.successResultOf(result), 0)
        self.assertTrue(out.getvalue().startswith("sockservice-client "))


def _tcpServer():
    reactor = MemoryReactorClock()
    reactor.listenTCP(12000, UppercaseFactory(reactor=reactor))
    return reactor, ConnectionCompleter(reactor)


class ModeTests(SynchronousTestCase):
    """
    One-shot, piped and interactive modes, and their exit statuses.
    """

    def test_oneShot(self):
        """
        MESSAGE words are sent joined by spaces; the reply is printed; 0.
        """
        reactor, completer = _tcpServer()
        result, console = _run(reactor, "tcp", "hello", "big", "world")
        completer.succeedOnce(greet=False).flush()
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(console.stdout.getvalue(), b"HELLO BIG WORLD\n")
        self.assertEqual(console.stderr.getvalue(), "")

    def test_refused(self):
        """
        A refused connection: status 1 and exactly one line on standard error.
        """
        reactor, completer = _tcpServer()
        result, console = _run(reactor, "tcp", "hello")
        completer.failOnce(Failure(ConnectionRefusedError()))
        reactor.advance(1)
        self.assertEqual(self.successResultOf(result), 1)
        self.assertEqual(
            console.stderr.getvalue(),
            "sockservice-client: connection refused by 127.0.0.1:12000\n",
        )
        self.assertEqual(console.stdout.getvalue(), b"")

    def test_udpNoReply(self):
        """
        A silent UDP server: status 1 and one line after the last try.
        """
        reactor = FakeUDPReactor()
        result, console = _run(reactor, "udp", "hello")
        for _ in range(3):
            reactor.advance(1.0)
        self.assertEqual(self.successResultOf(result), 1)
        self.assertEqual(
            console.stderr.getvalue(),
            "sockservice-client: no reply from 127.0.0.1:12000 after 3 tries\n",
        )

    def test_piped(self):
        """
        Without MESSAGE and not on a terminal, standard input lines stream
        through a pump with no prompt, and the status is 0 at the end.
        """
        reactor = FakeUDPReactor()
        result, console = _run(reactor, "udp")
        [pump] = console.attached
        stdio = StringTransport()
        pump.makeConnection(stdio)
        pump.dataReceived(b"one\ntwo\n")
        port = reactor.udpPorts[0]
        port.protocol.datagramReceived(b"ONE", ("127.0.0.1", 12000))
        port.protocol.datagramReceived(b"TWO", ("127.0.0.1", 12000))
        pump.readConnectionLost()
        self.assertEqual(stdio.value(), b"ONE\nTWO\n")
        pump.connectionLost(Failure(ConnectionRefusedError()))
        self.assertEqual(self.successResultOf(result), 0)

    def test_interactivePrompts(self):
        """
        On a terminal the pump prompts as the textbook client does.
        """
        reactor = FakeUDPReactor()
        result, console = _run(reactor, "udp", console=_Console(interactive=True))
        [pump] = console.attached
        stdio = StringTransport()
        pump.makeConnection(stdio)
        self.assertEqual(stdio.value(), PROMPT)

    def test_unexpectedError(self):
        """
        Even a bug is reported in one line, with status 1, never a traceback.
        """

        async def broken(reactor, options, console):
            raise RuntimeError("oops")

        self.patch(
            scripts,
            "_byName",
            {"tcp": scripts.Subcommand("tcp", TCPOptions, broken, "")},
        )
        result, console = _run(MemoryReactorClock(), "tcp", "hi")
        self.assertEqual(self.successResultOf(result), 1)
        self.assertEqual(
            console.stderr.getvalue(),
            "sockservice-client: unexpected error: RuntimeError('oops')\n",
        )

    def test_helpToClosedPipe(self):
        """
        C{--help} into a pipe nobody reads is reported in one line, status 1,
        instead of leaving the reactor running.
        """

        class ClosedPipe(io.StringIO):
            def write(self, text):
                raise BrokenPipeError(32, "Broken pipe")

        self.patch(sys, "stdout", ClosedPipe())
        result, console = _run(MemoryReactorClock(), "time", "--help")
        self.assertEqual(self.successResultOf(result), 1)
        self.assertEqual(
            console.stderr.getvalue(),
            "sockservice-client: unexpected error: BrokenPipeError(32, 'Broken pipe')\n",
        )


class MainTests(SynchronousTestCase):
    """
    The L{react} entry point turns statuses into exits.
    """

    def test_interrupted(self):
        """
        When a signal stops the reactor before the work is done, the exit
        status is 130.
        """
        reactor = FakeUDPReactor()
        result = Deferred.fromCoroutine(scripts.main(reactor, "udp", "hi"))
        for trigger, args, kwargs in reactor.triggers["before"]["shutdown"]:
            trigger(*args, **kwargs)
        failure = self.failureResultOf(result, SystemExit)
        self.assertEqual(failure.value.code, scripts.INTERRUPTED)

    def test_usageExit(self):
        """
        A usage error exits with status 2.
        """
        self.patch(sys, "stderr", io.StringIO())
        result = Deferred.fromCoroutine(scripts.main(MemoryReactorClock(), "tcp", "-p"))
        self.assertEqual(self.failureResultOf(result, SystemExit).value.code, 2)
