# -*- test-case-name: tests.test_probeaccounting -*-
"""
Tests for L{sockservice.probe.accounting} and L{sockservice.probe.latency}:
each reply counted exactly once, as what it is.
"""

from __future__ import annotations

from typing import List

from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from sockservice.probe import latency
from sockservice.probe.accounting import RING, Accounting, Counts
from sockservice.probe.latency import HIGHEST_NS, Latency

MS = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000 * MS

    def __call__(self) -> int:
        return self.now


def _accounting(size: int = 64) -> tuple[Accounting, FakeClock]:
    clock = FakeClock()
    return Accounting(size, 1000 * MS, clock), clock


class AccountingTests(SynchronousTestCase):
    """
    What each reply, or silence, counts as.
    """

    def assertClose(self, value: object, expected: float) -> None:
        """
        C{value} is C{expected} to the histogram's three digits.
        """
        assert isinstance(value, float)
        self.assertTrue(abs(value - expected) <= expected / 500, f"{value} != {expected}")

    def send(self, accounting: Accounting, n: int) -> List[bytes]:
        clock = accounting._clock
        requests = []
        for _ in range(n):
            requests.append(accounting.nextRequest())
            clock.now += 1_000_003  # type: ignore[attr-defined]
        return requests

    def test_answered(self) -> None:
        """
        A reply that is the request upper-cased is answered, with its latency.
        """
        accounting, clock = _accounting()
        (request,) = self.send(accounting, 1)
        clock.now += 5 * MS
        accounting.replied(request.upper())
        self.assertEqual(accounting.counts, Counts(sent=1, answered=1))
        self.assertClose(accounting.latency.summary()["p50"], 6000.003)
        self.assertEqual(accounting.waiting, 0)

    def test_lostThenLate(self) -> None:
        """
        A request unanswered past the timeout is lost; its reply after that
        is late, not answered.
        """
        accounting, clock = _accounting()
        (request,) = self.send(accounting, 1)
        deadline = clock.now - 1_000_003 + 1000 * MS
        self.assertEqual(accounting.expire(), deadline)
        clock.now = deadline
        self.assertIsNone(accounting.expire())
        accounting.replied(request.upper())
        self.assertEqual(accounting.counts, Counts(sent=1, lost=1, late=1))

    def test_lateBeforeTimer(self) -> None:
        """
        A reply after the timeout is late even if the timer has not run.
        """
        accounting, clock = _accounting()
        (request,) = self.send(accounting, 1)
        clock.now += 1001 * MS
        accounting.replied(request.upper())
        self.assertEqual(accounting.counts, Counts(sent=1, lost=1, late=1))

    def test_duplicated(self) -> None:
        """
        A second copy of a reply is duplicated, however many copies come.
        """
        accounting, clock = _accounting()
        (request,) = self.send(accounting, 1)
        for _ in range(3):
            accounting.replied(request.upper())
        self.assertEqual(accounting.counts, Counts(sent=1, answered=1, duplicated=2))

    def test_reordered(self) -> None:
        """
        A reply numbered lower than one answered before it is reordered (and
        answered).
        """
        accounting, clock = _accounting()
        requests = self.send(accounting, 4)
        for index in (0, 2, 1, 3):
            accounting.replied(requests[index].upper())
        self.assertEqual(accounting.counts, Counts(sent=4, answered=4, reordered=1))

    def test_corruptedPadding(self) -> None:
        """
        A reply with one byte changed is corrupted, not answered and not
        lost; the first differing offset is kept.
        """
        accounting, clock = _accounting()
        requests = self.send(accounting, 3)
        reply = bytearray(requests[1].upper())
        reply[50] = ord("!")
        accounting.replied(bytes(reply))
        accounting.finish()
        self.assertEqual(accounting.counts, Counts(sent=3, lost=2, corrupted=1))
        self.assertEqual(accounting.firstCorruption, (1, 50))

    def test_corruptedHeader(self) -> None:
        """
        A reply whose sequence number was changed still ends the wait of
        the request it answers: one corruption, no loss.
        """
        accounting, clock = _accounting()
        requests = self.send(accounting, 3)
        reply = bytearray(requests[2].upper())
        reply[11] = ord("A")  # sequence 2 becomes 0
        accounting.replied(bytes(reply))
        for request in requests[:2]:
            accounting.replied(request.upper())
        accounting.finish()
        self.assertEqual(accounting.counts, Counts(sent=3, answered=2, corrupted=1))
        self.assertEqual(accounting.firstCorruption, (2, 11))

    def test_echoIsCorrupted(self) -> None:
        """
        A reply that is the request itself (a reflector, not the service)
        is corrupted.
        """
        accounting, clock = _accounting()
        (request,) = self.send(accounting, 1)
        accounting.replied(request)
        self.assertEqual(accounting.counts.corrupted, 1)
        self.assertEqual(accounting.firstCorruption, (0, 0))

    def test_garbage(self) -> None:
        """
        A reply matching no request is corrupted at its first impossible byte.
        """
        accounting, clock = _accounting()
        accounting.replied(b"ABCxyz")
        self.assertEqual(accounting.counts, Counts(corrupted=1))
        self.assertEqual(accounting.firstCorruption, (None, 3))

    def test_veryLate(self) -> None:
        """
        A reply to a request older than the ring counts late.
        """
        accounting, clock = _accounting(28)
        first = accounting.nextRequest()
        accounting.finish()
        for _ in range(RING):
            accounting.replied(accounting.nextRequest().upper())
        accounting.replied(first.upper())
        self.assertEqual(accounting.counts.late, 1)
        self.assertEqual(accounting.counts.lost, 1)

    def test_interval(self) -> None:
        """
        An interval counts what happened since the previous one.
        """
        accounting, clock = _accounting()
        for _ in range(2):
            (request,) = self.send(accounting, 1)
            clock.now += 2 * MS
            accounting.replied(request.upper())
        row = accounting.interval()
        self.assertEqual((row.sent, row.answered, row.lost), (2, 2, 0))
        self.assertClose(row.p50Us, 3000.003)
        row = accounting.interval()
        self.assertEqual((row.sent, row.p50Us), (0, None))


class LatencyTests(SynchronousTestCase):
    """
    L{Latency}: the HDR histogram, read in microseconds.
    """

    def test_empty(self) -> None:
        """
        With nothing recorded, every figure is None and the table empty.
        """
        latency = Latency()
        self.assertEqual(set(latency.summary().values()), {None})
        self.assertEqual(latency.percentiles(), [])
        self.assertEqual(latency.hgrm(), "")

    def test_percentiles(self) -> None:
        """
        Percentiles are right to three significant digits, and the table
        ends at 100% with every value counted.
        """
        latency = Latency()
        for us in range(1, 1001):
            latency.record(us * 1000)
        summary = latency.summary()
        assert summary["p50"] is not None and summary["p99"] is not None
        self.assertTrue(abs(summary["p50"] - 500) < 1 and abs(summary["p99"] - 990) < 1, summary)
        table = latency.percentiles()
        self.assertEqual((table[-1]["percentile"], table[-1]["count"]), (100.0, 1000))
        self.assertIn("Percentile", latency.hgrm())


class VerificationProperties(SynchronousTestCase):
    """
    The reply check compares the header and the padding apart: it must
    agree with comparing the whole reply with the request upper-cased.
    """

    @settings(max_examples=200, deadline=None)
    @given(st.integers(0, 63), st.integers(0, 255), st.integers(28, 200))
    def test_anyByteChanged(self, offset: int, value: int, size: int) -> None:
        """
        A reply with any one byte of the expected reply changed (to any
        other value) is never answered; unchanged, it is.
        """
        accounting, clock = _accounting(size)
        request = accounting.nextRequest()
        expected = bytearray(request.upper())
        offset %= size
        if expected[offset] == value:
            accounting.replied(bytes(expected))
            self.assertEqual(accounting.counts.answered, 1)
            return
        expected[offset] = value
        accounting.replied(bytes(expected))
        self.assertEqual((accounting.counts.answered, accounting.counts.corrupted), (0, 1))


class RecordProperties(SynchronousTestCase):
    """
    L{Latency.record} finds its counter itself, the same as HdrHistogram's
    C{record_value}.
    """

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.integers(-10, HIGHEST_NS * 2), min_size=1, max_size=20))
    def test_sameAsThePackage(self, values: List[int]) -> None:
        """
        Any values fill the same counters, total, minimum and maximum.
        """
        mine, theirs = Latency(), Latency()
        for ns in values:
            mine.record(ns)
            theirs.histogram.record_value(min(max(ns, 1), HIGHEST_NS))
        a, b = mine.histogram, theirs.histogram
        self.assertEqual(
            (bytes(a.counts), a.total_count, a.min_value, a.max_value),
            (bytes(b.counts), b.total_count, b.min_value, b.max_value),
        )

    def test_checkedAtImport(self) -> None:
        """
        The check at import finds the inline path agrees with the package,
        and where it does not, the package's own path records.
        """
        self.assertTrue(latency._inlineAgrees())
        self.patch(latency, "_inline", False)
        slow = Latency()
        self.assertEqual(slow.record, slow._recordSlowly)
        slow.record(12_345)
        self.assertEqual((slow.count, slow.histogram.max_value), (1, 12_345))
        self.patch(HdrHistogram, "record_value", lambda self, value, count=1: False)
        self.assertFalse(latency._inlineAgrees())
