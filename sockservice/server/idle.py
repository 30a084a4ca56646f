# -*- test-case-name: tests.test_idle -*-
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
from typing import Dict, Optional, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = ["IdleConnection", "IdleSweep", "MAX_INTERVAL"]

#: The longest time between sweeps, in seconds: the most an idle connection
#: can outstay its timeout.  Timeouts under ten seconds are swept ten times
#: per timeout.
MAX_INTERVAL = 1.0


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

    The timer runs only while some connection is watched, so a server
    without connections (or a test that closed its own) has none pending.
    """

    def __init__(self, timeout: float, clock: IReactorTime) -> None:
        """
        @param timeout: seconds of silence before a connection is closed;
            more than 0.
        @param clock: the reactor whose clock drives the sweeps.
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
        self._watched: Dict[IdleConnection, None] = {}
        self._call: Optional[IDelayedCall] = None
        self._due = 0.0

    def watch(self, connection: IdleConnection) -> None:
        """
        Start counting silence on a connection that has just opened.
        """
        connection.quietSweeps = 0
        self._watched[connection] = None
        if self._call is None:
            self._due = self._clock.seconds() + self.interval
            self._call = self._clock.callLater(self.interval, self._sweep)

    def forget(self, connection: IdleConnection) -> None:
        """
        Stop watching a connection that has closed.
        """
        self._watched.pop(connection, None)
        if not self._watched and self._call is not None:
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
        for connection in list(self._watched):
            quiet = connection.quietSweeps + intervals
            connection.quietSweeps = quiet
            if quiet > limit:
                self.forget(connection)
                connection.timeoutConnection()
        if self._watched and self._call is None:
            self._call = self._clock.callLater(self._due - now, self._sweep)
