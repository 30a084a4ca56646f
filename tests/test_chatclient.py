# -*- test-case-name: tests.test_chatclient -*-
"""
Tests for L{sockservice.chat.client} and L{sockservice.chat.console}: clients
and the relay talking in memory.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from twisted.internet.error import ConnectionRefusedError, TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from sockservice.chat.client import ChatClient, ChatError, describe
from sockservice.chat.console import HELP, ChatConsole
from sockservice.chat.relay import ChatProtocol
from tests.servicefakes import FakeDatagramTransport

SERVER = ("127.0.0.1", 12014)


class Network:
    """
    Delivers datagrams between one relay and its clients, unless cut.
    """

    def __init__(self, clock: Clock) -> None:
        self.server = ChatProtocol(clock, secret=b"s" * 32)
        self.clients: Dict[Tuple[str, int], ChatClient] = {}
        self.up = True
        network = self

        class ServerSide(FakeDatagramTransport):
            def write(self, data: bytes, addr: Any = None) -> None:
                if network.up and addr in network.clients:
                    network.clients[addr].datagramReceived(data, SERVER)

        self.server.makeConnection(ServerSide(port=SERVER[1]))

    def add(self, client: ChatClient, port: int) -> None:
        network, addr = self, ("127.0.0.1", port)

        class ClientSide(FakeDatagramTransport):
            def write(self, data: bytes, to: Any = None) -> None:
                if network.up:
                    network.server.datagramReceived(data, addr)

        self.clients[addr] = client
        client.makeConnection(ClientSide(port=port))


class DescribeTests(TestCase):
    """
    Tests for L{describe}.
    """

    def test_lines(self) -> None:
        """Each server datagram becomes a line for a person; PONG becomes nothing."""
        self.assertEqual(describe("FROM bob 你好 there".encode()), "<bob> 你好 there")
        self.assertEqual(describe(b"PRIVATE bob psst"), "<bob to you> psst")
        self.assertEqual(describe(b"JOINED bob"), "* bob joined")
        self.assertEqual(describe(b"LEFT bob"), "* bob left")
        self.assertEqual(describe(b"MEMBERS a b"), "* here: a, b")
        self.assertEqual(describe(b"ERROR chat full"), "! chat full")
        self.assertIsNone(describe(b"PONG"))

    def test_controlCharacters(self) -> None:
        """Terminal escapes in what arrives are never written out."""
        self.assertEqual(describe(b"FROM x \x1b[2J\xff"), "<x> \ufffd[2J\ufffd")


class ChatClientTests(TestCase):
    """
    Tests for L{ChatClient} against L{ChatProtocol}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.network = Network(self.clock)
        self.shown: Dict[str, List[str]] = {}

    def member(self, name: str, port: int) -> ChatClient:
        self.shown[name] = []
        client = ChatClient(self.clock, *SERVER, name, self.shown[name].append)
        self.network.add(client, port)
        return client

    def test_conversation(self) -> None:
        """Members join, talk to all and to one, list members and leave."""
        alice = self.member("alice", 40001)
        self.successResultOf(alice.joined)
        bob = self.member("bob", 40002)
        self.successResultOf(bob.joined)
        alice.say("hello all")
        alice.tell("bob", "psst")
        bob.who()
        alice.leave()
        self.successResultOf(alice.done)
        self.assertEqual(self.shown["alice"], ["* bob joined", "* alice left"])
        self.assertEqual(
            self.shown["bob"],
            ["<alice> hello all", "<alice to you> psst", "* here: alice, bob", "* alice left"],
        )
        self.assertFalse(alice._pinger.running)

    def test_nameTaken(self) -> None:
        """A refused join fails with the server's reason."""
        self.successResultOf(self.member("alice", 40001).joined)
        failure = self.failureResultOf(self.member("ALICE", 40002).joined, ChatError)
        self.assertEqual(str(failure.value), "name taken")

    def test_joinTimesOut(self) -> None:
        """With no server answering, the join is retried and then fails."""
        self.network.up = False
        client = self.member("alice", 40001)
        self.clock.pump([2] * 3)
        self.assertNoResult(client.joined)
        self.clock.advance(2)
        self.failureResultOf(client.joined, TimeoutError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_refused(self) -> None:
        """When nothing listens at the server's address, the join fails at once."""
        self.network.up = False
        client = self.member("alice", 40001)
        client.connectionRefused()
        self.failureResultOf(client.joined, ConnectionRefusedError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_portClosed(self) -> None:
        """When the port closes under a join, the join fails and no timer is left."""
        self.network.up = False
        client = self.member("alice", 40001)
        client.doStop()
        self.failureResultOf(client.joined, ChatError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_keepAlive(self) -> None:
        """Keep-alives keep a silent member present far beyond the expiry."""
        alice = self.member("alice", 40001)
        self.clock.pump([10] * 30)
        self.assertIn(("127.0.0.1", 40001), self.network.server.members)
        self.assertNoResult(alice.done)

    def test_serverGone(self) -> None:
        """When the server stops answering, the client gives up with an error."""
        alice = self.member("alice", 40001)
        self.network.up = False
        self.clock.pump([20] * 4)
        self.failureResultOf(alice.done, ChatError)

    def test_notSent(self) -> None:
        """Over-long or control-character text is refused locally."""
        alice = self.member("alice", 40001)
        alice.say("x" * 600)
        alice.say("\x1b[2J")
        self.assertEqual(len(self.shown["alice"]), 2)
        self.assertTrue(all(line.startswith("! not sent") for line in self.shown["alice"]))


class FakeClient:
    """Records what a console asks of the client."""

    def __init__(self) -> None:
        self.calls: List[tuple] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name,) + args)


class ChatConsoleTests(TestCase):
    """
    Tests for L{ChatConsole}.
    """

    def test_lines(self) -> None:
        """Typed lines become messages, private messages, WHO and LEAVE."""
        console = ChatConsole()
        console.client = client = FakeClient()  # type: ignore[assignment]
        console.makeConnection(StringTransport())
        console.dataReceived(b"hi there\r\n@bob psst\n/who\n\n/quit\n")
        console.readConnectionLost()
        self.assertEqual(
            client.calls,
            [("say", "hi there"), ("tell", "bob", "psst"), ("who",), ("leave",), ("leave",)],
        )

    def test_help(self) -> None:
        """An unknown slash command shows the help line."""
        console = ChatConsole()
        console.client = FakeClient()  # type: ignore[assignment]
        transport = StringTransport()
        console.makeConnection(transport)
        console.dataReceived(b"/dance\n")
        self.assertEqual(transport.value(), HELP.encode() + b"\n")
