# -*- test-case-name: tests.test_timeservice -*-
"""
Tests for L{sockservice.timeserver.protocol}: the time format, and the UDP and TCP
protocols over in-memory transports with a fixed clock.
"""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import TestCase

from sockservice.server.guard import ConnectionGuard, GuardedFactory
from sockservice.server.limits import RateLimiter
from sockservice.timeserver.protocol import (
    MAX_FORMAT,
    MAX_REPLY,
    TimeDatagramProtocol,
    TimeLineFactory,
    formatTime,
)
from tests.servicefakes import FakeDatagramTransport

# 2009-02-13 23:31:30 UTC
WHEN = 1234567890.0


class FormatTimeTests(TestCase):
    """
    Tests for L{formatTime}.
    """

    def test_emptyRequestUsesDefaultFormat(self) -> None:
        """An empty request is answered in the textbook's C{%Y-%m-%d %X} format."""
        self.assertEqual(formatTime(b"", WHEN, utc=True), b"2009-02-13 23:31:30")

    def test_format(self) -> None:
        """A format is applied to the clock's time."""
        self.assertEqual(formatTime(b"%H:%M|%Y", WHEN, utc=True), b"23:31|2009")

    def test_localTime(self) -> None:
        """Without C{utc} the server's local time zone is used."""
        expected = time.strftime("%Y %H %Z", time.localtime(WHEN)).encode("utf-8")
        self.assertEqual(formatTime(b"%Y %H %Z", WHEN), expected)

    def test_trailingLineEndingIgnored(self) -> None:
        """One trailing LF or CRLF (as C{nc} sends) is not part of the format."""
        self.assertEqual(formatTime(b"%Y\n", WHEN, utc=True), b"2009")
        self.assertEqual(formatTime(b"%Y\r\n", WHEN, utc=True), b"2009")
        self.assertEqual(formatTime(b"\n", WHEN, utc=True), b"2009-02-13 23:31:30")

    def test_unicodeFormat(self) -> None:
        """Text around the directives may be any UTF-8."""
        self.assertEqual(formatTime("%Y年%m月".encode(), WHEN, utc=True), "2009年02月".encode())

    def test_invalidUTF8(self) -> None:
        """A format that is not UTF-8 gets an error reply."""
        self.assertEqual(formatTime(b"%Y\xff", WHEN), b"error: format is not valid UTF-8")

    def test_nul(self) -> None:
        """A format with a NUL gets an error reply instead of an exception."""
        self.assertEqual(formatTime(b"%Y\x00", WHEN), b"error: format contains a NUL character")

    def test_longestFormat(self) -> None:
        """A format of exactly L{MAX_FORMAT} bytes is accepted."""
        self.assertEqual(formatTime(b"x" * MAX_FORMAT, WHEN), b"x" * MAX_FORMAT)

    def test_tooLongFormat(self) -> None:
        """A format longer than L{MAX_FORMAT} bytes is refused."""
        self.assertEqual(
            formatTime(b"x" * (MAX_FORMAT + 1), WHEN), b"error: format longer than 256 bytes"
        )
        self.assertTrue(formatTime(b"%Y" * 100000, WHEN).startswith(b"error: "))

    def test_hugeOutput(self) -> None:
        """A short format whose output exceeds L{MAX_REPLY} bytes is refused."""
        self.assertEqual(formatTime(b"%c" * 100, WHEN), b"error: reply longer than 512 bytes")
        self.assertEqual(formatTime(b"%600Y", WHEN), b"error: reply longer than 512 bytes")

    def test_noOutput(self) -> None:
        """A format that C{strftime} cannot fill gets an error, not an empty reply."""
        self.assertEqual(formatTime(b"%99999Y", WHEN), b"error: format gives no output")

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=MAX_FORMAT + 8))
    def test_anyBytes(self, request: bytes) -> None:
        """Whatever bytes arrive, the reply is non-empty and fits the bound."""
        reply = formatTime(request, WHEN)
        self.assertTrue(0 < len(reply) <= MAX_REPLY)


class TimeDatagramProtocolTests(TestCase):
    """
    Tests for L{TimeDatagramProtocol}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(WHEN)
        self.transport = FakeDatagramTransport(port=9999)
        self.proto = TimeDatagramProtocol(self.clock, utc=True)
        self.proto.makeConnection(self.transport)

    def test_replyToSender(self) -> None:
        """One datagram gets one reply, sent to its source address."""
        self.proto.datagramReceived(b"%H:%M:%S", ("127.0.0.1", 40000))
        self.assertEqual(self.transport.pop(), [(b"23:31:30", ("127.0.0.1", 40000))])

    def test_clock(self) -> None:
        """The reply follows the injected clock."""
        self.clock.advance(60)
        self.proto.datagramReceived(b"%M", ("127.0.0.1", 40000))
        self.assertEqual(self.transport.pop(), [(b"32", ("127.0.0.1", 40000))])

    def test_badFormatAnswered(self) -> None:
        """A bad format gets an error datagram, and the service goes on answering."""
        self.proto.datagramReceived(b"%Y-%m-%d \xff", ("127.0.0.1", 40000))
        self.proto.datagramReceived(b"%Y", ("127.0.0.1", 40000))
        self.assertEqual(
            [data for data, _ in self.transport.pop()],
            [b"error: format is not valid UTF-8", b"2009"],
        )

    def test_inadmissibleSources(self) -> None:
        """Port 0, privileged ports and the service's own port get no reply."""
        for port in (0, 53, 123, 1023, 9999):
            self.proto.datagramReceived(b"", ("127.0.0.1", port))
        self.assertEqual(self.transport.pop(), [])
        self.assertEqual(self.proto.dropped, 5)

    def test_rateLimit(self) -> None:
        """A source over its rate limit gets no reply until its bucket refills."""
        self.proto.guard.limiter = RateLimiter(rate=1, burst=2, maxSources=100)
        for _ in range(5):
            self.proto.datagramReceived(b"%Y", ("192.0.2.1", 40000))
        self.proto.datagramReceived(b"%Y", ("198.51.100.2", 40000))
        self.assertEqual(len(self.transport.pop()), 3)
        self.clock.advance(1)
        self.proto.datagramReceived(b"%Y", ("192.0.2.1", 40000))
        self.assertEqual(len(self.transport.pop()), 1)

    def test_loopbackExempt(self) -> None:
        """Loopback sources are not rate-limited unless C{limitLoopback} is set."""
        self.proto.guard.limiter = RateLimiter(rate=1, burst=1, maxSources=100)
        for _ in range(5):
            self.proto.datagramReceived(b"%Y", ("127.0.0.1", 40000))
        self.assertEqual(len(self.transport.pop()), 5)
        self.proto.guard.limitLoopback = True
        for _ in range(5):
            self.proto.datagramReceived(b"%Y", ("127.0.0.1", 40000))
        self.assertEqual(len(self.transport.pop()), 1)

    def test_announced(self) -> None:
        """Once listening, the protocol logs its address like the other UDP listeners."""
        events: list = []
        proto = TimeDatagramProtocol(self.clock)
        proto.log = Logger(observer=events.append)
        proto.makeConnection(FakeDatagramTransport(port=4321))
        self.assertEqual(
            formatEvent(events[0]), "sockservice: listening on UDP 127.0.0.1:4321 (time)"
        )


class TimeLineProtocolTests(TestCase):
    """
    Tests for L{TimeLineProtocol} through L{TimeLineFactory}.
    """

    def connect(self, idleTimeout: float = 60) -> tuple:
        clock = Clock()
        clock.advance(WHEN)
        guard = ConnectionGuard(clock, idleTimeout)
        factory = GuardedFactory(TimeLineFactory(clock, utc=True), guard, "time")
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        proto.makeConnection(transport)
        return clock, proto, transport

    def test_linePerFormat(self) -> None:
        """Each line is one format and gets one reply line; an empty line means the default."""
        _, proto, transport = self.connect()
        proto.dataReceived(b"%Y\n%H:%M\r\n\n")
        self.assertEqual(transport.value(), b"2009\n23:31\n2009-02-13 23:31:30\n")

    def test_splitAnywhere(self) -> None:
        """The replies do not depend on how the request bytes were split."""
        data = b"%Y\r\n%d\nx%%y\n"
        for i in range(len(data) + 1):
            _, proto, transport = self.connect()
            proto.dataReceived(data[:i])
            proto.dataReceived(data[i:])
            self.assertEqual(transport.value(), b"2009\n13\nx%y\n")

    def test_lineBreakInReplyRefused(self) -> None:
        """A format producing a line break is refused, so one line stays one reply."""
        _, proto, transport = self.connect()
        proto.dataReceived(b"%Y%n%Y\n")
        self.assertEqual(transport.value(), b"error: reply would contain a line break\n")

    def test_tooLongLineCloses(self) -> None:
        """A line longer than any format gets an error line, then the connection closes."""
        _, proto, transport = self.connect()
        proto.dataReceived(b"x" * 10000)
        self.assertEqual(transport.value(), b"error: format longer than 256 bytes\n")
        self.assertTrue(transport.disconnecting)

    def test_idleTimeout(self) -> None:
        """
        Under the process's guard, a client silent for the idle timeout (up
        to a tenth more) is disconnected; activity postpones it.
        """
        clock, proto, transport = self.connect(idleTimeout=10)
        clock.advance(9)
        proto.dataReceived(b"%Y\n")
        clock.advance(10)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_producerRegistered(self) -> None:
        """The protocol is its transport's streaming producer (backpressure)."""
        _, proto, transport = self.connect()
        self.assertIs(transport.producer, proto.wrappedProtocol)
        self.assertTrue(transport.streaming)
