# -*- test-case-name: tests.test_impair -*-
"""
Tests for L{tests.impair}: the impairer does exactly what its impairment
says, on a L{Clock}, and records exactly what it did.
"""

from __future__ import annotations

from typing import List, Tuple

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.impair import Direction, Impairer, Impairment, Lines, corrupt


class _Sink:
    """
    Remembers each unit delivered, with the clock's time.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.got: List[Tuple[float, bytes]] = []

    def __call__(self, data: bytes) -> None:
        self.got.append((self.clock.seconds(), data))

    @property
    def data(self) -> List[bytes]:
        return [data for _, data in self.got]


def _impairer(impairment: Impairment, seed: int = 0) -> Tuple[Clock, Impairer, _Sink, Direction]:
    clock = Clock()
    sink = _Sink(clock)
    direction = Direction(impairment, seed)
    return clock, Impairer(clock, direction, sink), sink, direction


def _units(n: int) -> List[bytes]:
    return [b"unit%03d" % (i,) for i in range(1, n + 1)]


class ImpairerTests(SynchronousTestCase):
    """
    L{Impairer} delays, drops, corrupts, duplicates and reorders units as
    told, and its L{Record} counts each action.
    """

    def test_untouched(self) -> None:
        """
        With no impairment every unit is delivered at once, in order.
        """
        _, impairer, sink, direction = _impairer(Impairment())
        for unit in _units(5):
            impairer.receive(unit)
        self.assertEqual(sink.data, _units(5))
        self.assertEqual((direction.record.received, direction.record.delivered), (5, 5))
        self.assertEqual(direction.record.actions, [])

    def test_delay(self) -> None:
        """
        Every unit leaves exactly C{delay} seconds after it came, in order,
        however the arrivals are spaced.
        """
        clock, impairer, sink, _ = _impairer(Impairment(delay=0.02))
        arrivals = {0: b"a", 1: b"b", 2: b"c", 52: b"d"}
        for millisecond in range(100):
            if millisecond in arrivals:
                impairer.receive(arrivals[millisecond])
            clock.advance(0.001)
        self.assertEqual(sink.data, [b"a", b"b", b"c", b"d"])
        self.assertEqual([round(t, 6) for t, _ in sink.got], [0.02, 0.021, 0.022, 0.072])

    def test_dropEvery(self) -> None:
        """
        C{dropEvery=3} drops units 3, 6 and 9 of ten.
        """
        _, impairer, sink, direction = _impairer(Impairment(dropEvery=3))
        for unit in _units(10):
            impairer.receive(unit)
        self.assertEqual(len(sink.data), 7)
        self.assertNotIn(b"unit003", sink.data)
        self.assertEqual(direction.record.dropped, 3)
        self.assertEqual(direction.record.actions, [(3, "drop"), (6, "drop"), (9, "drop")])

    def test_seeded(self) -> None:
        """
        Chosen by probability, the same seed makes the same choices, and the
        record counts exactly the units missing.
        """
        records = []
        for _ in range(2):
            _, impairer, sink, direction = _impairer(Impairment(dropProbability=0.2), seed=7)
            for unit in _units(200):
                impairer.receive(unit)
            self.assertEqual(direction.record.dropped, 200 - len(sink.data))
            records.append(direction.record.actions)
        self.assertEqual(records[0], records[1])
        self.assertTrue(20 < len(records[0]) < 60, len(records[0]))

    def test_duplicate(self) -> None:
        """
        A duplicated unit is delivered twice, one copy after the other.
        """
        _, impairer, sink, direction = _impairer(Impairment(duplicateEvery=2))
        for unit in _units(3):
            impairer.receive(unit)
        self.assertEqual(sink.data, [b"unit001", b"unit002", b"unit002", b"unit003"])
        self.assertEqual((direction.record.duplicated, direction.record.delivered), (1, 4))

    def test_corrupt(self) -> None:
        """
        A corrupted unit has the case of one byte flipped, at
        C{corruptOffset}.
        """
        _, impairer, sink, direction = _impairer(Impairment(corruptEvery=1, corruptOffset=-2))
        impairer.receive(b"ABCD\n")
        self.assertEqual(sink.data, [b"ABCd\n"])
        self.assertEqual(direction.record.corrupted, 1)
        self.assertEqual(corrupt(b"AB", 5), b"Ab")

    def test_reorder(self) -> None:
        """
        A reordered unit is held back and sent right after the next unit.
        """
        clock, impairer, sink, direction = _impairer(Impairment(reorderEvery=2, delay=0.01))
        for unit in _units(5):
            impairer.receive(unit)
            clock.advance(0.001)
        clock.pump([0.01] * 5)
        self.assertEqual(sink.data, [b"unit001", b"unit003", b"unit002", b"unit005", b"unit004"])
        self.assertEqual(direction.record.reordered, 2)
        self.assertEqual(direction.record.released, 0)
        self.assertEqual(direction.record.actions, [(2, "reorder"), (4, "reorder")])

    def test_releasedAlone(self) -> None:
        """
        A held unit that nothing overtakes leaves after C{holdFor}, and counts
        as released, not reordered.
        """
        clock, impairer, sink, direction = _impairer(Impairment(reorderEvery=1, holdFor=0.3))
        impairer.receive(b"only")
        clock.advance(0.29)
        self.assertEqual(sink.data, [])
        clock.advance(0.01)
        self.assertEqual(sink.data, [b"only"])
        self.assertEqual((direction.record.reordered, direction.record.released), (0, 1))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_oneAction(self) -> None:
        """
        A unit chosen for several actions gets the first of drop, corrupt,
        duplicate, reorder.
        """
        _, impairer, sink, direction = _impairer(
            Impairment(dropEvery=2, corruptEvery=2, duplicateEvery=3)
        )
        for unit in _units(6):
            impairer.receive(unit)
        self.assertEqual(
            direction.record.actions, [(2, "drop"), (3, "duplicate"), (4, "drop"), (6, "drop")]
        )
        self.assertEqual(direction.record.corrupted, 0)
        self.assertEqual(sink.data, [b"unit001", b"unit003", b"unit003", b"unit005"])

    def test_whenDrained(self) -> None:
        """
        L{Impairer.whenDrained} fires once the queued units are out, sending
        a held one without waiting for its C{holdFor}.
        """
        clock, impairer, sink, _ = _impairer(Impairment(delay=0.05, reorderEvery=2))
        impairer.receive(b"a")
        impairer.receive(b"b")
        drained = impairer.whenDrained()
        self.assertNoResult(drained)
        clock.advance(0.05)
        self.successResultOf(drained)
        self.assertEqual(sink.data, [b"a", b"b"])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        L{Impairer.stop} forgets what is queued or held and leaves no timer.
        """
        clock, impairer, sink, _ = _impairer(Impairment(delay=0.05, reorderEvery=2))
        impairer.receive(b"a")
        impairer.receive(b"b")
        impairer.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(1)
        self.assertEqual(sink.data, [])


class LinesTests(SynchronousTestCase):
    """
    L{Lines} cuts a stream into lines however it is split.
    """

    def test_split(self) -> None:
        """
        Lines keep their newline; the unfinished rest comes with C{flush}.
        """
        lines = Lines()
        self.assertEqual(lines.feed(b"ab"), [])
        self.assertEqual(lines.feed(b"c\nd\n\ne"), [b"abc\n", b"d\n", b"\n"])
        self.assertEqual(lines.flush(), [b"e"])
        self.assertEqual(lines.flush(), [])
