# -*- test-case-name: tests.test_proxiedudp -*-
"""
Tests for L{sockservice.server.proxiedudp}: UDP services behind a balancer
that sends PROXY headers (nginx C{proxy_protocol on}) see the client from
the header, and reply through the balancer's session.
"""

from __future__ import annotations

from typing import Any, Dict, List

from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.server.addresses import InetAddress, parseUDP
from sockservice.server.guard import ConnectionGuard
from sockservice.server.proxiedudp import ProxiedDatagramProtocol
from sockservice.tap import Options
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.servicefakes import FakeDatagramTransport
from tests.test_proxyheader import v1Header, v2Header

NGINX = "127.0.0.1"
SESSION = (NGINX, 50001)


class _Base(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.guard = ConnectionGuard(self.clock)
        self.events: List[Dict[str, Any]] = []
        self.service = UppercaseDatagramProtocol(rate=1, burst=2, reactor=self.clock)

    def proxied(self, service: Any = None, **kwargs: Any) -> ProxiedDatagramProtocol:
        protocol = ProxiedDatagramProtocol(
            service or self.service, frozenset([NGINX]), self.guard, self.clock, **kwargs
        )
        protocol.log = Logger(observer=self.events.append)
        self.transport = FakeDatagramTransport("127.0.1.1", 12100)
        protocol.makeConnection(self.transport)
        return protocol


class ProxiedDatagramTests(_Base):
    """
    Datagrams from a balancer are the header's client's; replies go back to
    the balancer's session.
    """

    def test_headerEveryDatagram(self) -> None:
        """
        With a v1 header (what nginx sends) the payload alone is served, and
        the reply goes to the balancer's session address.
        """
        protocol = self.proxied()
        protocol.datagramReceived(v1Header("192.0.2.7", 40000) + b"hello", SESSION)
        self.assertEqual(self.transport.pop(), [(b"HELLO", SESSION)])
        self.assertEqual(protocol.clientOf, {SESSION: ("192.0.2.7", 40000)})

    def test_rateLimitPerClient(self) -> None:
        """
        The per-source rate limit counts the clients named by the headers,
        not the balancer: one client past its burst is dropped, another is
        served.
        """
        protocol = self.proxied()
        for n in range(3):
            protocol.datagramReceived(v2Header("192.0.2.7", 40000 + n) + b"x", (NGINX, 50000 + n))
        protocol.datagramReceived(v2Header("198.51.100.1") + b"y", (NGINX, 50010))
        replies = self.transport.pop()
        self.assertEqual([data for data, _ in replies], [b"X", b"X", b"Y"])
        self.assertEqual(self.service.dropped["rate"], 1)

    def test_sessionWithoutHeader(self) -> None:
        """
        Later datagrams of a session carry no header: they are its client's.
        """
        protocol = self.proxied()
        protocol.datagramReceived(v1Header("192.0.2.7") + b"a", SESSION)
        protocol.datagramReceived(b"b", SESSION)
        self.assertEqual(self.transport.pop(), [(b"A", SESSION), (b"B", SESSION)])

    def test_noHeaderNoSession(self) -> None:
        """
        A datagram from a balancer without a header and outside any known
        session is dropped, counted and logged.
        """
        protocol = self.proxied()
        protocol.datagramReceived(b"hello", SESSION)
        protocol.datagramReceived(b"PROXY TCP4 1.2.3", SESSION)
        self.assertEqual(self.transport.pop(), [])
        self.assertEqual(self.guard.proxyHeadersRejected, 2)
        self.assertEqual([e["event"] for e in self.events], ["proxy_header_rejected"])

    def test_othersAsTheyAre(self) -> None:
        """
        A datagram from any other address is served as it is: its header,
        if any, is not believed.
        """
        protocol = self.proxied()
        header = v1Header("192.0.2.7")
        protocol.datagramReceived(header, ("127.0.0.9", 40000))
        self.assertEqual(self.transport.pop(), [(header.upper(), ("127.0.0.9", 40000))])

    def test_sessionsBounded(self) -> None:
        """
        Past the most sessions remembered, the oldest is forgotten.
        """
        protocol = self.proxied(maxSessions=2)
        for n in range(3):
            protocol.datagramReceived(v1Header(f"192.0.2.{n + 1}") + b"x", (NGINX, 50000 + n))
        self.assertEqual(list(protocol.clientOf), [(NGINX, 50001), (NGINX, 50002)])
        self.assertEqual(len(protocol.sessionOf), 2)

    def test_chatThroughBalancer(self) -> None:
        """
        The chat relay's cookie round trip and its messages to a member go
        through the member's balancer session.
        """
        chat = ChatProtocol(self.clock)
        protocol = self.proxied(chat)
        join = b"JOIN alice".ljust(64)
        protocol.datagramReceived(v1Header("192.0.2.7") + join, SESSION)
        ((cookie, to),) = self.transport.pop()
        self.assertEqual(to, SESSION)
        protocol.datagramReceived(b"JOIN alice " + cookie.split()[1].ljust(64), SESSION)
        self.assertEqual(self.transport.pop(), [(b"JOINED alice", SESSION)])

    def test_stop(self) -> None:
        """
        Stopping the listener stops the service's protocol.
        """
        protocol = self.proxied()
        protocol.doStop()
        self.assertIsNone(self.service.transport)


class ProxyFromOptionTests(SynchronousTestCase):
    """
    C{proxyfrom=} on a UDP description names the balancers.
    """

    def test_parsed(self) -> None:
        """
        Addresses separated by commas, IPv6 ones with escaped colons.
        """
        self.assertEqual(
            parseUDP("udp:12100:interface=127.0.1.1:proxyfrom=127.0.0.1,\\:\\:1"),
            InetAddress(12100, "127.0.1.1", None, frozenset(["127.0.0.1", "::1"])),
        )

    def test_invalid(self) -> None:
        """
        Anything but IP addresses is a usage error.
        """
        self.assertRaises(UsageError, parseUDP, "udp:12100:proxyfrom=nginx.local")

    def test_notWithWorkers(self) -> None:
        """
        Workers inherit bare sockets: C{proxyfrom=} with C{--workers} is refused.
        """
        options = Options()
        self.assertRaises(
            UsageError,
            options.parseOptions,
            ["--workers", "2", "--udp", "udp:0:proxyfrom=127.0.0.1"],
        )
