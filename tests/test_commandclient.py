# -*- test-case-name: tests.test_commandclient -*-
"""
Tests for L{sockservice.command.client}: the client against the command
service in memory (L{twisted.test.iosim}), with a fake process reactor.
"""

from __future__ import annotations

from twisted.test.iosim import connect, makeFakeClient, makeFakeServer
from twisted.trial.unittest import TestCase

from sockservice.command.allowlist import AllowedCommand, AllowList
from sockservice.command.client import CommandClient, CommandResult
from sockservice.command.factory import CommandFactory
from tests.servicefakes import FakeProcessReactor
from tests.test_command import LOCAL

ALLOWED = AllowList([AllowedCommand("big", ["/bin/cat"], maxOutput=10**6)])


class CommandClientTests(TestCase):
    """
    Tests for L{CommandClient} and L{CommandResult}.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        server = CommandFactory(ALLOWED, self.reactor).buildProtocol(LOCAL)
        self.client = CommandClient()
        serverTransport = makeFakeServer(server)
        serverTransport.peerAddress = LOCAL
        self.pump = connect(server, serverTransport, self.client, makeFakeClient(self.client))

    def test_largeOutputsStaySeparate(self) -> None:
        """Large outputs of one run never spill into the next reply."""
        first = self.client.request([b"run", b"big"])
        second = self.client.request([b"run", b"nope"])
        self.pump.flush()
        [spawned] = self.reactor.spawned
        spawned.protocol.childDataReceived(1, b"o" * 300000)
        spawned.protocol.childDataReceived(2, b"e" * 5000)
        spawned.exit(0)
        self.pump.flush()
        status, out, err = self.successResultOf(first)
        self.assertEqual((status, len(out), len(err)), (b"exit 0", 300000, 5000))
        self.assertEqual(self.successResultOf(second)[0], b"refused unknown command")

    def test_result(self) -> None:
        """A status line is parsed into exit code, signal and flags."""
        done = CommandResult("exit 3", b"o", b"e")
        self.assertEqual((done.exitCode, done.signal, done.flags), (3, None, ()))
        killed = CommandResult("signal 9 timeout truncated", b"", b"")
        self.assertEqual(
            (killed.exitCode, killed.signal, killed.flags), (None, 9, ("timeout", "truncated"))
        )
