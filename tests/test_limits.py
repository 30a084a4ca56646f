# -*- test-case-name: tests.test_limits -*-
"""
Tests for L{sockservice.server.limits}.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.limits import ConnectionCounter, LogThrottle, RateLimiter, isLoopback
from sockservice.server.sources import MAX_EXEMPT, SourceGuard
from tests.servicefakes import FakeDatagramTransport

_HOSTS = ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "192.0.2.1", "2001:db8::1"]
_PORTS = [0, 7, 1023, 1024, 12000, 50000]
_LIMIT_LOOPBACK = ("flip", -1)


class IsLoopbackTests(SynchronousTestCase):
    """
    L{isLoopback} recognises loopback addresses of both families.
    """

    def test_loopback(self):
        """
        127.0.0.0/8, ::1 and IPv4-mapped loopback are loopback.
        """
        for host in ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"]:
            self.assertTrue(isLoopback(host), host)

    def test_notLoopback(self):
        """
        Other addresses, and things that are not addresses, are not.
        """
        for host in ["10.0.0.1", "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "", "localhost"]:
            self.assertFalse(isLoopback(host), host)


class RateLimiterTests(SynchronousTestCase):
    """
    L{RateLimiter} is a token bucket per source over a bounded table.
    """

    def test_burstThenRate(self):
        """
        A source may send C{burst} events at once, then C{rate} per second.
        """
        limiter = RateLimiter(rate=2, burst=3, maxSources=10)
        self.assertEqual([limiter.allow("a", 0) for _ in range(4)], [True] * 3 + [False])
        self.assertFalse(limiter.allow("a", 0.4))
        self.assertTrue(limiter.allow("a", 0.5))
        self.assertFalse(limiter.allow("a", 0.5))

    def test_sourcesIndependent(self):
        """
        One source exhausting its budget does not limit another.
        """
        limiter = RateLimiter(rate=1, burst=1, maxSources=10)
        self.assertTrue(limiter.allow("a", 0))
        self.assertFalse(limiter.allow("a", 0))
        self.assertTrue(limiter.allow("b", 0))

    def test_refillCapped(self):
        """
        A long silence refills the bucket up to C{burst}, no more.
        """
        limiter = RateLimiter(rate=10, burst=2, maxSources=10)
        limiter.allow("a", 0)
        results = [limiter.allow("a", 1000) for _ in range(3)]
        self.assertEqual(results, [True, True, False])

    def test_tableBounded(self):
        """
        The table never holds more than C{maxSources} sources; the least
        recently seen whose allowance is whole again is forgotten first.
        """
        limiter = RateLimiter(rate=1, burst=1, maxSources=3)
        for i in range(100):
            limiter.allow(f"10.0.0.{i}", i)
        self.assertEqual(len(limiter.sources), 3)
        self.assertEqual(list(limiter.sources), ["10.0.0.97", "10.0.0.98", "10.0.0.99"])

    def test_recentlySeenKept(self):
        """
        A source seen again moves to the back of the eviction order.
        """
        limiter = RateLimiter(rate=1, burst=5, maxSources=2)
        limiter.allow("a", 0)
        limiter.allow("b", 0)
        limiter.allow("a", 0)
        limiter.allow("c", 10)
        self.assertEqual(list(limiter.sources), ["a", "c"])

    def test_invalid(self):
        """
        Non-positive parameters are refused.
        """
        self.assertRaises(ValueError, RateLimiter, 0, 1, 1)
        self.assertRaises(ValueError, RateLimiter, 1, 1, 0)


class ConnectionCounterTests(SynchronousTestCase):
    """
    L{ConnectionCounter} enforces total and per-address caps.
    """

    def test_totalCap(self):
        """
        Past the total cap, connections are refused with reason C{"total"},
        even from exempt addresses.
        """
        counter = ConnectionCounter(maxTotal=2, maxPerAddress=0)
        self.assertIsNone(counter.refusal("a"))
        self.assertIsNone(counter.refusal("b"))
        self.assertEqual(counter.refusal("c", exempt=True), "total")
        counter.closed("a")
        self.assertIsNone(counter.refusal("c"))

    def test_perAddressCap(self):
        """
        Past the per-address cap, that address is refused but others are not;
        exempt addresses are not capped.
        """
        counter = ConnectionCounter(maxTotal=0, maxPerAddress=1)
        self.assertIsNone(counter.refusal("a"))
        self.assertEqual(counter.refusal("a"), "per-address")
        self.assertIsNone(counter.refusal("b"))
        self.assertIsNone(counter.refusal("a", exempt=True))

    def test_tableHoldsOnlyOpen(self):
        """
        Addresses with no open connection are forgotten.
        """
        counter = ConnectionCounter(maxTotal=0, maxPerAddress=5)
        counter.refusal("a")
        counter.closed("a")
        self.assertEqual(dict(counter.perAddress), {})
        self.assertEqual(counter.total, 0)


class SourceGuardTests(SynchronousTestCase):
    """
    L{SourceGuard} refuses dangerous source ports, then over-rate sources.
    """

    def test_ports(self):
        """
        Port 0, privileged ports and the process's UDP ports are refused;
        1024 and above are not.
        """
        guard = SourceGuard()
        guard.ports.add(12000)
        self.assertEqual(
            [guard.refusal("192.0.2.1", port) for port in (0, 7, 1023, 12000, 1024, 50000)],
            ["source-port"] * 4 + [None, None],
        )

    def test_bound(self):
        """
        Once the service is bound, its own port is refused and the address
        is logged, with the service's name if given.
        """
        events: list = []
        guard = SourceGuard()
        guard.bound(FakeDatagramTransport(port=4321), Logger(observer=events.append))
        guard.bound(FakeDatagramTransport(port=4321), Logger(observer=events.append), "chat")
        self.assertEqual(guard.refusal("192.0.2.1", 4321), "source-port")
        self.assertEqual(
            [formatEvent(e) for e in events],
            [
                "sockservice: listening on UDP 127.0.0.1:4321",
                "sockservice: listening on UDP 127.0.0.1:4321 (chat)",
            ],
        )

    def test_rate(self):
        """
        Past its limiter's budget a host is refused with C{"rate"}; loopback
        is exempt unless C{limitLoopback}, and then the clock is not asked.
        """
        now = []

        def seconds():
            now.append(0)
            return 0.0

        guard = SourceGuard(RateLimiter(1, 1, 10), seconds=seconds)
        self.assertEqual([guard.refusal("127.0.0.1", 5000) for _ in range(3)], [None] * 3)
        self.assertEqual(now, [])
        self.assertEqual([guard.refusal("192.0.2.1", 5000) for _ in range(2)], [None, "rate"])
        guard.limitLoopback = True
        self.assertEqual([guard.refusal("::1", 5000) for _ in range(2)], [None, "rate"])

    def test_exemptRemembered(self):
        """
        A loopback host found exempt is remembered, so that
        L{SourceGuard.allowsAtOnce} answers for it; hosts subject to the
        limit, or any host while loopback is limited, are not.
        """
        guard = SourceGuard(RateLimiter(1, 1, 10))
        self.assertFalse(guard.allowsAtOnce("127.0.0.1", 5000))
        for host in ("127.0.0.1", "::1", "192.0.2.1"):
            guard.refusal(host, 5000)
        self.assertEqual(guard.exempt, {"127.0.0.1", "::1"})
        self.assertTrue(guard.allowsAtOnce("127.0.0.1", 5000))
        self.assertFalse(guard.allowsAtOnce("127.0.0.1", 1023))
        self.assertFalse(guard.allowsAtOnce("192.0.2.1", 5000))
        guard.limitLoopback = True
        self.assertEqual(guard.exempt, set())
        self.assertEqual([guard.refusal("127.0.0.1", 5000) for _ in range(2)], [None, "rate"])
        self.assertEqual(guard.exempt, set())

    def test_exemptBounded(self):
        """
        At most L{MAX_EXEMPT} exempt hosts are remembered; the others are
        still exempt.
        """
        guard = SourceGuard(RateLimiter(1, 1, 10))
        hosts = [f"127.0.{i // 256}.{i % 256}" for i in range(MAX_EXEMPT + 50)]
        self.assertEqual([guard.refusal(h, 5000) for h in hosts * 2], [None] * len(hosts) * 2)
        self.assertEqual(len(guard.exempt), MAX_EXEMPT)

    @given(
        st.booleans(),
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(_HOSTS), st.sampled_from(_PORTS)),
                st.just(_LIMIT_LOOPBACK),
            ),
            max_size=40,
        ),
    )
    def test_allowsAtOnceIsSure(self, limited, steps):
        """
        Whenever L{SourceGuard.allowsAtOnce} holds, L{SourceGuard.refusal}
        is L{None}, whatever came before.
        """
        guard = SourceGuard(RateLimiter(1, 2, 3) if limited else None)
        guard.ports.add(12000)
        for step in steps:
            if step == _LIMIT_LOOPBACK:
                guard.limitLoopback = not guard.limitLoopback
                continue
            host, port = step
            sure = guard.allowsAtOnce(host, port)
            refusal = guard.refusal(host, port)
            if sure:
                self.assertIsNone(refusal)


class LogThrottleTests(SynchronousTestCase):
    """
    L{LogThrottle}: one line per interval, the others counted.
    """

    def test_onePerInterval(self) -> None:
        """
        The first refusal is logged; those within the interval are counted
        and reported with the next line due.
        """
        clock = Clock()
        throttle = LogThrottle(clock, 1.0)
        self.assertEqual(throttle.due(), 0)
        self.assertIsNone(throttle.due())
        clock.advance(0.5)
        self.assertIsNone(throttle.due())
        clock.advance(0.5)
        self.assertEqual(throttle.due(), 2)
        clock.advance(1.0)
        self.assertEqual(throttle.due(), 0)
