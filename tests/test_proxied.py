# -*- test-case-name: tests.test_proxied -*-
"""
Tests for L{sockservice.server.proxied}: services behind a PROXY-protocol
balancer see the client from the header (caps, logs, the command service's
loopback rule, the idle sweep), and connections without a valid header are
closed and counted.
"""

from __future__ import annotations

from typing import Any, Dict, List

from twisted.application.service import MultiService
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from sockservice.command.allowlist import AllowList
from sockservice.command.factory import CommandFactory
from sockservice.server.guard import ConnectionGuard, GuardedFactory
from sockservice.server.listeners import TCPListener
from sockservice.server.options import ServerConfig, Shared
from sockservice.server.proxied import HEADER_TIMEOUT, ProxiedFactory, ProxiedProtocol
from sockservice.timeserver.protocol import TimeLineFactory
from sockservice.uppercase.tcp import UppercaseFactory
from tests.test_proxyheader import v1Header, v2Header

BALANCER = IPv4Address("TCP", "127.0.0.1", 51000)


class _Connection:
    """One connection from the balancer to a proxied factory, in memory."""

    def __init__(self, factory: ProxiedFactory) -> None:
        self.protocol: ProxiedProtocol = factory.buildProtocol(BALANCER)
        self.transport = StringTransport(
            peerAddress=BALANCER, hostAddress=IPv4Address("TCP", "127.0.0.1", 12000)
        )
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> bytes:
        self.protocol.dataReceived(data)
        return self.transport.value()

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


class _Base(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.guard = ConnectionGuard(
            self.clock, idleTimeout=10, maxPerAddress=2, limitLoopback=True
        )
        self.events: List[Dict[str, Any]] = []
        self.guard.log = Logger(observer=self.events.append)
        self.uppercase = ProxiedFactory(UppercaseFactory(guard=self.guard), self.guard, self.clock)
        self.uppercase.log = Logger(observer=self.events.append)

    def connect(self, factory: Any = None) -> _Connection:
        return _Connection(factory or self.uppercase)


class HeaderTests(_Base):
    """
    The service's protocol is built once the header is read, with the
    client's address from it.
    """

    def test_versionOne(self) -> None:
        """
        After a v1 header, the bytes that follow, in the same read or later,
        are served, and the connection reports the client as its peer.
        """
        connection = self.connect()
        self.assertEqual(connection.send(v1Header("192.0.2.7") + b"hello "), b"HELLO ")
        self.assertEqual(connection.send(b"world"), b"HELLO WORLD")
        self.assertEqual(connection.protocol.getPeer(), IPv4Address("TCP", "192.0.2.7", 40000))
        self.assertEqual(connection.protocol.wrappedProtocol.peer, "192.0.2.7")  # type: ignore[attr-defined]

    def test_versionTwoSplitAnywhere(self) -> None:
        """
        A v2 header followed by data is served alike however the bytes are
        split.
        """
        data = v2Header("2001:db8::7") + b"abc"
        for split in range(len(data) + 1):
            connection = self.connect()
            connection.send(data[:split])
            self.assertEqual(connection.send(data[split:]), b"ABC", split)
            self.assertEqual(connection.protocol.getPeer().host, "2001:db8::7")  # type: ignore[attr-defined]
            connection.protocol.connectionLost(None)  # type: ignore[arg-type]

    def test_local(self) -> None:
        """
        A LOCAL header (HAProxy's health check) is served with the
        connection's own address: C{ping} gets C{PING}.
        """
        connection = self.connect()
        self.assertEqual(connection.send(v2Header(command=0) + b"ping\n"), b"PING\n")
        self.assertEqual(connection.protocol.getPeer(), BALANCER)

    def test_halfClose(self) -> None:
        """
        A client that half-closes through the balancer gets what is still
        due, then the close: the wrapper is half-closeable for its service.
        """
        connection = self.connect()
        connection.send(v1Header() + "straß".encode() + b"\xc3")
        connection.protocol.readConnectionLost()
        self.assertEqual(connection.transport.value(), b"STRASS\xc3")
        self.assertTrue(connection.closed)


class AddressTests(_Base):
    """
    Caps, logs, the idle sweep and the command service's loopback rule use
    the address from the header.
    """

    def test_perAddressCap(self) -> None:
        """
        Behind one balancer, each client address gets its own per-address
        cap; the refusal is logged with the client's address.
        """
        first = [self.connect() for _ in range(3)]
        for connection in first:
            connection.send(v1Header("127.0.0.2"))
        self.assertEqual([c.closed for c in first], [False, False, True])
        other = self.connect()
        other.send(v1Header("127.0.0.3") + b"x")
        self.assertFalse(other.closed)
        self.assertEqual(other.transport.value(), b"X")
        self.assertEqual([e.get("peer") for e in self.events], ["127.0.0.2"])
        first[0].protocol.connectionLost(None)  # type: ignore[arg-type]
        again = self.connect()
        again.send(v1Header("127.0.0.2"))
        self.assertFalse(again.closed)

    def test_idleSweep(self) -> None:
        """
        An idle proxied connection is dropped and logged with the client's
        address.
        """
        connection = self.connect()
        connection.send(v1Header("192.0.2.9"))
        self.clock.advance(11)
        self.assertTrue(connection.closed)
        self.assertEqual([e.get("peer") for e in self.events], ["192.0.2.9"])

    def test_timeService(self) -> None:
        """
        A service wrapped in a L{GuardedFactory} is counted under the
        client's address too.
        """
        time = ProxiedFactory(
            GuardedFactory(TimeLineFactory(self.clock), self.guard, "time"), self.guard, self.clock
        )
        for _ in range(2):
            self.connect(time).send(v1Header("198.51.100.1"))
        self.assertEqual(
            self.guard.connections.refusal("198.51.100.1", exempt=False), "per-address"
        )

    def test_commandNotLoopback(self) -> None:
        """
        Behind a balancer on loopback, a remote client is not local: without
        a token, the command service refuses it; a loopback client is served.
        """
        commands = CommandFactory(AllowList([]), MemoryReactorClock())
        commands.log = Logger(observer=self.events.append)
        factory = ProxiedFactory(
            GuardedFactory(commands, self.guard, "command"), self.guard, self.clock
        )
        remote = self.connect(factory)
        remote.send(v1Header("192.0.2.7"))
        self.assertTrue(remote.closed)
        self.assertIn("192.0.2.7:40000", [e.get("peer") for e in self.events])
        local = self.connect(factory)
        local.send(v1Header("127.0.0.5"))
        self.assertFalse(local.closed)


class RejectionTests(_Base):
    """
    Without a valid header, a connection is closed, counted, logged, and
    never served.
    """

    def assertRejected(self, connection: _Connection, count: int = 1) -> None:
        self.assertTrue(connection.closed)
        self.assertEqual(connection.transport.value(), b"")
        self.assertEqual(self.guard.proxyHeadersRejected, count)
        self.assertEqual(self.guard.connections.total, 0)
        self.assertEqual(self.events[0]["event"], "proxy_header_rejected")
        self.assertEqual(self.events[0]["peer"], "127.0.0.1:51000")

    def test_noHeader(self) -> None:
        """
        A client talking straight to the listener is not served.
        """
        connection = self.connect()
        connection.send(b"ping\n")
        self.assertRejected(connection)
        self.assertIn("no PROXY header", self.events[0]["reason"])

    def test_malformed(self) -> None:
        """
        A malformed v1 or v2 header closes the connection.
        """
        first = self.connect()
        first.send(b"PROXY TCP4 1.2.3.4 nonsense\r\n")
        self.assertRejected(first)
        second = self.connect()
        second.send(v2Header()[:12] + b"\x99" + v2Header()[13:])
        self.assertTrue(second.closed)
        self.assertEqual(self.guard.proxyHeadersRejected, 2)

    def test_late(self) -> None:
        """
        A connection that has not sent its whole header in time is closed.
        """
        connection = self.connect()
        connection.send(v1Header()[:10])
        self.clock.advance(HEADER_TIMEOUT - 0.1)
        self.assertFalse(connection.closed)
        self.clock.advance(0.1)
        self.assertRejected(connection)

    def test_closedEarly(self) -> None:
        """
        A connection closed before its header is counted; the timer stops.
        """
        connection = self.connect()
        connection.protocol.readConnectionLost()
        connection.protocol.connectionLost(None)  # type: ignore[arg-type]
        self.assertRejected(connection)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_logOncePerSecond(self) -> None:
        """
        A flood of headerless connections logs one line a second, with a
        count, and counts every one.
        """
        for _ in range(5):
            self.connect().send(b"x" * 20)
        self.clock.advance(1)
        self.connect().send(b"x" * 20)
        self.assertEqual(self.guard.proxyHeadersRejected, 6)
        self.assertEqual(len(self.events), 2)
        self.assertIn("4 more", self.events[1]["more"])


class ListenTests(SynchronousTestCase):
    """
    A C{haproxy:} listen description serves the factory behind a
    L{ProxiedFactory}, on the inner endpoint.
    """

    def test_listenTCP(self) -> None:
        """
        L{Shared.listenTCP} strips C{haproxy:} and wraps the factory.
        """
        reactor = MemoryReactorClock()
        shared = Shared.forProcess(ServerConfig(), reactor)
        top = MultiService()
        factory = UppercaseFactory(guard=shared.guard)
        shared.listenTCP(top, "TCP x", "haproxy:tcp:0:interface=127.0.0.1:backlog=5", factory)
        (listener,) = list(top)
        assert isinstance(listener, TCPListener)
        self.assertIsInstance(listener.factory, ProxiedFactory)
        listener.privilegedStartService()
        port, wrapped, backlog, interface = reactor.tcpServers[0]
        self.assertIs(wrapped, listener.factory)
        self.assertEqual((backlog, interface), (5, "127.0.0.1"))
        wrapped.acceptedNoDelay = True
        self.assertTrue(factory.acceptedNoDelay)
