# -*- test-case-name: tests.test_tcp -*-
"""
Tests for L{sockservice.uppercase.tcp}, over in-memory transports.
"""

from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from sockservice.casing import maxExpansion, transform
from sockservice.uppercase.tcp import (
    READ_SIZE_MAX,
    UppercaseFactory,
    UppercaseProtocol,
)


def _address(host="192.0.2.7", port=40000):
    return (IPv6Address if ":" in host else IPv4Address)("TCP", host, port)


def _connect(factory, host="192.0.2.7"):
    protocol = factory.buildProtocol(_address(host))
    transport = StringTransport(peerAddress=_address(host))
    protocol.makeConnection(transport)
    return protocol, transport


class StreamTests(SynchronousTestCase):
    """
    Bytes come back upper-cased on the same connection, without framing.
    """

    def setUp(self):
        self.clock = MemoryReactorClock()
        self.factory = UppercaseFactory(reactor=self.clock)
        self.protocol, self.transport = _connect(self.factory)

    def test_noFramingNeeded(self):
        """
        A message without a newline is answered at once.
        """
        self.protocol.dataReceived(b"hello")
        self.assertEqual(self.transport.value(), b"HELLO")

    def test_manyMessages(self):
        """
        Many messages on one connection are each answered, in order.
        """
        for word in [b"one\n", b"two\n", b"three\n"]:
            self.protocol.dataReceived(word)
        self.assertEqual(self.transport.value(), b"ONE\nTWO\nTHREE\n")
        self.assertFalse(self.transport.disconnecting)

    def test_everySplitPoint(self):
        """
        However a multi-byte stream is split into reads, the reply is the
        whole stream's transform.
        """
        data = "straße, ΐ and €: ".encode() + b"\xff\xc3"
        for i in range(len(data) + 1):
            protocol, transport = _connect(self.factory)
            protocol.dataReceived(data[:i])
            protocol.dataReceived(data[i:])
            protocol.readConnectionLost()
            self.assertEqual(transport.value(), transform(data), i)

    def test_asciiMode(self):
        """
        A factory in ascii mode leaves non-ASCII bytes alone.
        """
        protocol, transport = _connect(UppercaseFactory(mode="ascii", reactor=self.clock))
        protocol.dataReceived("straße".encode())
        self.assertEqual(transport.value(), "STRAßE".encode())


class HalfCloseTests(SynchronousTestCase):
    """
    A client that shuts down its sending side gets everything due, then EOF.
    """

    def test_flushThenClose(self):
        """
        A held-back incomplete sequence is sent at half-close, then the
        connection closes.
        """
        factory = UppercaseFactory(reactor=MemoryReactorClock())
        protocol, transport = _connect(factory)
        protocol.dataReceived(b"abc\xe2\x82")
        self.assertEqual(transport.value(), b"ABC")
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), b"ABC\xe2\x82")
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer)

    def test_writeSideLost(self):
        """
        When the connection can no longer be written to, it is closed.
        """
        protocol, transport = _connect(UppercaseFactory(reactor=MemoryReactorClock()))
        protocol.writeConnectionLost()
        self.assertTrue(transport.disconnecting)


class _SlowSocketTransport(FileDescriptor):
    """
    A real L{FileDescriptor} (Twisted's write buffer and producer logic) whose
    socket accepts only C{room} more bytes.
    """

    def __init__(self, reactor):
        super().__init__(reactor)
        self.connected = True
        self.room = 0
        self.sent = b""

    def writeSomeData(self, data):
        n = min(len(data), self.room)
        self.sent += bytes(data[:n])
        self.room -= n
        return n

    def getPeer(self):
        return _address()


class BackpressureTests(SynchronousTestCase):
    """
    A client that sends without reading cannot make the server buffer
    without bound: the server stops reading from it until it drains.
    """

    def test_registeredAsOwnProducer(self):
        """
        The transport is registered as a streaming producer of itself.
        """
        protocol, transport = _connect(UppercaseFactory(reactor=MemoryReactorClock()))
        self.assertIs(transport.producer, transport)
        self.assertTrue(transport.streaming)

    def test_pauseAndResume(self):
        """
        Once the write buffer is full, reading stops; once it drains, reading
        resumes, and every byte is delivered.
        """
        reactor = MemoryReactorClock()
        factory = UppercaseFactory(reactor=reactor)
        protocol = factory.buildProtocol(_address())
        transport = _SlowSocketTransport(reactor)
        protocol.makeConnection(transport)
        transport.startReading()
        self.assertIn(transport, reactor.getReaders())

        data = b"x" * (transport.bufferSize * 2)
        protocol.dataReceived(data)
        self.assertNotIn(transport, reactor.getReaders())

        transport.room = len(data)
        transport.doWrite()
        self.assertIn(transport, reactor.getReaders())
        self.assertEqual(transport.sent, data.upper())

    def test_boundedAtLargestReads(self):
        """
        A client that sends without reading, in ASCII reads that grow to the
        largest and then in reads whose replies are three times as long
        (U+0390), is no longer read from once the server holds at most its
        high-water mark plus one reply: four of the largest reads.
        """
        reactor = MemoryReactorClock()
        protocol = UppercaseFactory(reactor=reactor).buildProtocol(_address())
        transport = _SlowSocketTransport(reactor)
        protocol.makeConnection(transport)
        transport.startReading()
        sent = []
        while transport in reactor.getReaders():
            size = transport.bufferSize
            sent.append(b"a" * size if size < READ_SIZE_MAX else "ΐ".encode() * (size // 2))
            protocol.dataReceived(sent[-1])
            self.assertLess(len(sent), 40)
        buffered = len(transport.dataBuffer) + transport._tempDataLen
        self.assertEqual(transport.bufferSize, READ_SIZE_MAX)
        self.assertLessEqual(buffered, (1 + maxExpansion) * READ_SIZE_MAX)

        transport.room = 1 << 30
        transport.doWrite()
        self.assertIn(transport, reactor.getReaders())
        self.assertEqual(transport.sent, transform(b"".join(sent)))


class _NoDelayTransport(StringTransport):
    """
    A transport that records the C{setTcpNoDelay} calls made on it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.noDelayCalls = []

    def setTcpNoDelay(self, enabled):
        self.noDelayCalls.append(enabled)


class NoDelayTests(SynchronousTestCase):
    """
    Every connection runs with Nagle's algorithm off, set by the connection
    unless its listener already handed it over that way.
    """

    def _connect(self, factory):
        protocol = factory.buildProtocol(_address())
        transport = _NoDelayTransport(peerAddress=_address())
        protocol.makeConnection(transport)
        return transport

    def test_setByConnection(self):
        """
        By default each connection sets C{TCP_NODELAY} itself.
        """
        transport = self._connect(UppercaseFactory(reactor=MemoryReactorClock()))
        self.assertEqual(transport.noDelayCalls, [True])

    def test_inheritedFromListener(self):
        """
        When the listeners set it for every connection they accept, the
        connection makes no call of its own.
        """
        factory = UppercaseFactory(reactor=MemoryReactorClock())
        factory.acceptedNoDelay = True
        transport = self._connect(factory)
        self.assertEqual(transport.noDelayCalls, [])


class IdleTimeoutTests(SynchronousTestCase):
    """
    Idle connections are closed after the idle timeout, measured by the
    reactor's clock.
    """

    def setUp(self):
        self.clock = MemoryReactorClock()
        self.factory = UppercaseFactory(idleTimeout=10, reactor=self.clock)

    def test_idleClosed(self):
        """
        After C{idleTimeout} seconds with no input (and less than one sweep
        interval more), the connection is aborted (not waiting for a client
        that may not read), and it is logged once.
        """
        protocol, transport = _connect(self.factory)
        self.clock.pump([1] * 10)
        self.assertFalse(transport.disconnected)
        with capturedLogs() as events:
            self.clock.advance(self.factory.guard.idle.interval)
        self.assertTrue(transport.disconnected)
        self.assertEqual(len(events), 1)
        self.assertIn("idle", events[0]["log_format"])

    def test_activityResets(self):
        """
        Input restarts the idle timer.
        """
        protocol, transport = _connect(self.factory)
        self.clock.advance(8)
        protocol.dataReceived(b"x")
        self.clock.advance(8)
        self.assertFalse(transport.disconnected)
        self.clock.advance(3)
        self.assertTrue(transport.disconnected)

    def test_disabled(self):
        """
        An idle timeout of 0 never closes a connection.
        """
        protocol, transport = _connect(UppercaseFactory(idleTimeout=0, reactor=self.clock))
        self.clock.advance(10**6)
        self.assertFalse(transport.disconnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_lostCancelsTimer(self):
        """
        A closed connection leaves no timer behind.
        """
        protocol, transport = _connect(self.factory)
        protocol.connectionLost(None)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class ConnectionCapTests(SynchronousTestCase):
    """
    The total and per-address caps refuse new connections, log once per
    refusal, and leave other connections alone.
    """

    def test_totalCap(self):
        """
        Past C{maxConnections}, new connections are refused until one closes.
        """
        factory = UppercaseFactory(maxConnections=2, reactor=MemoryReactorClock())
        first, _ = _connect(factory, "192.0.2.1")
        _connect(factory, "192.0.2.2")
        with capturedLogs() as events:
            self.assertIsNone(factory.buildProtocol(_address("192.0.2.3")))
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["log_level"], LogLevel.warn)
        first.connectionLost(None)
        self.assertIsInstance(factory.buildProtocol(_address("192.0.2.3")), UppercaseProtocol)

    def test_perAddressCap(self):
        """
        Past C{maxPerAddress} from one address, that address is refused and
        others still connect; existing connections keep working.
        """
        factory = UppercaseFactory(maxPerAddress=2, reactor=MemoryReactorClock())
        protocols = [_connect(factory, "2001:db8::5") for _ in range(2)]
        self.assertIsNone(factory.buildProtocol(_address("2001:db8::5")))
        self.assertIsNotNone(factory.buildProtocol(_address("2001:db8::6")))
        protocol, transport = protocols[0]
        protocol.dataReceived(b"still here")
        self.assertEqual(transport.value(), b"STILL HERE")

    def test_loopbackExempt(self):
        """
        Loopback clients are exempt from the per-address cap by default, but
        not with C{limitLoopback}.
        """
        factory = UppercaseFactory(maxPerAddress=1, reactor=MemoryReactorClock())
        for _ in range(5):
            self.assertIsNotNone(factory.buildProtocol(_address("127.0.0.1")))
        strict = UppercaseFactory(maxPerAddress=1, limitLoopback=True, reactor=MemoryReactorClock())
        self.assertIsNotNone(strict.buildProtocol(_address("127.0.0.1")))
        self.assertIsNone(strict.buildProtocol(_address("127.0.0.1")))

    def test_unixSocketClients(self):
        """
        Clients of a UNIX socket have no IP address and are not per-address
        capped, but count toward the total.
        """
        factory = UppercaseFactory(maxConnections=2, maxPerAddress=1, reactor=MemoryReactorClock())
        self.assertIsNotNone(factory.buildProtocol(UNIXAddress(None)))
        self.assertIsNotNone(factory.buildProtocol(UNIXAddress(None)))
        self.assertIsNone(factory.buildProtocol(UNIXAddress(None)))
