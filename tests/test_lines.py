# -*- test-case-name: tests.test_lines -*-
"""
Tests for L{sockservice.cli.stdin}: standard input through a client, in memory.
"""

from __future__ import annotations

from typing import Dict, List

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sockservice.cli.stdin import LinePump, OutputClosed
from sockservice.client.errors import ClientError, NoReply


class _Server:
    """
    A request function whose replies the test gives by hand.
    """

    def __init__(self) -> None:
        self.requests: List[bytes] = []
        self.waiting: Dict[bytes, Deferred[bytes]] = {}

    def __call__(self, line: bytes) -> Deferred[bytes]:
        self.requests.append(line)
        self.waiting[line] = Deferred()
        return self.waiting[line]

    def answer(self, line: bytes) -> None:
        self.waiting.pop(line).callback(line.upper())


def _pump(request, **kwargs):
    pump = LinePump(request, **kwargs)
    transport = StringTransport()
    pump.makeConnection(transport)
    return pump, transport


def _upper(line: bytes) -> Deferred[bytes]:
    return succeed(line.upper())


def _finish(pump: LinePump, transport: StringTransport) -> None:
    """
    Play the part of StandardIO once the pump has asked to close.
    """
    assert transport.disconnecting
    pump.connectionLost(Failure(ConnectionDone()))


class LinePumpTests(SynchronousTestCase):
    """
    One request per input line, one reply line per request, in input order.
    """

    def test_halfCloseable(self):
        """
        The pump hears about the end of input separately from the end of
        output, so that replies due at the end of input are still written.
        """
        self.assertTrue(IHalfCloseableProtocol.providedBy(LinePump(_upper)))

    def test_linesAndEnd(self):
        """
        Each line is sent without its newline; at the end of input a last
        line without a newline is sent too, and the pump closes and finishes.
        """
        pump, transport = _pump(_upper)
        pump.dataReceived(b"one\ntw")
        pump.dataReceived(b"o\n\nthree")
        self.assertEqual(transport.value(), b"ONE\nTWO\n\n")
        self.assertFalse(transport.disconnecting)
        pump.readConnectionLost()
        self.assertEqual(transport.value(), b"ONE\nTWO\n\nTHREE\n")
        _finish(pump, transport)
        self.assertIsNone(self.successResultOf(pump.done))

    def test_inOrder(self):
        """
        Replies are written in input order even when they complete out of
        order.
        """
        server = _Server()
        pump, transport = _pump(server)
        pump.dataReceived(b"a\nb\nc\n")
        server.answer(b"c")
        server.answer(b"b")
        self.assertEqual(transport.value(), b"")
        server.answer(b"a")
        self.assertEqual(transport.value(), b"A\nB\nC\n")

    def test_endWaitsForReplies(self):
        """
        The end of input does not end the pump before the replies are written.
        """
        server = _Server()
        pump, transport = _pump(server)
        pump.dataReceived(b"a\n")
        pump.readConnectionLost()
        self.assertFalse(transport.disconnecting)
        server.answer(b"a")
        self.assertEqual(transport.value(), b"A\n")
        _finish(pump, transport)
        self.successResultOf(pump.done)

    def test_window(self):
        """
        With a window's worth of requests unanswered, the pump stops reading
        and sends no more; it reads again once half the window is answered.
        """
        server = _Server()
        pump, transport = _pump(server, window=4)
        pump.dataReceived(b"".join(b"%d\n" % i for i in range(10)))
        self.assertEqual(server.requests, [b"0", b"1", b"2", b"3"])
        self.assertEqual(transport.producerState, "paused")
        server.answer(b"0")
        # Buffered lines fill the window again at once.
        self.assertEqual(len(server.requests), 5)
        server.answer(b"1")
        server.answer(b"2")
        self.assertEqual(transport.producerState, "paused")
        for line in server.requests[3:]:
            server.answer(line)
        self.assertEqual(len(server.requests), 10)
        for line in list(server.waiting):
            server.answer(line)
        self.assertEqual(transport.producerState, "producing")
        self.assertEqual(transport.value(), b"".join(b"%d\n" % i for i in range(10)))

    def test_manyLinesBounded(self):
        """
        However much input arrives, no more than the window is ever waiting.
        """
        server = _Server()
        pump, _ = _pump(server, window=8)
        most = 0
        for chunk in range(100):
            pump.dataReceived(b"".join(b"%d.%d\n" % (chunk, i) for i in range(10)))
            while server.waiting:
                most = max(most, len(server.waiting))
                for line in list(server.waiting):
                    server.answer(line)
        self.assertEqual(len(server.requests), 1000)
        self.assertLessEqual(most, 8)

    def test_outputBackpressure(self):
        """
        While standard output is backed up, the pump reads and sends nothing.
        """
        server = _Server()
        pump, transport = _pump(server)
        self.assertIs(transport.producer, pump)
        pump.pauseProducing()
        self.assertEqual(transport.producerState, "paused")
        pump.dataReceived(b"a\nb\n")
        self.assertEqual(server.requests, [])
        pump.resumeProducing()
        self.assertEqual(server.requests, [b"a", b"b"])
        self.assertEqual(transport.producerState, "producing")

    def test_failureAfterReplies(self):
        """
        The first failed request ends the pump, after the replies before it
        are written, and nothing after it is written.
        """
        server = _Server()
        pump, transport = _pump(server)
        pump.dataReceived(b"a\nb\nc\n")
        server.answer(b"c")
        server.waiting.pop(b"b").errback(NoReply("no reply from x:1 after 3 tries"))
        server.answer(b"a")
        self.assertEqual(transport.value(), b"A\n")
        _finish(pump, transport)
        self.failureResultOf(pump.done, NoReply)

    def test_requestRaises(self):
        """
        A request function that raises fails the pump like a failed request.
        """
        pump, transport = _pump(lambda line: fail(ClientError("boom")))
        pump.dataReceived(b"a\n")
        _finish(pump, transport)
        self.failureResultOf(pump.done, ClientError)

    def test_lineTooLong(self):
        """
        An input line longer than the limit ends the pump with an error once
        the lines before it are answered.
        """
        server = _Server()
        pump, transport = _pump(server, maxLineLength=8)
        pump.dataReceived(b"short\n" + b"x" * 9)
        self.assertFalse(transport.disconnecting)
        server.answer(b"short")
        self.assertEqual(transport.value(), b"SHORT\n")
        _finish(pump, transport)
        failure = self.failureResultOf(pump.done, ClientError)
        self.assertEqual(str(failure.value), "an input line is longer than 8 bytes")

    def test_outputClosed(self):
        """
        When standard output goes away, the pump stops at once.
        """
        server = _Server()
        pump, transport = _pump(server)
        pump.dataReceived(b"a\n")
        pump.writeConnectionLost()
        self.failureResultOf(pump.done, OutputClosed)
        self.assertEqual(transport.producerState, "paused")

    def test_prompt(self):
        """
        Interactive: the prompt is written first and after each reply; at the
        end of input (Ctrl-D) a newline ends the prompt's line.
        """
        server = _Server()
        pump, transport = _pump(server, window=1, prompt=b"> ")
        self.assertEqual(transport.value(), b"> ")
        pump.dataReceived(b"hi\n")
        self.assertEqual(transport.producerState, "paused")
        server.answer(b"hi")
        self.assertEqual(transport.value(), b"> HI\n> ")
        self.assertEqual(transport.producerState, "producing")
        pump.readConnectionLost()
        self.assertEqual(transport.value(), b"> HI\n> \n")
        _finish(pump, transport)
        self.successResultOf(pump.done)
