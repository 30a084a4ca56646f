# -*- test-case-name: tests.test_client -*-
"""
Tests for L{sockservice.client.calls} and L{sockservice.client.errors}: the library
calls, against the real server protocols connected in memory.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
    DNSLookupError,
    TimeoutError,
)
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.test.iosim import ConnectionCompleter
from twisted.trial.unittest import SynchronousTestCase

from sockservice.client import formatPeer
from sockservice.client.calls import oneRequest, uppercaseTCP, uppercaseUDP
from sockservice.client.errors import (
    ClientError,
    ConnectFailed,
    NoReply,
    describeConnectFailure,
    describeError,
    describeLoss,
)
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.servicefakes import FakeUDPPort, FakeUDPReactor


class FailureWordsTests(SynchronousTestCase):
    """
    Every failure reads as one line naming the peer and the cause.
    """

    def test_formatPeer(self):
        """
        IPv6 addresses are bracketed; names and IPv4 addresses are not.
        """
        self.assertEqual(formatPeer("127.0.0.1", 12000), "127.0.0.1:12000")
        self.assertEqual(formatPeer("::1", 12000), "[::1]:12000")
        self.assertEqual(formatPeer("localhost", 1), "localhost:1")

    def test_describe(self):
        """
        Refused, unresolvable, timed out and other connection failures each
        get their own words.
        """
        cases = [
            (ConnectionRefusedError(), "connection refused by 127.0.0.1:12000"),
            (DNSLookupError("x"), "cannot resolve host name '127.0.0.1'"),
            (TimeoutError(), "timed out connecting to 127.0.0.1:12000"),
            (
                ConnectError(osError=113),
                "cannot connect to 127.0.0.1:12000: no route to host",
            ),
        ]
        for error, words in cases:
            described = describeConnectFailure(Failure(error), "127.0.0.1", 12000)
            self.assertIsInstance(described, ConnectFailed)
            self.assertEqual(str(described), words)

    def test_describeError(self):
        """
        Any error of an exchange reads as one line: refusals and unknown
        names in the same words as for a connection attempt; a
        L{ClientError} stays as it is.
        """
        own = NoReply("no reply from x:1 after 3 tries")
        self.assertIs(describeError(own, "x", 1), own)
        cases = [
            (ConnectionRefusedError(), "connection refused by [::1]:9"),
            (DNSLookupError("x"), "cannot resolve host name '::1'"),
            (TimeoutError(), "no reply from [::1]:9 (timed out)"),
            (ConnectionDone(), "connection closed by [::1]:9 before replying"),
            (ValueError("bad reply"), "cannot talk to [::1]:9: bad reply"),
        ]
        for error, words in cases:
            described = describeError(error, "::1", 9)
            self.assertIsInstance(described, ClientError)
            self.assertEqual(str(described), words)

    def test_describeLoss(self):
        """
        A connection that ends before the reply: closed cleanly, or lost.
        """
        self.assertEqual(
            str(describeLoss(Failure(ConnectionDone()), "localhost", 1)),
            "connection closed by localhost:1 before replying",
        )
        self.assertEqual(
            str(describeLoss(Failure(ConnectionLost()), "localhost", 1)),
            "connection to localhost:1 lost before replying",
        )


def _tcpServer():
    """
    A fake reactor with the real TCP service listening on port 12000.
    """
    reactor = MemoryReactorClock()
    reactor.listenTCP(12000, UppercaseFactory(reactor=reactor))
    return reactor, ConnectionCompleter(reactor)


class UppercaseTCPTests(SynchronousTestCase):
    """
    L{uppercaseTCP} over a L{HostnameEndpoint}, against the TCP service.
    """

    def test_text(self):
        """
        Text in, upper-cased text out (the Unicode way).
        """
        reactor, completer = _tcpServer()
        result = uppercaseTCP(reactor, "127.0.0.1", 12000, "straße")
        completer.succeedOnce(greet=False).flush()
        self.assertEqual(self.successResultOf(result), "STRASSE")

    def test_bytes(self):
        """
        Bytes in, bytes out; bytes that are not UTF-8 come back unchanged.
        """
        reactor, completer = _tcpServer()
        result = uppercaseTCP(reactor, "127.0.0.1", 12000, b"abc\xff")
        completer.succeedOnce(greet=False).flush()
        self.assertEqual(self.successResultOf(result), b"ABC\xff")

    def test_refused(self):
        """
        A refused connection fails with one line naming the server.
        """
        reactor, completer = _tcpServer()
        result = uppercaseTCP(reactor, "127.0.0.1", 12000, "hello")
        completer.failOnce(Failure(ConnectionRefusedError()))
        reactor.advance(1)
        failure = self.failureResultOf(result, ConnectFailed)
        self.assertEqual(str(failure.value), "connection refused by 127.0.0.1:12000")


class UppercaseUDPTests(SynchronousTestCase):
    """
    L{uppercaseUDP} against the UDP service.
    """

    def test_text(self):
        """
        Text in, upper-cased text out, and the port is closed afterwards.
        """
        reactor = FakeUDPReactor()
        server = UppercaseDatagramProtocol(reactor=reactor)
        result = uppercaseUDP(reactor, "127.0.0.1", 12000, "straße")
        port = reactor.udpPorts[0]
        payload, address = port.written[0]
        self.assertEqual(address, ("127.0.0.1", 12000))
        FakeUDPPort(server, 12000, "127.0.0.1", 65535).startListening()
        server.datagramReceived(payload, ("127.0.0.1", port.port))
        reply, _ = server.transport.written[0]
        port.protocol.datagramReceived(reply, address)
        self.assertEqual(self.successResultOf(result), "STRASSE")
        self.assertFalse(port.listening)

    def test_noReply(self):
        """
        A silent server: the request is tried C{retries + 1} times, then fails.
        """
        reactor = FakeUDPReactor()
        result = uppercaseUDP(reactor, "::1", 12000, b"hello", timeout=0.5, retries=3)
        reactor.advance(0.5)
        reactor.advance(0.5)
        reactor.advance(0.5)
        self.assertNoResult(result)
        reactor.advance(0.5)
        failure = self.failureResultOf(result, NoReply)
        self.assertEqual(str(failure.value), "no reply from [::1]:12000 after 4 tries")
        self.assertEqual(len(reactor.udpPorts[0].written), 4)


class _Requester:
    """
    Answers one request with C{reply}; closes when asked, once C{closing} fires.
    """

    def __init__(self, reply):
        self.reply = reply
        self.closing = Deferred()
        self.asked = []

    def request(self, payload):
        self.asked.append(payload)
        return self.reply

    def close(self):
        return self.closing


class OneRequestTests(SynchronousTestCase):
    """
    L{oneRequest} sends one request and closes the client, whatever happens.
    """

    def test_reply(self):
        """
        The reply comes once the client is closed.
        """
        client = _Requester(succeed(b"HI"))
        result = oneRequest(client, b"hi")
        self.assertEqual(client.asked, [b"hi"])
        self.assertNoResult(result)
        client.closing.callback(None)
        self.assertEqual(self.successResultOf(result), b"HI")

    def test_failure(self):
        """
        A failed request closes the client too, then fails with its error.
        """
        client = _Requester(fail(NoReply("no reply from x:1 after 1 try")))
        result = oneRequest(client, b"hi")
        self.assertNoResult(result)
        client.closing.callback(None)
        self.failureResultOf(result, NoReply)
