# -*- test-case-name: tests.test_udpguards -*-
"""
Tests for the UDP abuse guards (issue 14, findings 4, 7 and 8): the rate
limiter accounts by network prefix and never hands a limited prefix a fresh
burst; no UDP service of a process answers any UDP port of that process; and
the time service does not amplify over UDP.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.server.limits import PrefixKey, RateLimiter
from sockservice.server.listeners import UDPListener
from sockservice.server.sources import SourceGuard
from sockservice.server.workers import WorkerPool
from sockservice.tap import Options, makeService
from sockservice.timeserver.protocol import (
    UDP_BAD_FORMAT,
    UDP_TOO_LONG,
    TimeDatagramProtocol,
    formatTime,
    udpReplyLimit,
)
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.servicefakes import FakeDatagramTransport

VICTIM = ("192.0.2.1", 40000)

# 2009-02-13 23:31:30 UTC
WHEN = 1234567890.0


def _parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def _uppercase(**kwargs: Any) -> Tuple[UppercaseDatagramProtocol, FakeDatagramTransport]:
    kwargs.setdefault("reactor", Clock())
    protocol = UppercaseDatagramProtocol(**kwargs)
    transport = FakeDatagramTransport(port=12000)
    protocol.makeConnection(transport)
    return protocol, transport


def _answered(protocol: Any, transport: FakeDatagramTransport, source: Any, count: int) -> int:
    """
    Send C{count} datagrams from C{source}; return how many were answered.
    """
    before = len(transport.written)
    for _ in range(count):
        protocol.datagramReceived(b"x", source)
    return len(transport.written) - before


class EvictionTests(SynchronousTestCase):
    """
    A flood of new sources cannot reset a limited source's allowance
    (finding 7).
    """

    def test_victimStaysLimited(self):
        """
        A source that exhausted its burst gets nothing more after one datagram
        from each of C{maxSources} other networks, as long as its bucket has
        not refilled.
        """
        protocol, transport = _uppercase(rate=50, burst=100, maxSources=100)
        self.assertEqual(_answered(protocol, transport, VICTIM, 115), 100)
        for i in range(100):
            protocol.datagramReceived(b"x", (f"10.{i}.0.1", 40000))
        self.assertEqual(_answered(protocol, transport, VICTIM, 115), 0)

    def test_refilledMayBeForgotten(self):
        """
        Once its bucket has refilled, a source may be forgotten to make room:
        forgetting it then costs it nothing.
        """
        clock = Clock()
        protocol, transport = _uppercase(rate=50, burst=100, maxSources=2, reactor=clock)
        _answered(protocol, transport, VICTIM, 100)
        _answered(protocol, transport, ("198.51.100.1", 40000), 1)
        self.assertEqual(_answered(protocol, transport, ("203.0.113.1", 40000), 1), 0)
        clock.advance(2)
        self.assertEqual(_answered(protocol, transport, ("203.0.113.1", 40000), 1), 1)
        self.assertEqual(len(protocol.guard.limiter.sources), 2)

    def test_fullOfLimitedDrops(self):
        """
        When every remembered source is limited, a new source is not answered
        (and is counted), rather than evicting one of them.
        """
        limiter = RateLimiter(rate=1, burst=2, maxSources=3)
        for key in "abc":
            self.assertTrue(limiter.allow(key, 0))
        self.assertFalse(limiter.allow("d", 0))
        self.assertEqual(limiter.tableFull, 1)
        self.assertEqual(set(limiter.sources), {"a", "b", "c"})

    def test_secondChance(self):
        """
        A limited source at the head of the table is kept and the next one,
        refilled, is forgotten instead.
        """
        limiter = RateLimiter(rate=1, burst=5, maxSources=2)
        for _ in range(5):
            limiter.allow("limited", 0)
        limiter.allow("light", 0)
        self.assertTrue(limiter.allow("new", 1))
        self.assertEqual(list(limiter.sources), ["limited", "new"])

    def test_sameNetworkShares(self):
        """
        Forged sources in the victim's /24 share its allowance: they cannot
        multiply it.
        """
        protocol, transport = _uppercase(rate=50, burst=100)
        _answered(protocol, transport, VICTIM, 100)
        for i in range(2, 200):
            protocol.datagramReceived(b"x", (f"192.0.2.{i}", 40000 + i))
        self.assertEqual(len(transport.written), 100)
        self.assertEqual(protocol.dropped["rate"], 198)

    def test_loopbackCheckedFirst(self):
        """
        Loopback sources are exempt, and their prefix is never computed (the
        benchmark's hot path).
        """
        keys: List[str] = []
        guard = SourceGuard(RateLimiter(1, 1, 10), key=lambda host: keys.append(host) or host)
        self.assertEqual([guard.refusal("127.0.0.1", 5000) for _ in range(3)], [None] * 3)
        self.assertEqual([guard.refusal("::1", 5000) for _ in range(3)], [None] * 3)
        self.assertEqual(keys, [])


class PrefixKeyTests(SynchronousTestCase):
    """
    L{PrefixKey} maps an address to its network prefix.
    """

    def test_ipv4(self):
        """
        By default, IPv4 addresses in one /24 share a key; others do not.
        """
        key = PrefixKey()
        self.assertEqual(key("10.1.2.3"), key("10.1.2.250"))
        self.assertNotEqual(key("10.1.2.3"), key("10.1.3.3"))

    def test_ipv6(self):
        """
        By default, IPv6 addresses in one /56 share a key; others do not.
        """
        key = PrefixKey()
        self.assertEqual(key("2001:db8:0:1200::1"), key("2001:db8:0:12ff:ffff::9"))
        self.assertNotEqual(key("2001:db8:0:1200::1"), key("2001:db8:0:1300::1"))

    def test_mappedAndScoped(self):
        """
        An IPv4-mapped address counts as its IPv4 address (not as part of
        C{::ffff:0:0/56}, which holds every IPv4 address); a scope is ignored.
        """
        key = PrefixKey()
        self.assertEqual(key("::ffff:10.1.2.3"), key("10.1.2.99"))
        self.assertNotEqual(key("::ffff:10.1.2.3"), key("::ffff:10.9.2.3"))
        self.assertEqual(key("fe80::1%eth0"), key("fe80::2"))

    def test_lengths(self):
        """
        The lengths are configurable: 32 and 128 key by address, 0 lumps all
        together; the families never share a key; out of range is refused.
        """
        exact = PrefixKey(32, 128)
        self.assertNotEqual(exact("10.0.0.1"), exact("10.0.0.2"))
        self.assertNotEqual(exact("2001:db8::1"), exact("2001:db8::2"))
        lumped = PrefixKey(0, 0)
        self.assertEqual(lumped("10.0.0.1"), lumped("192.0.2.1"))
        self.assertNotEqual(lumped("10.0.0.1"), lumped("2001:db8::1"))
        self.assertEqual(PrefixKey(8, 16)("10.200.0.1"), PrefixKey(8, 16)("10.1.0.1"))
        self.assertRaises(ValueError, PrefixKey, 33, 56)
        self.assertRaises(ValueError, PrefixKey, 24, 129)

    def test_notAnAddress(self):
        """
        A host that is not a literal address is its own key.
        """
        self.assertEqual(PrefixKey()("example"), "example")


class PrefixOptionsTests(SynchronousTestCase):
    """
    C{--udp-prefix-v4} and C{--udp-prefix-v6} set the accounting prefixes,
    and C{--workers} divides the UDP rate limit.
    """

    def test_defaults(self):
        """
        The defaults are /24 and /56, and reach every UDP service's limiter.
        """
        options = _parse("--udp", "udp:0", "--time", "udp:0")
        self.assertEqual((options["udp-prefix-v4"], options["udp-prefix-v6"]), (24, 56))
        for protocol in _udpProtocols(makeService(options, MemoryReactorClock())):
            self.assertEqual((protocol.guard.key.v4, protocol.guard.key.v6), (24, 56))

    def test_given(self):
        """
        Given lengths reach the uppercase and time services.
        """
        options = _parse(
            "--udp", "udp:0", "--time", "udp:0", "--udp-prefix-v4", "32", "--udp-prefix-v6", "64"
        )
        protocols = _udpProtocols(makeService(options, MemoryReactorClock()))
        self.assertEqual(len(protocols), 2)
        for protocol in protocols:
            self.assertEqual((protocol.guard.key.v4, protocol.guard.key.v6), (32, 64))

    def test_range(self):
        """
        Lengths beyond the address size, or negative, are refused.
        """
        for argv, message in [
            (("--udp-prefix-v4", "33"), "--udp-prefix-v4: expected 0 to 32, got '33'"),
            (("--udp-prefix-v6", "129"), "--udp-prefix-v6: expected 0 to 128, got '129'"),
            (("--udp-prefix-v4", "-1"), "--udp-prefix-v4: expected 0 to 32, got '-1'"),
        ]:
            with self.assertRaises(UsageError) as e:
                _parse(*argv)
            self.assertEqual(str(e.exception), message)

    def test_helpDocumented(self):
        """
        The help text names each limit and its default.
        """
        help = str(Options())
        for text in ("--udp-prefix-v4=", "[default: 24]", "--udp-prefix-v6=", "[default: 56]"):
            self.assertIn(text, help)

    def test_workersDivide(self):
        """
        With --workers N each worker gets 1/N of the rate and burst, so that a
        flood spread over the workers by source port stays within them.
        """
        args = _parse("--workers", "4", "--udp-rate", "50", "--udp-burst", "100").workerArguments()
        self.assertIn("--udp-rate=12.5", args)
        self.assertIn("--udp-burst=25", args)
        args = _parse("--workers", "3", "--udp-burst", "2").workerArguments()
        self.assertIn("--udp-burst=1", args)
        self.assertIn("--udp-prefix-v4=24", args)


def _udpProtocols(top: Any) -> List[Any]:
    return [s.args[1] for s in top if isinstance(s, UDPListener)]


class ProcessPortsTests(SynchronousTestCase):
    """
    No UDP service answers a datagram from any UDP port of its process, so
    one forged datagram cannot start a ping-pong between two of them
    (finding 8).
    """

    def setUp(self):
        options = _parse("--udp", "udp:0", "--time", "udp:0", "--chat", "udp:0")
        protocols = _udpProtocols(makeService(options, MemoryReactorClock()))
        self.byType = {type(p): p for p in protocols}
        ports = {UppercaseDatagramProtocol: 12000, TimeDatagramProtocol: 12013, ChatProtocol: 12021}
        self.transports = {kind: FakeDatagramTransport(port=port) for kind, port in ports.items()}
        for kind, protocol in self.byType.items():
            protocol.makeConnection(self.transports[kind])

    def test_uppercaseIgnoresTime(self):
        """
        The uppercase service does not answer the time service's port (nor
        the chat's).
        """
        uppercase = self.byType[UppercaseDatagramProtocol]
        for port in (12013, 12021):
            uppercase.datagramReceived(b"%Y", ("127.0.0.1", port))
        self.assertEqual(self.transports[UppercaseDatagramProtocol].written, [])
        self.assertEqual(uppercase.dropped["source-port"], 2)

    def test_timeIgnoresUppercase(self):
        """
        The time service does not answer the uppercase service's port.
        """
        time = self.byType[TimeDatagramProtocol]
        time.datagramReceived(b"%Y", ("127.0.0.1", 12000))
        self.assertEqual(self.transports[TimeDatagramProtocol].written, [])

    def test_chatIgnoresOthers(self):
        """
        The chat relay does not answer the other services' ports.
        """
        chat = self.byType[ChatProtocol]
        chat.datagramReceived(b"JOIN someone-long-enough", ("127.0.0.1", 12000))
        chat.datagramReceived(b"JOIN someone-long-enough", ("127.0.0.1", 12013))
        self.assertEqual(self.transports[ChatProtocol].written, [])
        chat.datagramReceived(b"JOIN someone-long-enough", ("127.0.0.1", 40000))
        self.assertEqual(len(self.transports[ChatProtocol].written), 1)

    def test_busyPortOption(self):
        """
        A worker told the parent's UDP ports (C{--udp-busy-port}) answers
        none of them.
        """
        options = _parse("--inherit", "udp:7", "--udp-busy-port", "12013")
        self.assertEqual(options["udp-busy-ports"], [12013])
        self.assertRaises(UsageError, _parse, "--udp-busy-port", "x")
        protocol = UppercaseDatagramProtocol(reactor=Clock(), udpPorts={12013})
        protocol.makeConnection(FakeDatagramTransport(port=12000))
        protocol.datagramReceived(b"x", ("127.0.0.1", 12013))
        self.assertEqual(protocol.dropped["source-port"], 1)

    def test_workersToldEveryPort(self):
        """
        With --workers, the parent's services share the pool's port set, and
        every worker is told every UDP port of the parent.
        """
        options = _parse(
            "--workers",
            "2",
            "--udp",
            "udp:0:interface=127.0.0.1",
            "--time",
            "udp:0:interface=127.0.0.1",
        )
        top = makeService(options, MemoryReactorClock())
        [pool] = [s for s in top if isinstance(s, WorkerPool)]
        [time] = _udpProtocols(top)
        self.assertIs(time.guard.ports, pool.udpPorts)
        time.makeConnection(FakeDatagramTransport(port=12013))
        pool.privilegedStartService()
        self.addCleanup(pool.closeSockets)
        shared = pool.sockets[0][0].getsockname()[1]
        self.assertEqual(pool.udpPorts, {12013, shared})
        args, _ = pool._command(1)
        self.assertIn("--udp-busy-port=12013", args)
        self.assertIn(f"--udp-busy-port={shared}", args)


class TimeAmplificationTests(SynchronousTestCase):
    """
    Over UDP the time service's reply is at most twice its request on the
    wire (finding 4); TCP still gets any answer.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(WHEN)
        self.transport = FakeDatagramTransport(port=12013)
        self.proto = TimeDatagramProtocol(self.clock, utc=True)
        self.proto.makeConnection(self.transport)

    def reply(self, request: bytes) -> bytes:
        self.proto.datagramReceived(request, ("192.0.2.1", 40000))
        [(data, _)] = self.transport.pop()
        return data

    def test_largeRefused(self):
        """
        C{%512Y} (5 bytes) gets a short error instead of 512 bytes; the same
        format over TCP (L{formatTime}) still gets the answer.
        """
        self.assertEqual(self.reply(b"%512Y"), UDP_TOO_LONG)
        self.assertEqual(self.proto.tooLong, 1)
        self.assertEqual(len(formatTime(b"%512Y", WHEN, utc=True)), 512)

    def test_shortBadFormat(self):
        """
        A one-byte bad format gets a short error that obeys the bound too.
        """
        self.assertEqual(self.reply(b"\xff"), UDP_BAD_FORMAT)
        self.assertEqual(self.reply(b"\x00"), UDP_BAD_FORMAT)

    def test_tutorialFormats(self):
        """
        The time client's usual requests (empty, C{%Y-%m-%d %X}, C{%H:%M}, with
        or without a line end) are answered as before.
        """
        for request in (b"", b"\n", b"%Y-%m-%d %X", b"%H:%M", b"%H:%M\r\n", b"%c"):
            self.assertEqual(self.reply(request), formatTime(request, WHEN, utc=True))
        self.assertEqual(self.proto.tooLong, 0)

    def test_errorsFit(self):
        """
        The short errors fit the bound of an empty request: 28 bytes.
        """
        self.assertLessEqual(len(UDP_TOO_LONG), udpReplyLimit(0))
        self.assertLessEqual(len(UDP_BAD_FORMAT), udpReplyLimit(0))
        self.assertEqual(udpReplyLimit(5) + 28, 2 * (5 + 28))

    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.text(alphabet="%YmdHMSXcxjaAbBpZz0123456789 -:_#\x00\n", max_size=300).map(
                lambda t: t.encode("utf-8")
            ),
        )
    )
    def test_bound(self, request: bytes):
        """
        For any request, exactly one reply, and reply + 28 <= 2 * (request +
        28) bytes on the wire.
        """
        reply = self.reply(request)
        self.assertLessEqual(len(reply) + 28, 2 * (len(request) + 28))
