# -*- test-case-name: tests.integration.test_switch -*-
"""
Tests for L{sockservice._fast.switch}: one switch turns every speed trick on
or off, and the TCP service works the same either way.
"""

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from sockservice._fast import switch
from sockservice._fast.writing import ImmediateWriter
from sockservice.uppercase.tcp import READ_SIZE_MAX, UppercaseFactory


class _Client(Protocol):
    """
    Sends C{request}, optionally half-closes, and collects the reply until
    the server closes.
    """

    def __init__(self, request, halfClose=False, paused=False):
        self.request = request
        self.halfClose = halfClose
        self.paused = paused
        self.received = []
        self.done = Deferred()

    def connectionMade(self):
        if self.paused:
            self.transport.pauseProducing()
        self.transport.write(self.request)
        if self.halfClose:
            self.transport.loseWriteConnection()

    def dataReceived(self, data):
        self.received.append(data)
        if self.paused is None and sum(map(len, self.received)) >= len(self.request):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.done.callback(b"".join(self.received))


class _ServiceOnBothPaths:
    """
    The TCP service over real loopback sockets, with the switch set to
    C{fast}.
    """

    fast: bool

    def setUp(self):
        self.patch(switch, "enabled", self.fast)
        self.factory = UppercaseFactory(mode="unicode", idleTimeout=0)
        self.built = []
        self.lost = []
        build = self.factory.buildProtocol

        def buildProtocol(addr):
            protocol = build(addr)
            self.built.append(protocol)
            lost = Deferred()
            self.lost.append(lost)
            connectionLost = protocol.connectionLost
            protocol.connectionLost = lambda reason: (connectionLost(reason), lost.callback(None))
            return protocol

        self.factory.buildProtocol = buildProtocol
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    def connect(self, client):
        reactor.connectTCP(
            "127.0.0.1", self.port.getHost().port, ClientFactory.forProtocol(lambda: client)
        )
        return client

    async def test_halfClose(self):
        """
        A client that half-closes gets its bytes upper-cased, the held-back
        end of a split UTF-8 sequence included, then the close; the path
        taken is the one the switch says.
        """
        client = self.connect(_Client("hello straße ".encode() + b"\xc3", halfClose=True))
        self.assertEqual(await client.done, b"HELLO STRASSE " + b"\xc3")
        await self.lost[0]
        [protocol] = self.built
        self.assertEqual(isinstance(protocol._out, ImmediateWriter), self.fast)

    async def test_backpressure(self):
        """
        A client that sends 8 MiB without reading makes the server stop
        reading with its buffer bounded, and gets everything back once it
        reads.
        """
        size = 8 * 1024 * 1024
        client = self.connect(_Client(b"abcdefgh" * (size // 8), paused=True))
        for _ in range(2000):
            if self.built and self.built[0].transport.producerPaused:
                break
            await deferLater(reactor, 0.01, lambda: None)
        server = self.built[0].transport
        self.assertTrue(server.producerPaused)
        self.assertLessEqual(
            len(server.dataBuffer) + server._tempDataLen, server.bufferSize + READ_SIZE_MAX
        )
        client.paused = None
        client.transport.resumeProducing()
        reply = await client.done
        await self.lost[0]
        self.assertEqual(len(reply), size)
        self.assertEqual(reply, b"ABCDEFGH" * (size // 8))


class FastPathServiceTests(_ServiceOnBothPaths, TestCase):
    """
    With the switch on.
    """

    fast = True


class PublicPathServiceTests(_ServiceOnBothPaths, TestCase):
    """
    With the switch forced off, as on a Twisted whose internals changed.
    """

    fast = False
