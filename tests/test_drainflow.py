# -*- test-case-name: tests.test_drainflow -*-
"""
Tests for the graceful stop of L{sockservice.server.drain} as connections
take part in it: each is asked at once to close gracefully, the rest is closed
at the deadline; and the upper-casing service over it, in memory and in
simulated time.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from sockservice.server.drain import DrainService, IDrainable, OpenConnections
from sockservice.uppercase.tcp import UppercaseFactory, UppercaseProtocol


@implementer(IDrainable)
class _Connection:
    """
    A connection that records how often it was asked to close gracefully;
    a busy one does not close when asked (its work is still in progress).
    """

    def __init__(self, transport: StringTransport, busy: bool = False) -> None:
        self.transport = transport
        self.busy = busy
        self.closeCalls = 0

    def closeGracefully(self) -> None:
        self.closeCalls += 1
        if not self.busy:
            self.transport.loseConnection()


class _AbortRecordingTransport(StringTransport):
    aborted = False

    def abortConnection(self) -> None:
        self.aborted = True


class DrainFlowTests(SynchronousTestCase):
    """
    L{DrainService} over connections that say whether they are idle.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connections = OpenConnections()
        self.service = DrainService(self.connections, period=5, clock=self.clock)
        self.service.startService()

    def open(self, busy: bool = False) -> _Connection:
        connection = _Connection(_AbortRecordingTransport(), busy)
        self.connections.opened(connection.transport, connection)
        return connection

    def test_interface(self) -> None:
        """
        The upper-casing protocol can be drained.
        """
        self.assertTrue(verifyObject(IDrainable, UppercaseProtocol()))

    def test_idleClosedAtOnce(self) -> None:
        """
        On stop, every idle connection is asked to close at once, and the stop
        completes as soon as they have closed, leaving no timer behind.
        """
        connections = [self.open() for _ in range(3)]
        d = self.service.stopService()
        self.assertEqual([c.closeCalls for c in connections], [1, 1, 1])
        self.assertNoResult(d)
        for c in connections:
            self.connections.closed(c.transport)
        self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_idleClosedWithoutWaiting(self) -> None:
        """
        When the idle connections close as soon as they are asked (a real TCP
        connection with nothing to send), the stop completes at once.
        """
        connection = self.open()
        connection.closeGracefully = lambda: self.connections.closed(  # type: ignore[method-assign]
            connection.transport
        )
        self.successResultOf(self.service.stopService())
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_deadlineClosesTheRest(self) -> None:
        """
        A busy connection is asked once, at the stop, and left to finish;
        at the end of the drain period those registered without a connection
        are closed, and one second later whatever is still open is aborted.
        """
        busy = self.open(busy=True)
        bare = _AbortRecordingTransport()
        self.connections.opened(bare)
        d = self.service.stopService()
        self.clock.advance(4.9)
        self.assertEqual((busy.closeCalls, bare.disconnecting), (1, False))
        self.clock.advance(0.1)
        self.assertEqual((busy.closeCalls, bare.disconnecting), (1, True))
        self.connections.closed(bare)
        self.clock.advance(1)
        self.assertTrue(busy.transport.aborted)
        self.assertFalse(bare.aborted)
        self.connections.closed(busy.transport)
        self.successResultOf(d)

    def test_closedOnce(self) -> None:
        """
        A connection asked to close is not asked again at the deadline.
        """
        connection = self.open(busy=True)
        self.service.stopService()
        self.clock.advance(5)
        self.assertEqual(connection.closeCalls, 1)


class _SlowTransport(FileDescriptor):
    """
    A real L{FileDescriptor} (Twisted's write buffer, producer and
    C{loseConnection} logic) whose socket accepts only C{room} more bytes,
    and which tells its protocol when the connection is lost, as the reactor
    would.
    """

    def __init__(self, reactor: Any, protocol: UppercaseProtocol) -> None:
        super().__init__(reactor)
        self.connected = True
        self.room = 0
        self.sent = b""
        self.protocol = protocol

    def writeSomeData(self, data: bytes) -> int:
        n = min(len(data), self.room)
        self.sent += bytes(data[:n])
        self.room -= n
        return n

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "192.0.2.7", 40000)

    def flush(self) -> None:
        """
        Let the socket take everything, and run the reactor's write event.
        """
        self.room = 1 << 30
        why = self.doWrite()
        if why is not None:
            self.connectionLost(Failure(why))

    def _closeWriteConnection(self) -> None:
        # As a TCP connection does, once its sending side is shut down.
        self.protocol.writeConnectionLost()

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self.protocol.connectionLost(reason)


class _SocketTransport(_SlowTransport):
    """
    A L{_SlowTransport} over one end of a socket pair, whose other end, the
    client, may have sent bytes not read yet.
    """

    def __init__(self, reactor: Any, protocol: UppercaseProtocol) -> None:
        super().__init__(reactor, protocol)
        self.handle, self.client = socket.socketpair()
        self.handle.setblocking(False)

    def getHandle(self) -> socket.socket:
        return self.handle


class UppercaseDrainTests(SynchronousTestCase):
    """
    The upper-casing TCP service on stop: nothing that was read goes
    unanswered, and nothing idle is waited for.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.factory = UppercaseFactory(reactor=self.reactor)
        self.service = DrainService(
            self.factory.guard.openConnections, period=5, clock=self.reactor
        )
        self.service.startService()

    def connect(self) -> tuple[UppercaseProtocol, StringTransport]:
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        assert isinstance(protocol, UppercaseProtocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def connectSlow(self) -> tuple[UppercaseProtocol, _SlowTransport]:
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        assert isinstance(protocol, UppercaseProtocol)
        transport = _SlowTransport(self.reactor, protocol)
        protocol.makeConnection(transport)
        transport.startReading()
        return protocol, transport

    def test_idleClosedAtOnce(self) -> None:
        """
        Idle connections are closed as soon as the service stops, each after
        its replies.
        """
        pairs = [self.connect() for _ in range(3)]
        for protocol, _ in pairs:
            protocol.dataReceived(b"hi")
        d = self.service.stopService()
        self.assertEqual([(t.value(), t.disconnecting) for _, t in pairs], [(b"HI", True)] * 3)
        for protocol, _ in pairs:
            protocol.connectionLost(None)
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_partialSequenceSent(self) -> None:
        """
        An incomplete UTF-8 sequence held back is sent before the close, as
        at the end of the stream.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"stra\xc3")
        self.assertEqual(transport.value(), b"STRA")
        self.service.stopService()
        self.assertEqual(transport.value(), b"STRA\xc3")
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer)

    def test_halfClosedNotClosedTwice(self) -> None:
        """
        A connection already ending (its client half-closed) is not ended
        again: its held-back bytes are sent once.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"\xc3")
        protocol.readConnectionLost()
        self.service.stopService()
        self.assertEqual(transport.value(), b"\xc3")

    def test_timedOutNotClosedGracefully(self) -> None:
        """
        A connection being aborted for idleness is not closed again.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"\xc3")
        protocol.timeoutConnection()
        self.service.stopService()
        self.assertEqual(transport.value(), b"")

    def test_queuedReplyThenClose(self) -> None:
        """
        A connection whose reply is still queued stops reading at once and
        closes as soon as its write buffer has drained, with every byte
        answered: the stop then completes, well before the deadline.
        """
        protocol, transport = self.connectSlow()
        protocol.dataReceived(b"queued")
        d = self.service.stopService()
        self.assertNotIn(transport, self.reactor.getReaders())
        self.assertTrue(transport.connected)
        self.assertNoResult(d)
        self.reactor.advance(1)
        transport.flush()
        self.assertEqual(transport.sent, b"QUEUED")
        self.assertFalse(transport.connected)
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_pausedThenClose(self) -> None:
        """
        A connection paused by a full write buffer does not resume reading
        once the buffer drains during the stop: it closes, after every reply.
        """
        protocol, transport = self.connectSlow()
        data = b"x" * (transport.bufferSize * 4) + b"\xe2\x82"
        protocol.dataReceived(data)
        self.assertNotIn(transport, self.reactor.getReaders())
        d = self.service.stopService()
        transport.flush()
        self.assertEqual(transport.sent, data.upper())
        self.assertNotIn(transport, self.reactor.getReaders())
        self.assertFalse(transport.connected)
        self.successResultOf(d)

    def test_deadlineAbortsNonReader(self) -> None:
        """
        A connection whose peer never reads its replies is aborted at the end
        of the drain period and its grace.
        """
        protocol, transport = self.connectSlow()
        protocol.dataReceived(b"never read")
        aborted = []
        transport.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
        self.service.stopService()
        self.reactor.advance(5.9)
        self.assertEqual(aborted, [])
        self.reactor.advance(0.1)
        self.assertEqual(aborted, [True])

    def test_lingerOverUnreadInput(self) -> None:
        """
        When the client has sent bytes that were not read, the connection
        is not closed once the replies are written (closing would reset it and
        lose replies on their way): its sending side is shut down, and the
        rest of the input is read and discarded until the client closes.
        """
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        assert isinstance(protocol, UppercaseProtocol)
        transport = _SocketTransport(self.reactor, protocol)
        self.addCleanup(transport.handle.close)
        self.addCleanup(transport.client.close)
        protocol.makeConnection(transport)
        transport.startReading()
        protocol.dataReceived(b"read")
        transport.client.sendall(b"unread")
        d = self.service.stopService()
        transport.flush()
        self.assertEqual(transport.sent, b"READ")
        self.assertTrue(transport.connected)
        self.assertIn(transport, self.reactor.getReaders())
        protocol.dataReceived(b"unread")
        self.assertEqual(transport.sent, b"READ")
        protocol.readConnectionLost()
        self.assertFalse(transport.connected)
        self.successResultOf(d)

    def test_noLingerWithoutUnreadInput(self) -> None:
        """
        With nothing unread, the connection closes as soon as its replies
        are written.
        """
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40000))
        assert isinstance(protocol, UppercaseProtocol)
        transport = _SocketTransport(self.reactor, protocol)
        self.addCleanup(transport.handle.close)
        self.addCleanup(transport.client.close)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"read")
        d = self.service.stopService()
        transport.flush()
        self.assertFalse(transport.connected)
        self.successResultOf(d)
