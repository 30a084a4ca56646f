# -*- test-case-name: tests.test_idle -*-
"""
Tests for L{sockservice.server.idle}, on a L{Clock}.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.idle import MAX_INTERVAL, IdleSweep


class FakeConnection:
    """
    A connection that records when it was timed out and when it last had
    input.
    """

    quietSweeps = -1

    def __init__(self, clock):
        self.clock = clock
        self.lastInput = clock.seconds()
        self.closedAt = None

    def input(self):
        self.quietSweeps = 0
        self.lastInput = self.clock.seconds()

    def timeoutConnection(self):
        assert self.closedAt is None, "timed out twice"
        self.closedAt = self.clock.seconds()


def _advance(clock, seconds):
    """
    Advance C{clock} by C{seconds}, stopping at each call due on the way, as
    a reactor that is never late would.
    """
    end = clock.seconds() + seconds
    while True:
        due = [call.getTime() for call in clock.getDelayedCalls()]
        due = [when for when in due if when <= end]
        if not due:
            break
        clock.advance(max(0, min(due) - clock.seconds()))
    clock.advance(end - clock.seconds())


class CountingConnection(FakeConnection):
    """
    A connection that records every count the sweep sets.
    """

    def __init__(self, clock):
        super().__init__(clock)
        self.counts = []

    @property
    def quietSweeps(self):
        return self.counts[-1]

    @quietSweeps.setter
    def quietSweeps(self, value):
        self.counts.append(value)


class IdleSweepTests(SynchronousTestCase):
    """
    L{IdleSweep} closes connections silent for the timeout, give or take one
    interval, with one timer that runs only while connections are watched.
    """

    def setUp(self):
        self.clock = Clock()

    def test_interval(self):
        """
        Sweeps come a whole number of times per timeout: every second at
        most, and ten times per timeout for timeouts under ten seconds.
        """
        self.assertEqual(IdleSweep(300, self.clock).interval, MAX_INTERVAL)
        self.assertEqual(IdleSweep(2, self.clock).interval, 0.2)
        self.assertEqual(IdleSweep(299.5, self.clock).interval, 299.5 / 300)

    def test_badTimeout(self):
        """
        A timeout of 0 or less is refused: the caller disables the sweep
        instead.
        """
        self.assertRaises(ValueError, IdleSweep, 0, self.clock)
        self.assertRaises(ValueError, IdleSweep, -1, self.clock)

    def test_silentClosed(self):
        """
        A connection with no input is closed once the timeout has passed,
        not before, and forgotten.
        """
        sweep = IdleSweep(10, self.clock)
        connection = FakeConnection(self.clock)
        sweep.watch(connection)
        self.assertEqual(connection.quietSweeps, 0)
        self.clock.pump([1] * 10)
        self.assertIsNone(connection.closedAt)
        self.clock.advance(1)
        self.assertEqual(connection.closedAt, 11)
        self.assertEqual(len(sweep), 0)

    def test_inputKeepsOpen(self):
        """
        A connection with input more often than the timeout stays open.
        """
        sweep = IdleSweep(10, self.clock)
        connection = FakeConnection(self.clock)
        sweep.watch(connection)
        for _ in range(100):
            self.clock.advance(9)
            connection.input()
        self.assertIsNone(connection.closedAt)
        self.assertEqual(len(sweep), 1)

    def test_timerOnlyWhileWatching(self):
        """
        No call is pending before the first connection or after the last
        is forgotten, or timed out.
        """
        sweep = IdleSweep(10, self.clock)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        first, second = FakeConnection(self.clock), FakeConnection(self.clock)
        sweep.watch(first)
        sweep.watch(second)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        sweep.forget(first)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        sweep.forget(second)
        sweep.forget(second)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        sweep.watch(first)
        self.clock.pump([1] * 20)
        self.assertEqual(first.closedAt, 11)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_watchDuringSweep(self):
        """
        A connection watched while a sweep closes the last one (as a close
        that lets a new client in might) leaves exactly one timer pending.
        """
        sweep = IdleSweep(10, self.clock)
        newcomer = FakeConnection(self.clock)

        class Replaced(FakeConnection):
            def timeoutConnection(self):
                super().timeoutConnection()
                sweep.watch(newcomer)

        sweep.watch(Replaced(self.clock))
        self.clock.pump([1] * 11)
        self.assertEqual(len(sweep), 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.pump([1] * 11)
        self.assertEqual(newcomer.closedAt, 22)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_lateReactor(self):
        """
        A reactor that runs late sweeps once, counting every interval it
        missed, and keeps the sweeps on their schedule.
        """
        sweep = IdleSweep(10, self.clock)
        connection = CountingConnection(self.clock)
        sweep.watch(connection)
        self.clock.advance(10.5)
        self.assertEqual(connection.counts, [0, 10])
        self.assertIsNone(connection.closedAt)
        self.assertEqual([c.getTime() for c in self.clock.getDelayedCalls()], [11])
        self.clock.advance(0.5)
        self.assertEqual(connection.closedAt, 11)

    @settings(max_examples=100, deadline=None)
    @given(
        timeout=st.sampled_from([0.05, 0.3, 1, 2.5, 10, 299.9, 300]),
        joinedAt=st.floats(0, 5),
        gaps=st.lists(st.floats(0, 1.5), max_size=20),
    )
    def test_closedWithinOneInterval(self, timeout, joinedAt, gaps):
        """
        Whatever the pattern of input (gaps as fractions of the timeout),
        and whenever the connection joined the sweep, it is closed after at
        least C{timeout} seconds of silence and less than C{timeout +
        interval}: never early, never more than one interval late (given a
        reactor on time).
        """
        clock = Clock()
        sweep = IdleSweep(timeout, clock)
        sweep.watch(FakeConnection(clock))  # starts the sweep's timer
        _advance(clock, joinedAt)
        connection = FakeConnection(clock)
        sweep.watch(connection)
        epsilon = timeout * 1e-9
        for gap in gaps + [3.0]:
            _advance(clock, gap * timeout)
            if connection.closedAt is not None:
                break
            connection.input()
        self.assertIsNotNone(connection.closedAt)
        silence = connection.closedAt - connection.lastInput
        self.assertGreaterEqual(silence, timeout - epsilon)
        self.assertLess(silence, timeout + sweep.interval + epsilon)
