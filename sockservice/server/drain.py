# -*- test-case-name: tests.test_drain -*-
"""
Graceful stop: let open connections finish, for a bounded time.

When the service stops (SIGTERM under twistd or systemd), the listeners stop
accepting; L{DrainService} then gives the connections still open a drain
period to finish by themselves, asks the rest to close (sending what is
already due), and aborts whatever is still open a moment later.  twistd waits
for it before stopping the reactor, so the process exits only when every
connection is closed, and never later than the drain period plus the grace.
"""

from __future__ import annotations

from typing import Iterator

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime, ITCPTransport
from twisted.logger import Logger

__all__ = ["OpenConnections", "DrainService", "DEFAULT_DRAIN"]

#: Seconds that open connections get to finish when the service stops.
DEFAULT_DRAIN = 5.0


class OpenConnections:
    """
    The transports of the open connections, and a way to wait until there
    are none.
    """

    def __init__(self) -> None:
        self._transports: set[ITCPTransport] = set()
        self._waiting: list[Deferred[None]] = []

    def opened(self, transport: ITCPTransport) -> None:
        """
        Count a connection that has just been made.
        """
        self._transports.add(transport)

    def closed(self, transport: ITCPTransport) -> None:
        """
        Forget a connection that has been lost; fire the L{whenEmpty}
        L{Deferred}s if it was the last one.
        """
        self._transports.discard(transport)
        if not self._transports:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)

    def whenEmpty(self) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires once no connection is open (at once
            if none is).
        """
        if not self._transports:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        return d

    def __len__(self) -> int:
        return len(self._transports)

    def __iter__(self) -> Iterator[ITCPTransport]:
        """
        Iterate over a snapshot, so that closing connections while iterating
        is safe.
        """
        return iter(list(self._transports))


class DrainService(Service):
    """
    On stop, wait up to C{period} seconds for the open connections to close
    by themselves, then close the rest: politely (C{loseConnection}, which
    sends what is already due), and C{grace} seconds later by force
    (C{abortConnection}, for peers that do not read).

    Stop the listeners in the same C{stopService} pass (siblings under one
    L{MultiService}) so that no new connection arrives meanwhile.
    """

    log = Logger()

    def __init__(
        self,
        connections: OpenConnections,
        period: float = DEFAULT_DRAIN,
        clock: IReactorTime | None = None,
        grace: float = 1.0,
    ) -> None:
        """
        @param connections: the open connections, kept up to date by the
            protocols.
        @param period: seconds the connections get to finish by themselves.
        @param clock: schedules the deadlines; the global reactor by default.
        @param grace: seconds between closing the rest and aborting them.
        """
        if clock is None:
            from twisted.internet import reactor as _reactor

            clock = _reactor
        self.connections = connections
        self.period = period
        self.clock = clock
        self.grace = grace

    def stopService(self) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires once no connection is open, at most
            C{period + grace} seconds from now.
        """
        super().stopService()
        count = len(self.connections)
        if not count:
            return succeed(None)
        self.log.info(
            "sockservice: draining {count} open connection(s) for up to {period} s",
            count=count,
            period=self.period,
        )
        done = self.connections.whenEmpty()
        calls = [
            self.clock.callLater(self.period, self._close),
            self.clock.callLater(self.period + self.grace, self._abort),
        ]

        def cancelDeadlines(result: None) -> None:
            for call in calls:
                if call.active():
                    call.cancel()
            return result

        return done.addCallback(cancelDeadlines)

    def _close(self) -> None:
        self.log.info(
            "sockservice: closing {count} connection(s) still open after the "
            "drain period",
            count=len(self.connections),
        )
        for transport in self.connections:
            transport.loseConnection()

    def _abort(self) -> None:
        self.log.warn(
            "sockservice: aborting {count} connection(s) that did not close",
            count=len(self.connections),
        )
        for transport in self.connections:
            transport.abortConnection()
