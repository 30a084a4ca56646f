# -*- test-case-name: tests.test_idle,tests.test_table -*-
"""
Close connections that stay silent too long, with one sweep for all of them.

Twisted's L{TimeoutMixin} gives every connection its own L{DelayedCall}:
scheduled when it opens, moved on every input, cancelled when it closes.
Under a textbook client (connect, send, receive, close) that is two heap
operations on the reactor's timer queue per connection and a method call
per message: about a tenth of the server's user-space CPU time on PyPy
(tcp-crr, 8 clients).  Here an input costs one attribute store
(C{connection.quietSweeps = 0}), and one timer counts, every C{interval}
seconds, the sweeps each connection has stayed silent through.  The price
is precision: a connection is closed after between C{timeout} and
C{timeout + interval} seconds of silence.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = ["IdleConnection", "IdleSweep", "MAX_INTERVAL", "TIMED_OUT"]

#: The longest time between sweeps, in seconds: the most an idle connection
#: can outstay its timeout.  Timeouts under ten seconds are swept ten times
#: per timeout.
MAX_INTERVAL = 1.0


#: The count of a connection in a shared table that the sweep has timed out
#: and that is closing: later sweeps leave it alone, until an input (which
#: sets the count to 0, as it would re-arm Twisted's TimeoutMixin) or its
#: entry into a table again.
TIMED_OUT = -1


class IdleConnection(Protocol):
    """
    What L{IdleSweep} needs of a connection.
    """

    #: Sweeps since the last input; the connection sets it to 0 on input.
    quietSweeps: int

    def timeoutConnection(self) -> None:
        """
        Silent for the whole timeout: close.
        """


class IdleSweep:
    """
    Watch connections and call C{timeoutConnection()} on those that stay
    silent for C{timeout} seconds.

    The connections watched are the values of one dictionary: by default
    the sweep's own, filled by L{watch} and L{forget}; or a table that
    another object keeps (the open connections of
    L{sockservice.server.table.ConnectionTable}, which the drain shares), so
    that a connection costs one entry and no call here.  The keeper of a
    shared table enters and removes connections itself, calls L{wake} when
    it enters one into an empty table and L{rest} when the table empties;
    a connection the sweep times out stays in that table until its keeper
    removes it as it closes, and its count is L{TIMED_OUT} meanwhile.

    The timer runs only while some connection is watched, so a server
    without connections (or a test that closed its own) has none pending.
    """

    def __init__(
        self,
        timeout: float,
        clock: IReactorTime,
        table: Optional[Dict[Any, IdleConnection]] = None,
    ) -> None:
        """
        @param timeout: seconds of silence before a connection is closed;
            more than 0.
        @param clock: the reactor whose clock drives the sweeps.
        @param table: a table of connections kept by another object, to
            sweep instead of the sweep's own.
        """
        if not timeout > 0:
            raise ValueError("the idle timeout must be more than 0")
        self.timeout = timeout
        # A whole number of sweeps per timeout; a connection is closed at
        # the sweep that finds it silent through more than that many, so
        # after between `timeout` and `timeout + interval` of silence.
        self._limit = max(10, math.ceil(timeout / MAX_INTERVAL))
        self.interval = timeout / self._limit
        self._clock = clock
        self._own = table is None
        self._watched: Dict[Any, IdleConnection] = {} if table is None else table
        self._call: Optional[IDelayedCall] = None
        self._due = 0.0

    def watch(self, connection: IdleConnection) -> None:
        """
        Start counting silence on a connection that has just opened.
        """
        connection.quietSweeps = 0
        self._watched[connection] = connection
        self.wake()

    def forget(self, connection: IdleConnection) -> None:
        """
        Stop watching a connection that has closed.
        """
        self._watched.pop(connection, None)
        if not self._watched:
            self.rest()

    def wake(self) -> None:
        """
        Sweep from now on, if not already: a connection was entered into an
        empty table.
        """
        if self._call is None:
            self._due = self._clock.seconds() + self.interval
            self._call = self._clock.callLater(self.interval, self._sweep)

    def rest(self) -> None:
        """
        Stop sweeping: the table is empty.
        """
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def __len__(self) -> int:
        return len(self._watched)

    def _sweep(self) -> None:
        """
        Count the intervals due (more than one when the reactor ran late) on
        every watched connection; close those past the limit; schedule the
        next sweep if any connection is still watched.
        """
        self._call = None
        now = self._clock.seconds()
        intervals = 1 + max(0, int((now - self._due) / self.interval))
        self._due += intervals * self.interval
        limit = self._limit
        watched = self._watched
        for connection in list(watched.values()):
            quiet = connection.quietSweeps
            if quiet == TIMED_OUT:
                continue  # closing: its table's keeper removes it
            quiet += intervals
            connection.quietSweeps = quiet
            if quiet > limit:
                if self._own:
                    self.forget(connection)
                else:
                    connection.quietSweeps = TIMED_OUT
                connection.timeoutConnection()
        if watched and self._call is None:
            self._call = self._clock.callLater(self._due - now, self._sweep)
