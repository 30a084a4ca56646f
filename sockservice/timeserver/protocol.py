# -*- test-case-name: tests.test_timeservice -*-
"""
The time service: the client names a C{strftime} format, the server answers
with the current time in that format.

The textbook program calls C{time.strftime(request)} on whatever arrives. Here
the format is checked first (UTF-8, at most L{MAX_FORMAT} bytes, no NUL) and
the answer is bounded (at most L{MAX_REPLY} bytes), so a bad or huge format
gets a short C{error: ...} reply instead of an exception or a reply that does
not fit in one datagram.

Over UDP one datagram is one format; over TCP one line is one format (lines end
with LF, an optional CR before it is ignored) and each reply is one line.

Over UDP, whose sources can be forged, no reply is more than twice its
request's size on the wire (L{udpReplyLimit}), so the service cannot amplify
a reflection attack: a longer answer is refused with a short error
(L{UDP_TOO_LONG}), and TCP is the way to get it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional, Set, Tuple

from twisted.internet.interfaces import IPushProducer, IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol, Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer

from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import IDrainable
from sockservice.server.interfaces import IStreamTransport
from sockservice.server.limits import PrefixKey, RateLimiter
from sockservice.server.sources import SourceGuard

__all__ = [
    "DEFAULT_FORMAT",
    "MAX_FORMAT",
    "MAX_REPLY",
    "UDP_OVERHEAD",
    "UDP_TOO_LONG",
    "UDP_BAD_FORMAT",
    "formatTime",
    "udpReplyLimit",
    "TimeDatagramProtocol",
    "TimeLineProtocol",
    "TimeLineFactory",
]

DEFAULT_FORMAT = "%Y-%m-%d %X"
"""The format used for an empty request, as in the textbook program."""

MAX_FORMAT = 256
"""The longest format accepted, in bytes."""

MAX_REPLY = 512
"""The longest reply sent, in bytes: it always fits in one datagram."""


UDP_OVERHEAD = 28
"""Bytes of IPv4 and UDP header around each datagram (20 + 8)."""

UDP_TOO_LONG = b"error: too long, use TCP"
"""The UDP reply to a format whose answer exceeds L{udpReplyLimit}."""

UDP_BAD_FORMAT = b"error: bad format"
"""The UDP reply to a bad format whose error message exceeds L{udpReplyLimit}."""


def udpReplyLimit(requestSize: int) -> int:
    """
    The largest UDP reply payload to a request of C{requestSize} bytes: on
    the wire (with L{UDP_OVERHEAD} bytes of headers each) the reply is at
    most twice the request.  It is at least 28 bytes, which L{UDP_TOO_LONG}
    and L{UDP_BAD_FORMAT} fit in.
    """
    return 2 * requestSize + UDP_OVERHEAD


def formatTime(request: bytes, when: float, utc: bool = False) -> bytes:
    """
    Answer one time request; never raises.

    @param request: The format, UTF-8 encoded; empty means L{DEFAULT_FORMAT}.
        One trailing line ending (LF or CRLF) is ignored, so C{nc} works.
    @param when: Seconds since the epoch (C{reactor.seconds()}).
    @param utc: Use UTC instead of the server's local time zone.
    @return: The formatted time in UTF-8, or C{b"error: ..."}; never more
        than L{MAX_REPLY} bytes.
    """
    if request.endswith(b"\n"):
        request = request[:-1]
        if request.endswith(b"\r"):
            request = request[:-1]
    if len(request) > MAX_FORMAT:
        return b"error: format longer than %d bytes" % (MAX_FORMAT,)
    try:
        fmt = request.decode("utf-8") or DEFAULT_FORMAT
    except UnicodeDecodeError:
        return b"error: format is not valid UTF-8"
    if "\x00" in fmt:
        return b"error: format contains a NUL character"
    moment = time.gmtime(when) if utc else time.localtime(when)
    try:
        text = time.strftime(fmt, moment)
    except (ValueError, OverflowError):
        return b"error: invalid format"
    reply = text.encode("utf-8", "replace")
    if len(reply) > MAX_REPLY:
        return b"error: reply longer than %d bytes" % (MAX_REPLY,)
    if not reply:
        return b"error: format gives no output"
    return reply


class TimeDatagramProtocol(DatagramProtocol):
    """
    UDP time service: one datagram in, one datagram with the time out.

    The reply is never larger than L{udpReplyLimit} of the request: an
    answer that is, is replaced by L{UDP_TOO_LONG} (or, for an error, by
    L{UDP_BAD_FORMAT}) and counted in C{tooLong}.  Like the upper-casing
    service, it answers no privileged source port and no port of this
    process, and stays within a per-source rate limit (see
    L{sockservice.uppercase.udp}).

    @ivar counters: what it counts (the datagrams not answered by reason:
        source port, rate).
    @ivar tooLong: datagrams answered with a short error instead of an
        answer too long for UDP.
    """

    log = Logger()
    noisy = False
    transport: IUDPTransport

    def __init__(
        self,
        clock: IReactorTime,
        utc: bool = False,
        limiter: Optional[RateLimiter] = None,
        limitLoopback: bool = False,
        prefixKey: Optional[PrefixKey] = None,
        udpPorts: Optional[Set[int]] = None,
    ) -> None:
        """
        @param clock: Where the time comes from (C{reactor.seconds}).
        @param utc: Answer in UTC instead of local time.
        @param limiter: Per-source rate limit, keyed by C{prefixKey} of the
            host; C{None} for none.
        @param limitLoopback: Rate-limit loopback sources too.
        @param prefixKey: The network prefix a source is accounted by
            (default: L{PrefixKey}'s).
        @param udpPorts: The UDP ports of this process, shared by its UDP
            services (see L{SourceGuard}).
        """
        self.clock = clock
        self.utc = utc
        self.counters = ServiceCounters()
        self.guard = SourceGuard(
            limiter, limitLoopback, lambda: clock.seconds(), udpPorts, prefixKey
        )
        self.counters = ServiceCounters()
        self.tooLong = 0

    @property
    def dropped(self) -> int:
        """
        Datagrams not answered, whatever the reason.
        """
        return sum(self.counters.dropped.values())

    def startProtocol(self) -> None:
        """
        Announce where we listen.
        """
        self.guard.bound(self.transport, self.log, "time")

    def datagramReceived(self, datagram: bytes, addr: Tuple[str, int]) -> None:
        """
        Answer C{datagram} with the time, unless the source is a privileged
        port, port 0 or a port of this process (reflection, loops), or over
        its rate; refuse an answer larger than L{udpReplyLimit}.
        """
        counters = self.counters
        counters.received += 1
        counters.receivedBytes += len(datagram)
        refusal = self.guard.refusal(addr[0], addr[1])
        if refusal is not None:
            counters.dropped[refusal] += 1
            return
        reply = formatTime(datagram, self.clock.seconds(), self.utc)
        if len(reply) > udpReplyLimit(len(datagram)):
            self.tooLong += 1
            reply = UDP_BAD_FORMAT if reply.startswith(b"error: ") else UDP_TOO_LONG
        self.transport.write(reply, addr)
        counters.answered += 1
        counters.sentBytes += len(reply)


@implementer(IDrainable, IPushProducer)
class TimeLineProtocol(LineReceiver):
    """
    TCP time service: one format per line, one reply line per request.

    A reply that would contain a line break (C{%n}) is refused with an error
    line, so one line is always one reply. A line longer than the longest
    format gets an error line and the connection is closed. The protocol is
    its transport's push producer: a client that does not read its replies
    stops being read from.  Idle clients are closed by the process's
    L{sockservice.server.guard}, as for every TCP service.
    """

    delimiter = b"\n"
    MAX_LENGTH = MAX_FORMAT + 1
    log = Logger()
    factory: TimeLineFactory
    transport: IStreamTransport

    def connectionMade(self) -> None:
        """
        Let the transport pause us when it is full.
        """
        self.transport.registerProducer(self, True)

    def lineReceived(self, line: bytes) -> None:
        """
        Answer one format with one line.
        """
        factory = self.factory
        factory.counters.received += 1
        reply = formatTime(line.rstrip(b"\r"), factory.clock.seconds(), factory.utc)
        if b"\n" in reply or b"\r" in reply:
            reply = b"error: reply would contain a line break"
        self.sendLine(reply)
        factory.counters.answered += 1

    def closeGracefully(self) -> None:
        """
        The service is stopping: every line read has been answered, so close
        once the replies are sent.
        """
        self.transport.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        Refuse an over-long format and hang up.
        """
        peer = self.transport.getPeer()
        self.log.info("time: line too long from {peer}, closing", peer=peer)
        self.sendLine(b"error: format longer than %d bytes" % (MAX_FORMAT,))
        self.transport.loseConnection()


if TYPE_CHECKING:
    _Factory = Factory[TimeLineProtocol]
else:  # Factory is generic only in recent Twisted releases
    _Factory = Factory


class TimeLineFactory(_Factory):
    """
    Builds L{TimeLineProtocol}s sharing one clock and time zone choice.

    @ivar counters: the requests its protocols answer (bytes and connections
        are counted by the L{sockservice.server.guard.GuardedFactory} that
        shares them).
    """

    protocol = TimeLineProtocol

    def __init__(self, clock: IReactorTime, utc: bool = False) -> None:
        """
        @param clock: Where the time comes from.
        @param utc: Answer in UTC instead of local time.
        """
        self.clock = clock
        self.utc = utc
        self.counters = ServiceCounters()
