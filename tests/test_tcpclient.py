# -*- test-case-name: tests.test_tcpclient -*-
"""
Tests for L{sockservice.client.lineprotocol} and L{sockservice.client.tcp}, in memory.
"""

from __future__ import annotations

from typing import List, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
    TimeoutError,
)
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from sockservice.client.errors import ClientError, ConnectFailed, ConnectionClosed, NoReply
from sockservice.client.lineprotocol import LineClientProtocol, Unanswered
from sockservice.client.tcp import LineClient
from sockservice.uppercase.tcp import UppercaseFactory

PEER = "127.0.0.1:12000"


def _connected(clock: Optional[Clock] = None, timeout: float = 5.0):
    clock = clock or Clock()
    protocol = LineClientProtocol(clock, PEER, timeout, maxReplyLength=100)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


class LineClientProtocolTests(SynchronousTestCase):
    """
    One connection: requests framed with a newline, reply lines matched in order.
    """

    def test_framing(self):
        """
        Each request goes out as its bytes followed by one newline.
        """
        protocol, transport, _ = _connected()
        protocol.request(b"hello")
        protocol.request(b"")
        self.assertEqual(transport.value(), b"hello\n\n")

    def test_repliesInOrder(self):
        """
        Reply lines answer the waiting requests oldest first.
        """
        protocol, transport, _ = _connected()
        first, second = protocol.request(b"a"), protocol.request(b"b")
        protocol.dataReceived(b"A\nB\n")
        self.assertEqual(self.successResultOf(first), b"A")
        self.assertEqual(self.successResultOf(second), b"B")
        self.assertEqual(protocol.replies, 2)

    def test_splitAnywhere(self):
        """
        However the replies are split into chunks, each request gets its line.
        """
        stream = b"HELLO\nSTRASSE \xc3\x9f\n\n"
        for cut in range(len(stream) + 1):
            for second in range(cut, len(stream) + 1):
                protocol, _, _ = _connected()
                waiting = [protocol.request(b"x") for _ in range(3)]
                for chunk in (stream[:cut], stream[cut:second], stream[second:]):
                    if chunk:
                        protocol.dataReceived(chunk)
                self.assertEqual(
                    [self.successResultOf(d) for d in waiting],
                    [b"HELLO", b"STRASSE \xc3\x9f", b""],
                )

    def test_newlineInRequest(self):
        """
        A request containing a newline is refused: it would frame two.
        """
        protocol, _, _ = _connected()
        self.assertRaises(ValueError, protocol.request, b"a\nb")

    def test_replyEndsWithClose(self):
        """
        A server that replies without a newline and closes has replied.
        """
        protocol, _, _ = _connected()
        waiting = protocol.request(b"hello")
        protocol.dataReceived(b"HEL")
        protocol.dataReceived(b"LO")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.successResultOf(waiting), b"HELLO")

    def test_closedBeforeReplying(self):
        """
        A server that closes without a byte of reply leaves the request
        unanswered.
        """
        protocol, _, _ = _connected()
        waiting = protocol.request(b"hello")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(waiting, Unanswered)

    def test_partialReplyOfPipelinedRequestDiscarded(self):
        """
        A partial line at the close does not count as the reply when other
        requests were sent on the connection: it may be cut short.
        """
        protocol, _, _ = _connected()
        first, second = protocol.request(b"a"), protocol.request(b"b")
        protocol.dataReceived(b"A\nB")
        protocol.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(self.successResultOf(first), b"A")
        self.failureResultOf(second, Unanswered)

    def test_timeout(self):
        """
        With no byte of reply for the timeout, waiting requests fail with
        L{NoReply} and the connection is aborted.
        """
        protocol, transport, clock = _connected(timeout=2.0)
        waiting = protocol.request(b"hello")
        clock.advance(1.5)
        protocol.dataReceived(b"HEL")
        clock.advance(1.5)
        self.assertNoResult(waiting)
        clock.advance(0.5)
        failure = self.failureResultOf(waiting, NoReply)
        self.assertEqual(str(failure.value), f"no reply from {PEER} within 2 s")
        self.assertTrue(transport.disconnecting)

    def test_noTimeoutWhenIdle(self):
        """
        No timer runs while no request waits.
        """
        protocol, _, clock = _connected()
        waiting = protocol.request(b"a")
        protocol.dataReceived(b"A\n")
        self.successResultOf(waiting)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_overlongReply(self):
        """
        A reply line longer than the limit aborts the connection.
        """
        protocol, transport, clock = _connected()
        waiting = protocol.request(b"a")
        protocol.dataReceived(b"A" * 101)
        self.failureResultOf(waiting, ClientError)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_unsolicitedBytesIgnored(self):
        """
        Bytes that arrive while no request waits are not taken for a later
        reply.
        """
        protocol, _, _ = _connected()
        protocol.dataReceived(b"BANNER\n")
        waiting = protocol.request(b"a")
        protocol.dataReceived(b"A\n")
        self.assertEqual(self.successResultOf(waiting), b"A")

    def test_whenClosed(self):
        """
        L{LineClientProtocol.whenClosed} fires once the connection is gone,
        and at once after that.
        """
        protocol, _, _ = _connected()
        closed = protocol.whenClosed()
        self.assertNoResult(closed)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.successResultOf(closed)
        self.successResultOf(protocol.whenClosed())


class _Endpoint:
    """
    A client endpoint whose connections the test completes by hand.
    """

    def __init__(self) -> None:
        self.attempts: List[Deferred[Protocol]] = []
        self.factories: List[IProtocolFactory] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[Protocol]:
        self.factories.append(factory)
        attempt: Deferred[Protocol] = Deferred()
        self.attempts.append(attempt)
        return attempt

    def succeed(self) -> tuple[LineClientProtocol, StringTransport]:
        protocol = self.factories[-1].buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.attempts[-1].callback(protocol)
        return protocol, transport


def _client(**kwargs):
    clock = Clock()
    endpoint = _Endpoint()
    client = LineClient(clock, endpoint, "127.0.0.1", 12000, **kwargs)
    return client, endpoint, clock


class LineClientTests(SynchronousTestCase):
    """
    L{LineClient} connects when needed, pipelines, and reconnects.
    """

    def test_connectsLazily(self):
        """
        No connection is made before the first request.
        """
        client, endpoint, _ = _client()
        self.assertEqual(endpoint.attempts, [])
        client.request(b"a")
        self.assertEqual(len(endpoint.attempts), 1)

    def test_oneRequestUntilFirstReply(self):
        """
        Until a connection has answered once, only one request is sent on it;
        then the rest are pipelined.
        """
        client, endpoint, _ = _client()
        results = [client.request(line) for line in (b"a", b"b", b"c")]
        protocol, transport = endpoint.succeed()
        self.assertEqual(transport.value(), b"a\n")
        transport.clear()
        protocol.dataReceived(b"A\n")
        self.assertEqual(transport.value(), b"b\nc\n")
        protocol.dataReceived(b"B\nC\n")
        self.assertEqual([self.successResultOf(d) for d in results], [b"A", b"B", b"C"])

    def test_window(self):
        """
        No more than the window's worth of requests wait on a connection.
        """
        client, endpoint, _ = _client(window=2)
        results = [client.request(b"%d" % i) for i in range(5)]
        protocol, transport = endpoint.succeed()
        protocol.dataReceived(b"0\n")
        self.assertEqual(transport.value(), b"0\n1\n2\n")
        protocol.dataReceived(b"1\n")
        self.assertEqual(transport.value(), b"0\n1\n2\n3\n")
        protocol.dataReceived(b"2\n3\n4\n")
        self.assertEqual(self.successResultOf(results[4]), b"4")

    def test_reconnectsAfterServerCloses(self):
        """
        Against a server that closes after each reply, unanswered requests are
        sent again, each on a new connection of its own.
        """
        client, endpoint, _ = _client()
        results = [client.request(line) for line in (b"a", b"b", b"c")]
        protocol, transport = endpoint.succeed()
        protocol.dataReceived(b"A\n")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(client.oneShot)
        for expected, reply in ((b"b\n", b"B\n"), (b"c\n", b"C\n")):
            protocol, transport = endpoint.succeed()
            self.assertEqual(transport.value(), expected)
            protocol.dataReceived(reply)
            # We close this connection ourselves once it has replied.
            self.assertTrue(transport.disconnecting)
            protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([self.successResultOf(d) for d in results], [b"A", b"B", b"C"])
        self.assertEqual(len(endpoint.attempts), 3)

    def test_serverClosesEarly(self):
        """
        A server that closes before replying at all fails the request with
        one line that says so.
        """
        client, endpoint, _ = _client()
        result = client.request(b"a")
        protocol, _ = endpoint.succeed()
        protocol.connectionLost(Failure(ConnectionDone()))
        failure = self.failureResultOf(result, ConnectionClosed)
        self.assertEqual(str(failure.value), f"connection closed by {PEER} before replying")

    def test_connectionLostEarly(self):
        """
        A connection lost uncleanly before a reply fails the request.
        """
        client, endpoint, _ = _client()
        result = client.request(b"a")
        protocol, _ = endpoint.succeed()
        protocol.connectionLost(Failure(ConnectionLost()))
        failure = self.failureResultOf(result, ConnectionClosed)
        self.assertEqual(str(failure.value), f"connection to {PEER} lost before replying")

    def test_refused(self):
        """
        A refused connection fails every queued request with
        C{connection refused by HOST:PORT}.
        """
        client, endpoint, _ = _client()
        results = [client.request(b"a"), client.request(b"b")]
        endpoint.attempts[0].errback(ConnectionRefusedError())
        for result in results:
            failure = self.failureResultOf(result, ConnectFailed)
            self.assertEqual(str(failure.value), f"connection refused by {PEER}")

    def test_connectRetries(self):
        """
        A failed connection is tried again after a delay, as many times as
        asked; the error then says how many tries were made.
        """
        client, endpoint, clock = _client(retries=2, retryDelay=1.0)
        result = client.request(b"a")
        endpoint.attempts[0].errback(TimeoutError())
        self.assertEqual(len(endpoint.attempts), 1)
        clock.advance(1.0)
        endpoint.attempts[1].errback(TimeoutError())
        clock.advance(1.0)
        endpoint.attempts[2].errback(TimeoutError())
        failure = self.failureResultOf(result, ConnectFailed)
        self.assertEqual(str(failure.value), f"timed out connecting to {PEER} after 3 tries")

    def test_retrySucceeds(self):
        """
        A connection that succeeds on a retry carries the request.
        """
        client, endpoint, clock = _client(retries=1)
        result = client.request(b"a")
        endpoint.attempts[0].errback(ConnectionRefusedError())
        clock.advance(1.0)
        protocol, _ = endpoint.succeed()
        protocol.dataReceived(b"A\n")
        self.assertEqual(self.successResultOf(result), b"A")

    def test_replyTimeout(self):
        """
        A server that does not reply within the timeout fails the request.
        """
        client, endpoint, clock = _client(timeout=3.0)
        result = client.request(b"a")
        endpoint.succeed()
        clock.advance(3.0)
        failure = self.failureResultOf(result, NoReply)
        self.assertEqual(str(failure.value), f"no reply from {PEER} within 3 s")

    def test_close(self):
        """
        L{LineClient.close} drops the connection and fires once it is gone.
        """
        client, endpoint, _ = _client()
        result = client.request(b"a")
        protocol, transport = endpoint.succeed()
        protocol.dataReceived(b"A\n")
        self.successResultOf(result)
        closed = client.close()
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(closed)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.successResultOf(closed)

    def test_requestAfterClose(self):
        """
        A request after L{LineClient.close} connects again.
        """
        client, endpoint, _ = _client()
        self.successResultOf(client.close())
        result = client.request(b"a")
        protocol, _ = endpoint.succeed()
        protocol.dataReceived(b"A\n")
        self.assertEqual(self.successResultOf(result), b"A")

    def test_closeWhileConnecting(self):
        """
        Closing while a connection attempt is under way cancels it and fails
        the queued requests.
        """
        client, endpoint, _ = _client()
        result = client.request(b"a")
        self.successResultOf(client.close())
        self.failureResultOf(result, ConnectionClosed)


class AgainstServerTests(SynchronousTestCase):
    """
    L{LineClient} and the real L{UppercaseFactory}, connected in memory.
    """

    def test_pipelinedUnicode(self):
        """
        Many lines pipelined on one connection come back upper-cased, in order.
        """
        clock = Clock()
        pumps: List[iosim.IOPump] = []

        class Endpoint:
            def connect(self, factory):
                client = factory.buildProtocol(None)
                server = UppercaseFactory(reactor=clock).buildProtocol(None)
                pumps.append(
                    iosim.connect(
                        server,
                        iosim.makeFakeServer(server),
                        client,
                        iosim.makeFakeClient(client),
                        greet=False,
                    )
                )
                return succeed(client)

        client = LineClient(clock, Endpoint(), "127.0.0.1", 12000)
        lines = [b"hello %d stra\xc3\x9fe" % i for i in range(200)]
        results = [client.request(line) for line in lines]
        while any(not d.called for d in results):
            pumps[-1].flush()
        self.assertEqual(
            [self.successResultOf(d) for d in results],
            [b"HELLO %d STRASSE" % i for i in range(200)],
        )
        self.assertEqual(len(pumps), 1)
