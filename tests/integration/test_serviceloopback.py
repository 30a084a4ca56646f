# -*- test-case-name: tests.integration.test_serviceloopback -*-
"""
The time, chat and command services and their clients over real loopback
sockets (port 0), with real child processes for the command service.
"""

from __future__ import annotations

import io
import sys
from typing import Any, List

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.cli.services import (
    ChatOptions,
    CommandOptions,
    TimeOptions,
    runChat,
    runCommand,
    runTime,
)
from sockservice.client.errors import ClientError
from sockservice.command.allowlist import loadAllowList
from sockservice.command.client import CommandRefused, runRemoteCommand
from sockservice.command.factory import CommandFactory
from sockservice.timeserver.client import queryTimeTCP, queryTimeUDP
from sockservice.timeserver.protocol import TimeDatagramProtocol, TimeLineFactory
from tests.servicefakes import tempPath

ALLOW = """
[hello]
argv = {python} -c "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"

[big]
argv = {python} -c "import sys; sys.stdout.write('x' * 1000000)"
max-output = 100000

[sleep]
argv = {python} -c "import time; time.sleep(30)"
timeout = 0.5

[echo]
argv = {python} -c "import sys; print(*sys.argv[1:])"
args = [a-z]+
max-args = 3
"""


class ClosingTransport(StringTransport):
    """
    A L{StringTransport} whose C{loseConnection} tells the protocol at once,
    as standard output does once flushed.
    """

    def __init__(self, protocol: Any) -> None:
        super().__init__()
        self.protocol = protocol

    def loseConnection(self) -> None:
        super().loseConnection()
        self.protocol.connectionLost(None)


class FakeConsole:
    """
    A console for the subcommands: bytes out, text err, and an C{attach}
    that connects the protocol to a L{StringTransport}.
    """

    def __init__(self) -> None:
        self.stdout = io.BytesIO()
        self.stderr = io.StringIO()
        self.attached: List[Any] = []

    def attach(self, protocol: Any) -> None:
        transport = ClosingTransport(protocol)
        protocol.makeConnection(transport)
        self.attached.append((protocol, transport))


def parse(options: Any, *argv: str) -> Any:
    options.parseOptions(list(argv))
    return options


class TimeLoopbackTests(TestCase):
    """
    The time service and client over loopback UDP and TCP.
    """

    def setUp(self) -> None:
        self.udp = reactor.listenUDP(
            0, TimeDatagramProtocol(reactor, utc=True), interface="127.0.0.1"
        )
        self.tcp = reactor.listenTCP(0, TimeLineFactory(reactor, utc=True), interface="127.0.0.1")
        self.addCleanup(self.udp.stopListening)
        self.addCleanup(self.tcp.stopListening)

    async def test_udp(self) -> None:
        """A UDP query gets the year back."""
        reply = await queryTimeUDP(reactor, "127.0.0.1", self.udp.getHost().port, b"%Y")
        self.assertTrue(reply.isdigit() and len(reply) == 4, reply)

    async def test_tcp(self) -> None:
        """A TCP query gets one line with the default format back."""
        reply = await queryTimeTCP(reactor, "127.0.0.1", self.tcp.getHost().port, b"")
        self.assertRegex(reply.decode(), r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")

    async def test_subcommand(self) -> None:
        """The time subcommand prints the time, and an error reply is an error."""
        console = FakeConsole()
        port = str(self.udp.getHost().port)
        await runTime(reactor, parse(TimeOptions(), "--port", port, "%Y", "year"), console)
        self.assertRegex(console.stdout.getvalue(), rb"^\d{4} year\n$")
        options = parse(TimeOptions(), "--port", str(self.tcp.getHost().port), "--tcp", "%" * 300)
        with self.assertRaises(ClientError) as e:
            await runTime(reactor, options, console)
        self.assertIn("says error: format longer than 256 bytes", str(e.exception))

    async def test_refused(self) -> None:
        """With nothing listening, the UDP client fails with a one-line error."""
        port = self.udp.getHost().port
        await self.udp.stopListening()
        with self.assertRaises(ClientError) as e:
            await runTime(
                reactor,
                parse(TimeOptions(), "--port", str(port), "-t", "0.5", "-r", "0"),
                FakeConsole(),
            )
        self.assertIn(f"127.0.0.1:{port}", str(e.exception))


class ChatLoopbackTests(TestCase):
    """
    Two chat subcommands over a loopback relay.
    """

    async def test_conversation(self) -> None:
        """Members see each other's messages as they arrive and leave at end of input."""
        relay = ChatProtocol(reactor)
        udp = reactor.listenUDP(0, relay, interface="127.0.0.1")
        self.addCleanup(udp.stopListening)
        port = str(udp.getHost().port)
        alice, bob = FakeConsole(), FakeConsole()
        aliceDone = ensureDeferred(
            runChat(reactor, parse(ChatOptions(), "-p", port, "-n", "alice"), alice)
        )
        await self.until(lambda: alice.attached)
        bobDone = ensureDeferred(
            runChat(reactor, parse(ChatOptions(), "-p", port, "-n", "bob"), bob)
        )
        await self.until(lambda: bob.attached)
        [(aliceTyping, aliceScreen)] = alice.attached
        [(bobTyping, bobScreen)] = bob.attached
        bobTyping.dataReceived(b"hi all\n@alice psst\n")
        await self.until(lambda: b"psst" in aliceScreen.value())
        bobTyping.readConnectionLost()
        await bobDone
        await self.until(lambda: b"* bob left" in aliceScreen.value())
        aliceTyping.dataReceived(b"/quit\n")
        await aliceDone
        self.assertEqual(
            aliceScreen.value().decode().splitlines()[1:],
            ["* bob joined", "<bob> hi all", "<bob to you> psst", "* bob left", "* alice left"],
        )
        self.assertEqual(relay.members, {})

    async def test_nameTaken(self) -> None:
        """Joining with a name in use fails with the server's reason."""
        udp = reactor.listenUDP(0, ChatProtocol(reactor), interface="127.0.0.1")
        self.addCleanup(udp.stopListening)
        port = str(udp.getHost().port)
        first = FakeConsole()
        done = ensureDeferred(runChat(reactor, parse(ChatOptions(), "-p", port, "-n", "x"), first))
        await self.until(lambda: first.attached)
        with self.assertRaises(ClientError) as e:
            await runChat(reactor, parse(ChatOptions(), "-p", port, "-n", "X"), FakeConsole())
        self.assertTrue(str(e.exception).endswith(": name taken"))
        first.attached[0][0].readConnectionLost()
        await done

    async def until(self, condition: Any, timeout: float = 10.0) -> None:
        """Wait, polling the reactor, until C{condition()} holds."""
        for _ in range(int(timeout / 0.01)):
            if condition():
                return
            d: Deferred[None] = Deferred()
            reactor.callLater(0.01, d.callback, None)
            await d
        self.fail("condition never held")


class CommandLoopbackTests(TestCase):
    """
    The command service with real processes.
    """

    def setUp(self) -> None:
        path = tempPath(self)
        with open(path, "w") as f:
            f.write(ALLOW.format(python=sys.executable))
        self.factory = CommandFactory(loadAllowList(path), reactor)
        self.tcp = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.tcp.stopListening)
        self.port = self.tcp.getHost().port

    async def test_run(self) -> None:
        """Exit status, stdout and stderr come back separately."""
        result = await runRemoteCommand(reactor, "127.0.0.1", self.port, "hello")
        self.assertEqual(
            (result.status, result.stdout, result.stderr), ("exit 3", b"out\n", b"err\n")
        )

    async def test_args(self) -> None:
        """Allowed arguments reach the program; others are refused."""
        result = await runRemoteCommand(reactor, "127.0.0.1", self.port, "echo", ["a", "b"])
        self.assertEqual(result.stdout, b"a b\n")
        with self.assertRaises(CommandRefused):
            await runRemoteCommand(reactor, "127.0.0.1", self.port, "echo", ["$(id)"])

    async def test_timeoutAndCap(self) -> None:
        """A command past its timeout is killed; one past its output cap is cut and killed."""
        slow = await runRemoteCommand(reactor, "127.0.0.1", self.port, "sleep")
        self.assertEqual((slow.signal, slow.flags), (9, ("timeout",)))
        big = await runRemoteCommand(reactor, "127.0.0.1", self.port, "big")
        self.assertEqual((len(big.stdout), big.flags[-1:]), (100000, ("truncated",)))

    async def test_subcommand(self) -> None:
        """The command subcommand copies the output and returns the exit status."""
        console = FakeConsole()
        code = await runCommand(
            reactor, parse(CommandOptions(), "-p", str(self.port), "hello"), console
        )
        self.assertEqual(
            (code, console.stdout.getvalue(), console.stderr.getvalue()), (3, b"out\n", "err\n")
        )
        with self.assertRaises(ClientError) as e:
            await runCommand(reactor, parse(CommandOptions(), "-p", str(self.port), "rm"), console)
        self.assertEqual(
            str(e.exception), f"127.0.0.1:{self.port} refused to run 'rm': unknown command"
        )
