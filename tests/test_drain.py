# -*- test-case-name: tests.test_drain -*-
"""
Tests for L{sockservice.server.drain}: a bounded, graceful stop, in simulated time.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from sockservice.server.drain import DEFAULT_DRAIN, DrainService, OpenConnections


class RecordingTransport(StringTransport):
    """
    A transport that records how it was asked to close.
    """

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def abortConnection(self) -> None:
        self.aborted = True
        super().abortConnection()


class OpenConnectionsTests(TestCase):
    """
    Tests for L{OpenConnections}.
    """

    def test_count(self) -> None:
        """
        Its length is the number of connections opened and not yet closed.
        """
        connections = OpenConnections()
        first, second = StringTransport(), StringTransport()
        connections.opened(first)
        connections.opened(second)
        connections.closed(first)
        self.assertEqual((len(connections), list(connections)), (1, [second]))

    def test_whenEmptyNow(self) -> None:
        """
        With no connection open, C{whenEmpty} has already fired.
        """
        self.successResultOf(OpenConnections().whenEmpty())

    def test_whenEmptyLater(self) -> None:
        """
        C{whenEmpty} fires once the last open connection closes, not before.
        """
        connections = OpenConnections()
        first, second = StringTransport(), StringTransport()
        connections.opened(first)
        connections.opened(second)
        d = connections.whenEmpty()
        connections.closed(first)
        self.assertNoResult(d)
        connections.closed(second)
        self.successResultOf(d)

    def test_closeWhileIterating(self) -> None:
        """
        Connections may close while being iterated over.
        """
        connections = OpenConnections()
        transports = [StringTransport() for _ in range(3)]
        for transport in transports:
            connections.opened(transport)
        for transport in connections:
            connections.closed(transport)
        self.assertEqual(len(connections), 0)


class DrainServiceTests(TestCase):
    """
    Tests for L{DrainService}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connections = OpenConnections()
        self.service = DrainService(self.connections, period=5, clock=self.clock)
        self.service.startService()

    def open(self, count: int) -> list[RecordingTransport]:
        transports = [RecordingTransport() for _ in range(count)]
        for transport in transports:
            self.connections.opened(transport)
        return transports

    def test_defaultPeriod(self) -> None:
        """
        The default drain period is five seconds.
        """
        self.assertEqual(DrainService(OpenConnections(), clock=Clock()).period, 5)
        self.assertEqual(DEFAULT_DRAIN, 5)

    def test_nothingOpen(self) -> None:
        """
        With no connection open, stopping completes at once.
        """
        self.successResultOf(self.service.stopService())
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_connectionsFinish(self) -> None:
        """
        Connections that close by themselves within the drain period are
        never closed by the service, and the stop completes when the last one
        has closed, leaving no timer behind.
        """
        first, second = self.open(2)
        d = self.service.stopService()
        self.clock.advance(2)
        self.connections.closed(first)
        self.assertNoResult(d)
        self.clock.advance(2)
        self.connections.closed(second)
        self.successResultOf(d)
        self.assertFalse(first.disconnecting or second.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_closeAfterPeriod(self) -> None:
        """
        At the end of the drain period the connections still open are asked
        to close (sending what is due first), and not aborted.
        """
        [transport] = self.open(1)
        d = self.service.stopService()
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.aborted)
        self.connections.closed(transport)
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_logsBeginAndEnd(self) -> None:
        """
        A drain logs its beginning and its end as named events, the end with
        how long it took.
        """
        events: list[dict[str, object]] = []
        self.service.log = Logger(observer=events.append)
        [transport] = self.open(1)
        d = self.service.stopService()
        self.clock.advance(2.5)
        self.connections.closed(transport)
        self.successResultOf(d)
        self.assertEqual([e["event"] for e in events], ["drain_begin", "drain_end"])
        self.assertEqual((events[0]["count"], events[0]["period"]), (1, 5))
        self.assertEqual((events[1]["count"], events[1]["seconds"]), (1, 2.5))

    def test_abortAfterGrace(self) -> None:
        """
        A connection that has not closed one second after being asked to is
        aborted.
        """
        [transport] = self.open(1)
        d = self.service.stopService()
        self.clock.advance(5.9)
        self.assertFalse(transport.aborted)
        self.clock.advance(0.1)
        self.assertTrue(transport.aborted)
        self.connections.closed(transport)
        self.successResultOf(d)

    def test_zeroPeriod(self) -> None:
        """
        A drain period of 0 closes the open connections at once.
        """
        service = DrainService(self.connections, period=0, clock=self.clock)
        [transport] = self.open(1)
        service.stopService()
        self.clock.advance(0)
        self.assertTrue(transport.disconnecting)


class FactoryTrackingTests(TestCase):
    """
    L{sockservice.uppercase.tcp.UppercaseFactory} keeps its open connections in an
    L{OpenConnections}, for the drain.
    """

    def test_tracked(self) -> None:
        """
        A connection is tracked from when it is made until it is lost.
        """
        from twisted.internet.address import IPv4Address

        from sockservice.uppercase.tcp import UppercaseFactory

        factory = UppercaseFactory(reactor=Clock())
        protocol = factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(list(factory.guard.openConnections), [transport])
        protocol.connectionLost(None)
        self.assertEqual(len(factory.guard.openConnections), 0)
