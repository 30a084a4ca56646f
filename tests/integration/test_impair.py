# -*- test-case-name: tests.integration.test_impair -*-
"""
The impairing proxies of L{tests.impair} over real loopback sockets, in front
of the real uppercase listeners: what comes through is what the impairment
says, and the reactor is left clean.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Protocol
from twisted.trial.unittest import TestCase

from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.impair import Impairment, TCPImpairingProxy, UDPImpairingProxy


def _sleep(seconds: float) -> Deferred[None]:
    waiting: Deferred[None] = Deferred()
    reactor.callLater(seconds, waiting.callback, None)  # type: ignore[attr-defined]
    return waiting


class _Replies(DatagramProtocol):
    def __init__(self) -> None:
        self.got: List[Tuple[float, bytes]] = []

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.got.append((reactor.seconds(), data))  # type: ignore[attr-defined]


class UDPProxyTests(TestCase):
    """
    L{UDPImpairingProxy} relays datagrams to a real server and back, each
    reply delayed and every k-th dropped.
    """

    async def test_delayAndDrop(self) -> None:
        """
        Of ten requests sent 30 ms apart through a proxy that delays replies
        by 20 ms and drops every fifth, eight come back upper-cased, none
        sooner than 20 ms.
        """
        server = reactor.listenUDP(  # type: ignore[attr-defined]
            0, UppercaseDatagramProtocol(mode="ascii"), interface="127.0.0.1"
        )
        self.addCleanup(server.stopListening)
        proxy = UDPImpairingProxy(
            reactor, server.getHost().port, replies=Impairment(delay=0.02, dropEvery=5)
        )
        port = proxy.start()
        self.addCleanup(proxy.stop)
        replies = _Replies()
        client = reactor.listenUDP(0, replies, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(client.stopListening)
        sent = {}
        for i in range(10):
            sent[b"ABC%d" % (i,)] = reactor.seconds()  # type: ignore[attr-defined]
            client.write(b"abc%d" % (i,), ("127.0.0.1", port))
            await _sleep(0.03)
        await _sleep(0.1)
        self.assertEqual(
            [data for _, data in replies.got], [b"ABC%d" % (i,) for i in (0, 1, 2, 3, 5, 6, 7, 8)]
        )
        for when, data in replies.got:
            self.assertGreaterEqual(when - sent[data], 0.0199)
        record = proxy.replies.record
        self.assertEqual((record.received, record.dropped, record.delivered), (10, 2, 8))
        self.assertEqual(proxy.requests.record.delivered, 10)


class _LineClient(Protocol):
    def __init__(self, lines: List[bytes]) -> None:
        self.lines = lines
        self.received = b""
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"".join(self.lines))
        self.transport.loseWriteConnection()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(self.received)


class TCPProxyTests(TestCase):
    """
    L{TCPImpairingProxy} relays a connection to a real server, acting on
    whole lines, and passes the half-close on.
    """

    async def test_lines(self) -> None:
        """
        With C{lines=True}, the second reply line is corrupted and the third
        duplicated; the client's half-close reaches the server, whose close
        comes back once every line is through.
        """
        server = reactor.listenTCP(  # type: ignore[attr-defined]
            0, UppercaseFactory(mode="ascii"), interface="127.0.0.1"
        )
        self.addCleanup(server.stopListening)
        proxy = TCPImpairingProxy(
            reactor,
            server.getHost().port,
            replies=Impairment(delay=0.02, corruptEvery=2, duplicateEvery=3, corruptOffset=-2),
            lines=True,
        )
        port = proxy.start()
        self.addCleanup(proxy.stop)
        client = _LineClient([b"one\n", b"two\n", b"three\n", b"four\n"])
        reactor.connectTCP("127.0.0.1", port, ClientFactory.forProtocol(lambda: client))  # type: ignore[attr-defined]
        received = await client.done
        self.assertEqual(received, b"ONE\nTWo\nTHREE\nTHREE\nFOUr\n")
        record = proxy.replies.record
        self.assertEqual((record.corrupted, record.duplicated), (2, 1))
        self.assertEqual(record.actions, [(2, "corrupt"), (3, "duplicate"), (4, "corrupt")])
