# -*- test-case-name: tests.integration.test_loopback -*-
"""
Real sockets on 127.0.0.1, in this process: the protocols over the reactor's
own TCP and UDP transports.
"""

import os
import shutil
import socket
import sys
import tempfile
from unittest import SkipTest

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ServerEndpoint, UNIXServerEndpoint
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.trial.unittest import TestCase

from sockservice.server.listeners import TCPListener
from sockservice.uppercase.tcp import READ_SIZE_MAX, UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol


class _RecordingFactory(UppercaseFactory):
    """
    L{UppercaseFactory} that keeps the protocols it builds.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = []
        self.lost = []

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        self.built.append(protocol)
        lost = Deferred()
        self.lost.append(lost)
        original = protocol.connectionLost

        def connectionLost(reason):
            original(reason)
            lost.callback(None)

        protocol.connectionLost = connectionLost
        return protocol


class _FloodClient(Protocol):
    """
    Sends C{size} bytes without reading until told to; then collects the
    reply.
    """

    def __init__(self, size):
        self.size = size
        self.received = []
        self.count = 0
        self.done = Deferred()

    def connectionMade(self):
        self.transport.pauseProducing()
        self.transport.write(b"abcdefgh" * (self.size // 8))

    def dataReceived(self, data):
        self.received.append(data)
        self.count += len(data)
        if self.count >= self.size:
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.done.callback(b"".join(self.received))


def _poll(condition, timeout=20.0):
    """
    Fire when C{condition()} becomes true (checked every 10 ms), or fail
    after C{timeout} seconds.
    """
    result = Deferred()
    started = reactor.seconds()

    def check():
        if condition():
            loop.stop()
        elif reactor.seconds() - started > timeout:
            loop.stop()
            raise AssertionError("condition not met within %s s" % (timeout,))

    loop = LoopingCall(check)
    loop.start(0.01).chainDeferred(result)
    return result


class BackpressureTests(TestCase):
    """
    Over real sockets, a client that sends without reading cannot make the
    server buffer without bound, and still gets every byte back in the end.
    """

    async def test_boundedBuffer(self):
        """
        While the client does not read, the server stops reading from it
        with at most its write buffer's high-water mark plus one read's reply
        buffered; once the client reads, all 32 MiB come back upper-cased.
        """
        factory = _RecordingFactory(mode="ascii")
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        size = 32 * 1024 * 1024
        client = _FloodClient(size)
        clientFactory = ClientFactory.forProtocol(lambda: client)
        reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory)

        await _poll(lambda: factory.built and factory.built[0].transport.producerPaused)
        server = factory.built[0].transport
        buffered = len(server.dataBuffer) + server._tempDataLen
        self.assertLessEqual(buffered, server.bufferSize + READ_SIZE_MAX)
        self.assertFalse(server.connected and server in reactor.getReaders())

        client.transport.resumeProducing()
        reply = await client.done
        await gatherResults(factory.lost)
        self.assertEqual(len(reply), size)
        self.assertEqual(reply, b"ABCDEFGH" * (size // 8))


class _Collector(DatagramProtocol):
    def __init__(self, expected):
        self.expected = expected
        self.replies = []
        self.done = Deferred()

    def datagramReceived(self, data, addr):
        self.replies.append((data, addr))
        if len(self.replies) == self.expected:
            self.done.callback(self.replies)


class UDPLoopbackTests(TestCase):
    """
    Over a real UDP socket, whole datagrams up to the 64 KiB limit are
    answered.
    """

    async def test_largeDatagram(self):
        """
        A 60,000-byte datagram (more than Twisted's default 8 KiB read size)
        comes back whole and upper-cased, as does an empty one.
        """
        from sockservice.server.listeners import UDPListener

        listener = UDPListener(
            "test", 0, UppercaseDatagramProtocol(), interface="127.0.0.1", maxPacketSize=65535
        )
        listener.startService()
        self.addCleanup(listener.stopService)
        serverPort = listener._port.getHost().port
        collector = _Collector(2)
        clientPort = reactor.listenUDP(0, collector, interface="127.0.0.1", maxPacketSize=65535)
        self.addCleanup(clientPort.stopListening)
        clientPort.write(b"q" * 60000, ("127.0.0.1", serverPort))
        clientPort.write(b"", ("127.0.0.1", serverPort))
        replies = await collector.done
        self.assertEqual(sorted(len(r) for r, _ in replies), [0, 60000])
        self.assertIn((b"Q" * 60000, ("127.0.0.1", serverPort)), replies)


class _QuietClient(Protocol):
    """
    Sends one message, then nothing; records when its reply came and when
    the server closed the connection.
    """

    def __init__(self):
        self.repliedAt = None
        self.closed = Deferred()

    def connectionMade(self):
        self.transport.write(b"quiet")

    def dataReceived(self, data):
        self.repliedAt = reactor.seconds()

    def connectionLost(self, reason):
        self.closed.callback(reactor.seconds())


class IdleLoopbackTests(TestCase):
    """
    Over a real socket, the idle sweep closes a silent client after the
    timeout, and leaves no timer behind once it has.
    """

    async def test_silentClosed(self):
        """
        A client silent for C{idleTimeout} seconds after its last message is
        disconnected by the server, not before; the reactor is left clean
        (trial would report a pending sweep).
        """
        factory = _RecordingFactory(idleTimeout=0.3)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = _QuietClient()
        reactor.connectTCP(
            "127.0.0.1", port.getHost().port, ClientFactory.forProtocol(lambda: client)
        )
        closedAt = await client.closed
        await gatherResults(factory.lost)
        self.assertIsNotNone(client.repliedAt)
        self.assertGreaterEqual(closedAt - client.repliedAt, 0.3 - 0.05)
        self.assertEqual(len(factory.guard.idle), 0)


class ListenerNoDelayTests(TestCase):
    """
    L{TCPListener} sets C{TCP_NODELAY} on its listening socket, where the
    kernel hands it on to every accepted connection (Linux), and tells the
    factory so that connections skip their own C{setsockopt}.
    """

    async def test_accepted(self):
        """
        A connection accepted by a TCP listener has C{TCP_NODELAY} set,
        though its protocol did not set it.
        """
        if not sys.platform.startswith("linux"):
            raise SkipTest("Linux copies TCP_NODELAY to accepted sockets")
        factory = _RecordingFactory()
        listener = TCPListener(
            "TCP test", TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"), factory
        )
        listener.startService()
        self.addCleanup(listener.stopService)
        self.assertTrue(factory.acceptedNoDelay)
        client = _QuietClient()
        reactor.connectTCP(
            "127.0.0.1",
            listener.port.getHost().port,
            ClientFactory.forProtocol(lambda: client),
        )
        await _poll(lambda: factory.built)
        server = factory.built[0].transport
        self.assertTrue(server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        server.loseConnection()
        await client.closed
        await gatherResults(factory.lost)

    async def test_unixListener(self):
        """
        A UNIX socket listener leaves the factory's connections to set it
        themselves (where they can).
        """
        factory = _RecordingFactory()
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "s")
        listener = TCPListener("UNIX test", UNIXServerEndpoint(reactor, path), factory)
        listener.startService()
        self.addCleanup(listener.stopService)
        self.assertFalse(factory.acceptedNoDelay)
