# -*- test-case-name: tests.test_udpclient -*-
"""
Tests for L{sockservice.client.udp}, over fake datagram transports and a clock.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorUDP, IUDPTransport
from twisted.internet.task import Clock
from twisted.internet.testing import FakeDatagramTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from sockservice.client.errors import ClientError, ConnectFailed, ConnectionClosed, NoReply
from sockservice.client.resolve import hostAddress
from sockservice.client.udp import DatagramClient, DatagramClientProtocol
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.servicefakes import FakeUDPPort, FakeUDPReactor

SERVER = ("127.0.0.1", 12000)


class FakeUDPPortTests(SynchronousTestCase):
    """
    The fake port is a faithful enough UDP port.
    """

    def test_interfaces(self):
        """
        L{FakeUDPPort} provides L{IUDPTransport} and L{IListeningPort}.
        """
        port = FakeUDPPort(DatagramClientProtocol(SERVER, Clock(), 1, 0), 1, "", 65535)
        verifyObject(IUDPTransport, port)
        verifyObject(IListeningPort, port)

    def test_reactorInterface(self):
        """
        L{FakeUDPReactor} provides L{IReactorUDP}, and C{listenUDP} connects
        the protocol to a new L{FakeUDPPort} bound to the interface asked for.
        """
        reactor = FakeUDPReactor()
        verifyObject(IReactorUDP, reactor)
        protocol = DatagramClientProtocol(SERVER, reactor, 1, 0)
        port = reactor.listenUDP(0, protocol, interface="::1", maxPacketSize=65535)
        self.assertIs(protocol.transport, port)
        self.assertEqual(reactor.udpPorts, [port])
        self.assertEqual(port.getHost(), IPv6Address("UDP", "::1", 40000))
        self.assertEqual(port.maxPacketSize, 65535)


def _protocol(timeout: float = 1.0, retries: int = 2):
    clock = Clock()
    protocol = DatagramClientProtocol(SERVER, clock, timeout, retries)
    transport = FakeDatagramTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


class DatagramClientProtocolTests(SynchronousTestCase):
    """
    One request at a time to the server's address, resent on a timeout.
    """

    def test_reply(self):
        """
        The payload goes to the server as it is; its datagram is the reply.
        """
        protocol, transport, clock = _protocol()
        result = protocol.request(b"hello")
        self.assertEqual(transport.written, [(b"hello", SERVER)])
        protocol.datagramReceived(b"HELLO", SERVER)
        self.assertEqual(self.successResultOf(result), b"HELLO")
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_strangerIgnored(self):
        """
        A datagram from any other address or port is not taken as the reply.
        """
        protocol, _, _ = _protocol()
        result = protocol.request(b"hello")
        protocol.datagramReceived(b"FORGED", ("127.0.0.2", 12000))
        protocol.datagramReceived(b"FORGED", ("127.0.0.1", 12001))
        self.assertNoResult(result)
        protocol.datagramReceived(b"HELLO", SERVER)
        self.assertEqual(self.successResultOf(result), b"HELLO")

    def test_sameAddressSpelledDifferently(self):
        """
        The server's IPv6 address is recognised however it is written.
        """
        protocol = DatagramClientProtocol(("::1", 12000), Clock(), 1, 0)
        protocol.makeConnection(FakeDatagramTransport())
        result = protocol.request(b"a")
        protocol.datagramReceived(b"A", ("0:0:0:0:0:0:0:1", 12000))
        self.assertEqual(self.successResultOf(result), b"A")

    def test_retries(self):
        """
        Without a reply, the request is sent again after each timeout, then
        fails with C{no reply from HOST:PORT after N tries}.
        """
        protocol, transport, clock = _protocol(timeout=0.5, retries=2)
        result = protocol.request(b"hello")
        clock.advance(0.5)
        clock.advance(0.5)
        self.assertEqual(len(transport.written), 3)
        self.assertNoResult(result)
        clock.advance(0.5)
        failure = self.failureResultOf(result, NoReply)
        self.assertEqual(str(failure.value), "no reply from 127.0.0.1:12000 after 3 tries")
        self.assertTrue(protocol.resent)

    def test_oneTry(self):
        """
        With no retries, the error says so in the singular.
        """
        protocol, _, clock = _protocol(timeout=1, retries=0)
        result = protocol.request(b"hello")
        clock.advance(1)
        failure = self.failureResultOf(result, NoReply)
        self.assertEqual(str(failure.value), "no reply from 127.0.0.1:12000 after 1 try")

    def test_replyToRetry(self):
        """
        A reply after a resend answers the request.
        """
        protocol, _, clock = _protocol()
        result = protocol.request(b"hello")
        clock.advance(1)
        protocol.datagramReceived(b"HELLO", SERVER)
        self.assertEqual(self.successResultOf(result), b"HELLO")
        self.assertEqual(protocol.tries, 2)

    def test_lateDuplicateIgnored(self):
        """
        A datagram that arrives while no request waits is dropped.
        """
        protocol, _, _ = _protocol()
        result = protocol.request(b"a")
        protocol.datagramReceived(b"A", SERVER)
        protocol.datagramReceived(b"A", SERVER)
        self.successResultOf(result)
        second = protocol.request(b"b")
        self.assertNoResult(second)

    def test_oneAtATime(self):
        """
        A second request while one waits is a programming error.
        """
        protocol, _, _ = _protocol()
        protocol.request(b"a")
        self.assertRaises(RuntimeError, protocol.request, b"b")

    def test_againstServer(self):
        """
        The real server protocol's reply is the client's answer.
        """
        protocol, transport, _ = _protocol()
        server = UppercaseDatagramProtocol(reactor=Clock())
        serverTransport = FakeUDPPort(server, 12000, "127.0.0.1", 65535)
        serverTransport.startListening()
        result = protocol.request("straße".encode())
        payload, _ = transport.written[0]
        server.datagramReceived(payload, ("127.0.0.1", 50000))
        reply, _ = serverTransport.written[0]
        protocol.datagramReceived(reply, SERVER)
        self.assertEqual(self.successResultOf(result), b"STRASSE")


class _Resolver:
    """
    Resolves every name to the given addresses.
    """

    def __init__(self, addresses: List[Any]) -> None:
        self.addresses = addresses
        self.asked: List[Tuple[str, str]] = []

    def resolveHostName(
        self,
        receiver,
        hostName,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ):
        self.asked.append((hostName, transportSemantics))
        receiver.resolutionBegan(None)
        for address in self.addresses:
            receiver.addressResolved(address)
        receiver.resolutionComplete()


def _client(host: str = "127.0.0.1", resolver: Optional[_Resolver] = None, **kwargs):
    reactor = FakeUDPReactor()
    if resolver is not None:
        reactor.nameResolver = resolver
    return DatagramClient(reactor, host, 12000, **kwargs), reactor


class DatagramClientTests(SynchronousTestCase):
    """
    L{DatagramClient} resolves, binds, and answers requests in turn.
    """

    def test_requestsInTurn(self):
        """
        A second request is sent only once the first is answered, from the
        same port.
        """
        client, reactor = _client()
        first, second = client.request(b"a"), client.request(b"b")
        port = reactor.udpPorts[0]
        self.assertEqual(port.written, [(b"a", SERVER)])
        port.protocol.datagramReceived(b"A", SERVER)
        self.assertEqual(self.successResultOf(first), b"A")
        self.assertEqual(port.written[1], (b"b", SERVER))
        port.protocol.datagramReceived(b"B", SERVER)
        self.assertEqual(self.successResultOf(second), b"B")
        self.assertEqual(len(reactor.udpPorts), 1)

    def test_bigDatagrams(self):
        """
        The port reads datagrams of any size UDP allows.
        """
        client, reactor = _client()
        client.request(b"a")
        self.assertEqual(reactor.udpPorts[0].maxPacketSize, 65535)

    def test_freshPortAfterResend(self):
        """
        After a request was resent, the next one goes out from a new port, so
        that a late reply to the old request is never taken for the new one's.
        """
        client, reactor = _client()
        first = client.request(b"a")
        reactor.advance(1.0)
        old = reactor.udpPorts[0]
        old.protocol.datagramReceived(b"A", SERVER)
        self.successResultOf(first)
        self.assertFalse(old.listening)
        second = client.request(b"b")
        self.assertEqual(len(reactor.udpPorts), 2)
        reactor.udpPorts[1].protocol.datagramReceived(b"B", SERVER)
        self.assertEqual(self.successResultOf(second), b"B")

    def test_noReply(self):
        """
        After every try times out, the request fails and the next one can
        still be made.
        """
        client, reactor = _client(timeout=2.0, retries=1)
        result = client.request(b"a")
        reactor.advance(2.0)
        reactor.advance(2.0)
        self.failureResultOf(result, NoReply)
        self.assertNoResult(client.request(b"b"))

    def test_ipv6(self):
        """
        An IPv6 server is reached from an IPv6 port.
        """
        client, reactor = _client("::1")
        client.request(b"a")
        port = reactor.udpPorts[0]
        self.assertEqual(port.interface, "::")
        self.assertEqual(port.written, [(b"a", ("::1", 12000))])

    def test_nameResolvedIPv4First(self):
        """
        A host name is resolved for UDP, and its IPv4 address is preferred.
        """
        resolver = _Resolver(
            [IPv6Address("UDP", "::1", 12000), IPv4Address("UDP", "127.0.0.1", 12000)]
        )
        client, reactor = _client("localhost", resolver)
        client.request(b"a")
        self.assertEqual(resolver.asked, [("localhost", "UDP")])
        self.assertEqual(reactor.udpPorts[0].written, [(b"a", SERVER)])

    def test_unresolvable(self):
        """
        A name with no address fails with one line naming it.
        """
        client, reactor = _client("nowhere.invalid", _Resolver([]))
        failure = self.failureResultOf(client.request(b"a"), ConnectFailed)
        self.assertEqual(str(failure.value), "cannot resolve host name 'nowhere.invalid'")
        self.assertEqual(reactor.udpPorts, [])

    def test_tooBig(self):
        """
        A payload too big for a UDP datagram is refused before sending.
        """
        client, reactor = _client()
        self.failureResultOf(client.request(b"x" * 65508), ClientError)
        self.assertEqual(reactor.udpPorts, [])

    def test_closeFailsQueued(self):
        """
        Closing fails the request under way and those queued behind it at
        once, without waiting for their timeouts.
        """
        client, reactor = _client()
        results = [client.request(b"a"), client.request(b"b"), client.request(b"c")]
        self.successResultOf(client.close())
        for result in results:
            self.failureResultOf(result, ConnectionClosed)
        self.assertEqual(len(reactor.udpPorts[0].written), 1)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_close(self):
        """
        L{DatagramClient.close} stops the port.
        """
        client, reactor = _client()
        result = client.request(b"a")
        reactor.udpPorts[0].protocol.datagramReceived(b"A", SERVER)
        self.successResultOf(result)
        self.successResultOf(client.close())
        self.assertFalse(reactor.udpPorts[0].listening)


class HostAddressTests(SynchronousTestCase):
    """
    L{hostAddress}: the one IP address a datagram client uses for a host.
    """

    def test_addressAsItIs(self):
        """
        An IP address is used as it is, without asking the resolver.
        """
        reactor = FakeUDPReactor()
        reactor.nameResolver = resolver = _Resolver([])
        for host in ("192.0.2.1", "::1"):
            found = Deferred.fromCoroutine(hostAddress(reactor, host, 9))
            self.assertEqual(self.successResultOf(found), host)
        self.assertEqual(resolver.asked, [])

    def test_ipv6Only(self):
        """
        A name with only IPv6 addresses gets its first one.
        """
        reactor = FakeUDPReactor()
        reactor.nameResolver = _Resolver(
            [IPv6Address("UDP", "2001:db8::2", 9), IPv6Address("UDP", "2001:db8::1", 9)]
        )
        found = Deferred.fromCoroutine(hostAddress(reactor, "example.test", 9))
        self.assertEqual(self.successResultOf(found), "2001:db8::2")
