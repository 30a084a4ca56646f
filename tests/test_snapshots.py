# -*- test-case-name: tests.test_snapshots -*-
"""
Tests for L{sockservice.server.snapshots}: the parent asks its workers for
their counts over pipes, in memory.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.counters import snapshotToJSON
from sockservice.server.snapshots import SnapshotAnswers, SnapshotRequests, gatherSnapshots

SNAPSHOT = [("sockservice_requests_received_total", {"service": "uppercase"}, 2.0)]


class SnapshotRequestTests(SynchronousTestCase):
    """
    Requests carry a sequence number, answers are matched by it.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.written: list = []
        self.requests = SnapshotRequests(self.written.append, self.clock)

    def test_answer(self) -> None:
        """
        An answer split over reads fires the request's L{Deferred}.
        """
        d = self.requests.ask()
        self.assertEqual(self.written, [b"1\n"])
        line = b"1 " + snapshotToJSON(SNAPSHOT)
        self.requests.dataReceived(line[:5])
        self.assertNoResult(d)
        self.requests.dataReceived(line[5:])
        self.assertEqual(self.successResultOf(d), SNAPSHOT)

    def test_timeoutThenLateAnswer(self) -> None:
        """
        A worker silent for the timeout gives L{None}; its late answer is
        not taken for the next request's.
        """
        first = self.requests.ask(timeout=1.0)
        self.clock.advance(1.0)
        self.assertIsNone(self.successResultOf(first))
        second = self.requests.ask(timeout=1.0)
        self.requests.dataReceived(b"1 " + snapshotToJSON(SNAPSHOT))
        self.assertNoResult(second)
        self.requests.dataReceived(b"2 " + snapshotToJSON([]))
        self.assertEqual(self.successResultOf(second), [])

    def test_garbageAndLoss(self) -> None:
        """
        An answer that does not parse is L{None}; so is every answer still
        awaited when the worker ends.
        """
        first, second = self.requests.ask(), self.requests.ask()
        self.requests.dataReceived(b"1 {not json\n")
        self.assertIsNone(self.successResultOf(first))
        self.requests.lost()
        self.assertIsNone(self.successResultOf(second))

    def test_gather(self) -> None:
        """
        L{gatherSnapshots} asks every running worker; one not running is
        L{None} at once.
        """
        d = gatherSnapshots({0: self.requests, 1: None})
        self.requests.dataReceived(b"1 " + snapshotToJSON(SNAPSHOT))
        self.assertEqual(self.successResultOf(d), {0: SNAPSHOT, 1: None})


class SnapshotAnswerTests(SynchronousTestCase):
    """
    A worker answers each whole request line on its pipe.
    """

    def test_answers(self) -> None:
        """
        Two requests, one split over reads: two answer lines.
        """
        readEnd, writeEnd = os.pipe()
        self.addCleanup(os.close, readEnd)
        self.addCleanup(os.close, writeEnd)
        answers = SnapshotAnswers(writeEnd, lambda: SNAPSHOT)
        answers.dataReceived(b"7\n1")
        answers.dataReceived(b"2\nnonsense\n")
        lines = os.read(readEnd, 65536).splitlines()
        self.assertEqual([line.split(b" ", 1)[0] for line in lines], [b"7", b"12"])
        requests = SnapshotRequests(lambda data: None, Clock())
        requests._next = 6
        d = requests.ask()
        requests.dataReceived(lines[0] + b"\n")
        self.assertEqual(self.successResultOf(d), SNAPSHOT)
