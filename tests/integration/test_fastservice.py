# -*- test-case-name: tests.integration.test_fastservice -*-
"""
The TCP uppercase service on the fast accept path
(L{sockservice._fast.accepting}): connections given their L{ImmediateWriter}
and registered as their own producers by the port behave as on Twisted's
public path: textbook round trips, half-close, backpressure.  On real
loopback sockets, with a L{DirectEPollReactor} that is never run (each test
polls it itself).
"""

import socket

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.python import context, log
from twisted.trial.unittest import SynchronousTestCase

from sockservice._fast.reactor import DirectEPollReactor
from sockservice._fast.reactorcheck import closeReactor
from sockservice._fast.writing import ImmediateWriter
from sockservice.uppercase.tcp import READ_SIZE_MAX, UppercaseFactory, UppercaseProtocol


class _Watched(UppercaseProtocol):
    """
    Records the legacy log context's C{system} at each read; fails on
    C{b"fail"}.
    """

    def connectionMade(self):
        super().connectionMade()
        self.systems = []

    def dataReceived(self, data):
        self.systems.append(context.get(log.ILogContext)["system"])
        if data == b"fail":
            raise ValueError("bad input")
        super().dataReceived(data)


class FastPathServiceTests(SynchronousTestCase):
    """
    L{sockservice.uppercase.tcp.UppercaseProtocol} on an L{AcceptingPort}.
    """

    def setUp(self):
        self.reactor = DirectEPollReactor()
        self.addCleanup(closeReactor, self.reactor)
        self.factory = UppercaseFactory(idleTimeout=0, reactor=Clock())
        self.port = self.reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.port.socket.close)

    def connect(self, receiveBuffer=None, request=b""):
        """
        A non-blocking client that has sent C{request}, accepted; and the
        server's protocol.
        """
        client = socket.socket()
        self.addCleanup(client.close)
        if receiveBuffer:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        client.connect(("127.0.0.1", self.port.getHost().port))
        client.setblocking(False)
        if request:
            client.send(request)
        before = set(self.factory.guard._connections)
        self.port.doRead()
        [transport] = set(self.factory.guard._connections) - before
        protocol = transport.protocol
        self.addCleanup(self.abort, protocol.transport)
        return client, protocol

    def abort(self, transport):
        if transport.connected:
            transport.abortConnection()

    def receive(self, client, until):
        """
        Poll the server and read the client until C{until(received)} or
        the server closes.
        """
        received = []
        for _ in range(100000):
            self.reactor.doPoll(0)
            try:
                data = client.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                break
            received.append(data)
            if until(b"".join(received)):
                break
        return b"".join(received)

    def test_roundTrip(self):
        """
        The textbook connection (send, receive, close) is answered and ends
        cleanly, through the writer the port gave the protocol, with the
        transport registered as its own streaming producer; the second
        connection of its class has Twisted's C{repr} and log prefix.
        """
        self.connect()[1].transport.abortConnection()
        self.reactor.runUntilCurrent()  # its connectionLost
        client, protocol = self.connect()
        transport = protocol.transport
        port = self.port.getHost().port
        self.assertEqual(repr(transport), f"<UppercaseProtocol #1 on {port}>")
        self.assertEqual(transport.logstr, "UppercaseProtocol,1,127.0.0.1")
        self.assertIsInstance(protocol.immediateWriter, ImmediateWriter)
        self.assertIs(protocol._out, protocol.immediateWriter)
        self.assertIs(protocol.immediateWriter.connection, transport)
        self.assertIs(transport.producer, transport)
        self.assertTrue(transport.streamingProducer)
        client.send("hello straße".encode())
        self.assertEqual(self.receive(client, lambda r: len(r) >= 14), b"HELLO STRASSE")
        self.patch(type(transport), "unregisterProducer", lambda t: self.fail("unregistered"))
        client.shutdown(socket.SHUT_WR)
        for _ in range(1000):
            self.reactor.doPoll(0.01)
            if transport.disconnecting or not transport.connected:
                break
        # Closed in the turn that read the end of its input.
        self.assertFalse(transport.connected)
        self.assertEqual(self.receive(client, lambda r: False), b"")
        self.assertIsNone(transport.producer)
        self.assertEqual(self.factory.guard.connections.total, 0)
        self.assertEqual(self.factory.counters.closed["client"], 1)
        self.assertEqual(self.factory.counters.accepted, 2)

    def test_backpressure(self):
        """
        A client that sends without reading makes the server stop reading
        with its write buffer bounded; once the client reads, it gets
        every byte back, upper-cased, and the close after its half-close.
        """
        client, protocol = self.connect(receiveBuffer=4096)
        transport = protocol.transport
        chunk = b"abcdefgh" * 8192
        sent = 0
        for _ in range(100000):
            try:
                sent += client.send(chunk)
            except BlockingIOError:
                pass
            self.reactor.doPoll(0)
            if transport.producerPaused:
                break
        self.assertTrue(transport.producerPaused)
        self.assertNotIn(transport, self.reactor.getReaders())
        self.assertLessEqual(
            len(transport.dataBuffer) + transport._tempDataLen,
            transport.bufferSize + READ_SIZE_MAX,
        )
        client.shutdown(socket.SHUT_WR)
        reply = self.receive(client, lambda r: False)
        self.assertEqual(len(reply), sent)
        self.assertEqual(
            reply, chunk.upper() * (sent // len(chunk)) + chunk[: sent % len(chunk)].upper()
        )
        self.assertFalse(transport.connected)

    def test_givenWriter(self):
        """
        A protocol class that declares C{immediateWriter = None} finds its
        connection's L{ImmediateWriter} there by C{connectionMade}, its
        connection registered as its own streaming producer; others are
        given neither.  Either way the connection's socket is a
        C{socket.socket} as C{socket.socket}'s constructor makes it, made
        without running that constructor.
        """
        seen = []

        class Given(Protocol):
            immediateWriter = None

            def connectionMade(self):
                seen.append(self.immediateWriter)

        protocols, ports = [], []
        for kind in (Given, Protocol):
            factory = Factory.forProtocol(kind)
            factory.buildProtocol = lambda addr, kind=kind: (
                protocols.append(kind()) or protocols[-1]
            )
            port = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
            self.addCleanup(port.socket.close)
            client = socket.create_connection(("127.0.0.1", port.getHost().port))
            self.addCleanup(client.close)
            ports.append(port)
        self.patch(socket.socket, "__init__", lambda *a: self.fail("socket.__init__ ran"))
        for port in ports:
            port.doRead()
            self.addCleanup(self.abort, protocols[-1].transport)
        given, plain = protocols
        [writer] = seen
        self.assertIsInstance(writer, ImmediateWriter)
        self.assertIs(writer.connection, given.transport)
        self.assertEqual(writer._send, given.transport.socket.send)
        self.assertIs(given.transport.producer, given.transport)
        self.assertTrue(given.transport.streamingProducer)
        self.assertNotIn("immediateWriter", vars(plain))
        self.assertIsNone(plain.transport.producer)
        for skt in (given.transport.socket, plain.transport.socket):
            self.assertIs(type(skt), socket.socket)
            self.assertEqual(
                (skt.family, skt.type, skt.gettimeout()), (socket.AF_INET, socket.SOCK_STREAM, 0.0)
            )
            self.assertEqual((skt._io_refs, skt._closed), (0, False))

    def test_firstReadAtOnce(self):
        """
        A request that is there when the connection is accepted is read and
        answered by the accept itself, under the connection's log prefix
        (as the reactor's event for it would be), and the accepting event's
        prefix is restored after.
        """
        self.factory.protocol = _Watched
        outer = context.get(log.ILogContext)["system"]
        client, protocol = self.connect(request=b"hello")
        self.assertEqual(protocol.systems, [protocol.transport.logstr])
        self.assertEqual(context.get(log.ILogContext)["system"], outer)
        self.assertEqual(client.recv(100), b"HELLO")
        client.send(b"again")
        self.assertEqual(self.receive(client, lambda r: len(r) >= 5), b"AGAIN")

    def test_firstReadFails(self):
        """
        A first read whose protocol raises is logged, and the connection
        ends, as when the reactor reads it.
        """
        self.factory.protocol = _Watched
        client = socket.create_connection(("127.0.0.1", self.port.getHost().port))
        self.addCleanup(client.close)
        client.send(b"fail")
        self.port.doRead()
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertEqual(self.factory.counters.accepted, 1)
        self.assertEqual(self.factory.guard.connections.total, 0)
        self.assertEqual(set(self.reactor.getReaders()), {self.reactor.waker, self.port})
        client.settimeout(5)
        self.assertEqual(client.recv(10), b"")

    def test_firstReadNothing(self):
        """
        With nothing sent yet, the first read at once finds nothing and
        the connection waits for its request as usual.
        """
        client, protocol = self.connect()
        self.assertTrue(protocol.transport.connected)
        self.assertIn(protocol.transport, self.reactor.getReaders())
        client.send(b"late")
        self.assertEqual(self.receive(client, lambda r: len(r) >= 4), b"LATE")
