# -*- test-case-name: tests.integration.test_writing -*-
"""
Tests for L{sockservice._fast.writing}, over real loopback TCP connections.
"""

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.trial.unittest import TestCase

from sockservice._fast.writing import GivenWriter, ImmediateWriter


class _Server(Protocol):
    lost = None

    def connectionMade(self):
        self.factory.connected.callback(self)

    def connectionLost(self, reason):
        self.lost = reason


class _Client(Protocol):
    def __init__(self, expected):
        self.expected = expected
        self.received = b""
        self.done = Deferred()

    def dataReceived(self, data):
        self.received += data
        if len(self.received) >= self.expected:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.reason = reason
        self.done.callback(self.received)


class _RecordingSocket:
    """
    A socket that records the names of the methods called on it.
    """

    def __init__(self, socket):
        self._socket = socket
        self.called = []

    def __getattr__(self, name):
        self.called.append(name)
        return getattr(self._socket, name)


class _LoopbackTestCase(TestCase):
    """
    A server-side TCP transport over loopback, and a client that collects
    what it receives.
    """

    async def connect(self, expected):
        factory = Factory.forProtocol(_Server)
        factory.connected = Deferred()
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = _Client(expected)
        reactor.connectTCP(
            "127.0.0.1", port.getHost().port, ClientFactory.forProtocol(lambda: client)
        )
        server = await factory.connected
        self.server = server
        return server.transport, client


class ImmediateWriterTests(_LoopbackTestCase):
    """
    L{ImmediateWriter.write} sends at once when nothing is queued, and
    otherwise keeps Twisted's order and buffering.
    """

    async def test_sentAtOnce(self):
        """
        A small write leaves nothing buffered and does not wait for the
        reactor to report the socket writable.
        """
        transport, client = await self.connect(5)
        ImmediateWriter(transport).write(b"hello")
        self.assertEqual(transport._tempDataLen, 0)
        self.assertNotIn(transport, reactor.getWriters())
        self.assertEqual(await client.done, b"hello")

    async def test_orderKeptBehindQueue(self):
        """
        When data is already queued, the write goes behind it.
        """
        transport, client = await self.connect(6)
        transport.write(b"abc")
        ImmediateWriter(transport).write(b"def")
        self.assertEqual(await client.done, b"abcdef")

    async def test_partialSendBuffered(self):
        """
        What the socket does not take at once is buffered and delivered in
        order.
        """
        size = 16 * 1024 * 1024
        transport, client = await self.connect(size + 1)
        write = ImmediateWriter(transport).write
        write(b"x" * size)
        write(b"y")
        self.assertGreater(transport._tempDataLen + len(transport.dataBuffer), 0)
        received = await client.done
        self.assertEqual(len(received), size + 1)
        self.assertEqual(received[-2:], b"xy")


class CloseWhenSentTests(_LoopbackTestCase):
    """
    L{ImmediateWriter.loseConnection} closes in the same turn when nothing is
    queued, and otherwise waits for the queue like Twisted's.
    """

    async def test_closesAtOnce(self):
        """
        With nothing queued, the connection is closed (and the protocol told,
        with a clean L{ConnectionDone}) before the call returns.
        """
        transport, client = await self.connect(5)
        writer = ImmediateWriter(transport)
        writer.write(b"hello")
        writer.loseConnection()
        self.assertFalse(transport.connected)
        self.assertTrue(self.server.lost.check(ConnectionDone))
        self.assertNotIn(transport, reactor.getReaders())
        self.assertNotIn(transport, reactor.getWriters())
        self.assertEqual(await client.done, b"hello")

    async def test_closeWithoutShutdown(self):
        """
        The socket is closed with one C{close()}, no C{shutdown()} first, and
        the client still sees an orderly close (a FIN, not a reset).
        """
        transport, client = await self.connect(0)
        writer = ImmediateWriter(transport)
        transport.socket = recording = _RecordingSocket(transport.socket)
        writer.loseConnection()
        self.assertEqual(recording.called, ["close"])
        self.assertEqual(await client.done, b"")
        self.assertTrue(client.reason.check(ConnectionDone))

    async def test_waitsForQueue(self):
        """
        Data still queued is delivered before the close.
        """
        size = 16 * 1024 * 1024
        transport, client = await self.connect(size + 1)
        transport.write(b"x" * size + b"y")
        ImmediateWriter(transport).loseConnection()
        self.assertTrue(transport.connected)
        self.assertTrue(transport.disconnecting)
        received = await client.done
        self.assertEqual(len(received), size + 1)
        self.assertEqual(received[-1:], b"y")

    async def test_waitsForProducer(self):
        """
        With a producer registered, the close is Twisted's: after the
        producer is unregistered.
        """
        transport, client = await self.connect(0)
        transport.registerProducer(transport, True)
        ImmediateWriter(transport).loseConnection()
        self.assertTrue(transport.connected)
        transport.unregisterProducer()
        self.assertEqual(await client.done, b"")


class GivenWriterTests(_LoopbackTestCase):
    """
    L{GivenWriter.loseConnection} first unregisters a connection registered
    as its own producer (as the accept loop registers one), then closes as
    L{ImmediateWriter.loseConnection} does.
    """

    async def test_closesAtOnce(self):
        """
        With nothing queued, the connection is unregistered and closed
        before the call returns.
        """
        transport, client = await self.connect(0)
        transport.registerProducer(transport, True)
        GivenWriter(transport).loseConnection()
        self.assertIsNone(transport.producer)
        self.assertFalse(transport.connected)
        self.assertTrue(self.server.lost.check(ConnectionDone))
        self.assertEqual(await client.done, b"")

    async def test_waitsForQueue(self):
        """
        With data queued, the connection is unregistered (so that the drained
        buffer does not resume reading) and closed after the data is
        delivered.
        """
        size = 16 * 1024 * 1024
        transport, client = await self.connect(size + 1)
        transport.registerProducer(transport, True)
        transport.write(b"x" * size + b"y")
        GivenWriter(transport).loseConnection()
        self.assertIsNone(transport.producer)
        self.assertTrue(transport.disconnecting)
        received = await client.done
        self.assertEqual(len(received), size + 1)
        self.assertEqual(received[-1:], b"y")

    async def test_otherProducerKept(self):
        """
        Another producer is left registered, and the close waits for it, as
        with an L{ImmediateWriter}.
        """
        transport, client = await self.connect(0)
        producer = Protocol()
        producer.stopProducing = lambda: None
        transport.registerProducer(producer, True)
        GivenWriter(transport).loseConnection()
        self.assertIs(transport.producer, producer)
        self.assertTrue(transport.connected)
        transport.unregisterProducer()
        self.assertEqual(await client.done, b"")
