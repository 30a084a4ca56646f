# -*- test-case-name: tests.test_table -*-
"""
Tests for L{sockservice.server.table}: one table of open connections for the
caps, the idle sweep and the drain (the guard's part: L{tests.test_admit}).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from sockservice.server.counters import ServiceCounters, closeReason
from sockservice.server.drain import IDrainable
from sockservice.server.idle import IdleSweep
from sockservice.server.table import ConnectionTable


class RecordingConnection:
    """
    A connection that records when it was timed out, and closes its
    transport when asked to close gracefully (if it provides L{IDrainable}).
    """

    quietSweeps = 5

    def __init__(self) -> None:
        self.transport = StringTransport()
        self.timeouts = 0
        self.graceful = 0

    def timeoutConnection(self) -> None:
        self.timeouts += 1

    def closeGracefully(self) -> None:
        self.graceful += 1
        self.transport.loseConnection()


@implementer(IDrainable)
class DrainableConnection(RecordingConnection):
    pass


class ConnectionTableTests(SynchronousTestCase):
    """
    A connection enters the one table with L{ConnectionTable.made} and
    leaves it with L{ConnectionTable.lost}; the drain and the idle sweep see
    the same entries.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.table = ConnectionTable(self.clock, idleTimeout=10)
        self.counters = ServiceCounters()

    def enter(self, connection: RecordingConnection, peer: str = "192.0.2.7") -> None:
        self.table.connections.refusal(peer)  # as the guard admits it
        self.table.made(connection, connection.transport)

    def leave(
        self,
        connection: RecordingConnection,
        reason: Optional[Failure] = None,
        timedOut: bool = False,
    ) -> None:
        self.table.lost(connection.transport, "192.0.2.7", reason, timedOut, self.counters)

    def test_oneTable(self) -> None:
        """
        A connection made is counted once by the drain's table and the idle
        sweep, and forgotten by both (and the caps) once lost.
        """
        connection = RecordingConnection()
        self.enter(connection)
        self.assertEqual(connection.quietSweeps, 0)
        self.assertEqual(list(self.table), [connection.transport])
        self.assertEqual((len(self.table), len(self.table.idle or [])), (1, 1))
        self.leave(connection)
        self.assertEqual((len(self.table), len(self.table.idle or [])), (0, 0))
        self.assertEqual(self.table.connections.total, 0)
        self.assertEqual(self.table.connections.perAddress, Counter())

    def test_sweepOnlyWhileOpen(self) -> None:
        """
        The sweep's timer is pending exactly while the table holds a
        connection.
        """
        first, second = RecordingConnection(), RecordingConnection()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.enter(first)
        self.enter(second)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.leave(first)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.leave(second)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.enter(first)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_timedOutOnce(self) -> None:
        """
        A silent connection is timed out once the timeout has passed, stays
        in the table (the drain still sees it) until it is lost, and is not
        timed out again meanwhile; a silent neighbour that joined later is
        timed out on its own schedule.
        """
        silent, later = RecordingConnection(), RecordingConnection()
        self.enter(silent)
        self.clock.pump([1] * 5)
        self.enter(later)
        self.clock.pump([1] * 6)
        self.assertEqual((silent.timeouts, later.timeouts), (1, 0))
        self.assertEqual(len(self.table), 2)
        self.clock.pump([1] * 5)
        self.assertEqual((silent.timeouts, later.timeouts), (1, 1))
        self.clock.pump([1] * 30)
        self.assertEqual((silent.timeouts, later.timeouts), (1, 1))
        self.leave(silent, timedOut=True)
        self.leave(later, timedOut=True)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(dict(self.counters.closed), {"idle": 2})

    def test_timedOutForgottenOnceLost(self) -> None:
        """
        A new connection on the transport of one that timed out and was lost
        is swept afresh.
        """
        connection = RecordingConnection()
        self.enter(connection)
        self.clock.pump([1] * 11)
        self.leave(connection, timedOut=True)
        self.enter(connection)
        self.clock.pump([1] * 11)
        self.assertEqual(connection.timeouts, 2)

    def test_inputKeepsOpen(self) -> None:
        """
        A connection with input more often than the timeout stays open.
        """
        connection = RecordingConnection()
        self.enter(connection)
        for _ in range(30):
            self.clock.advance(9)
            connection.quietSweeps = 0
        self.assertEqual(connection.timeouts, 0)

    def test_drainAsksOnlyDrainable(self) -> None:
        """
        The drain asks a connection that provides L{IDrainable} to close
        gracefully at once, and closes one that does not only at the end of
        the drain period; the table then fires L{whenEmpty} once both are
        lost.
        """
        drainable, plain = DrainableConnection(), RecordingConnection()
        self.enter(drainable)
        self.enter(plain)
        done = self.table.whenEmpty()
        self.assertEqual(self.table.drain(), 1)
        self.assertEqual((drainable.graceful, plain.graceful), (1, 0))
        self.assertEqual(
            (drainable.transport.disconnecting, plain.transport.disconnecting), (True, False)
        )
        self.table.closeAll()
        self.assertEqual((drainable.graceful, plain.graceful), (1, 0))
        self.assertTrue(plain.transport.disconnecting)
        self.leave(drainable)
        self.assertNoResult(done)
        self.leave(plain)
        self.successResultOf(done)
        self.assertEqual(dict(self.counters.closed), {"drain": 2})
        self.assertFalse(self.table.isClosing(plain.transport))

    def test_withoutIdleTimeout(self) -> None:
        """
        With the idle timeout off, the table has no sweep and no timer.
        """
        table = ConnectionTable(self.clock, idleTimeout=0)
        connection = RecordingConnection()
        table.made(connection, connection.transport)
        self.assertIsNone(table.idle)
        self.assertEqual(connection.quietSweeps, 5)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        table.connections.refusal("192.0.2.7")
        table.lost(connection.transport, "192.0.2.7", None, False, self.counters)
        self.assertEqual(len(table), 0)

    @settings(max_examples=200, deadline=None)
    @given(
        reason=st.sampled_from(
            [
                None,
                ConnectionDone,
                ConnectionLost,
                ConnectionAborted,
                type("Done", (ConnectionDone,), {}),
            ]
        ),
        timedOut=st.booleans(),
        draining=st.booleans(),
    )
    def test_reasonAsCloseReason(self, reason: Any, timedOut: bool, draining: bool) -> None:
        """
        Whatever the failure, the sweep's and the drain's part in it, a lost
        connection is counted under the reason L{closeReason} gives.
        """
        table = ConnectionTable(Clock(), idleTimeout=10)
        counters = ServiceCounters()
        connection = DrainableConnection()
        table.connections.refusal("192.0.2.7")
        table.made(connection, connection.transport)
        if draining:
            table.drain()
        failure = None if reason is None else Failure(reason())
        table.lost(connection.transport, "192.0.2.7", failure, timedOut, counters)
        self.assertEqual(dict(counters.closed), {closeReason(failure, timedOut, draining): 1})


class SharedSweepTests(SynchronousTestCase):
    """
    L{IdleSweep} over a table kept by another object.
    """

    def test_sweepsTheTable(self) -> None:
        """
        The sweep watches the table's values, leaves the table to its keeper,
        and runs between L{IdleSweep.wake} and L{IdleSweep.rest}.
        """
        clock = Clock()
        table: dict[Any, Any] = {}
        sweep = IdleSweep(1, clock, table)
        connection = RecordingConnection()
        connection.quietSweeps = 0
        table["key"] = connection
        sweep.wake()
        sweep.wake()
        self.assertEqual((len(sweep), len(clock.getDelayedCalls())), (1, 1))
        clock.pump([0.1] * 11)
        self.assertEqual(connection.timeouts, 1)
        self.assertEqual(table, {"key": connection})
        del table["key"]
        sweep.rest()
        sweep.rest()
        self.assertEqual(clock.getDelayedCalls(), [])
