# -*- test-case-name: tests.test_drain,tests.test_drainflow,tests.test_table -*-
"""
Graceful stop, as Go's C{http.Server.Shutdown} does it.

When the service stops (SIGTERM or SIGINT under twistd or systemd), the
listeners stop accepting at once, in the same pass, and L{DrainService}
asks every connection that can to close gracefully at once, and, at the end
of the drain period, closes whatever is still open.  A second later it
aborts what has not closed yet (peers that do not read).  twistd waits for
it before stopping the reactor, so the process exits as soon as every
connection is closed, and never later than the drain period plus that grace.

A connection takes part by passing itself, an L{IDrainable}, to
L{OpenConnections.opened}.  How it closes is its own business
(L{IDrainable.closeGracefully}): with nothing in progress, typically what it
does at the end of its input and C{transport.loseConnection}, which sends
what is buffered before it closes; with work in progress that its transport
does not know about (a running command), once that work is answered.
A transport registered without a connection is left to finish by itself
until the end of the drain period, and then closed with C{loseConnection}.

Closing a TCP socket whose peer has sent bytes not read yet makes the kernel
reset the connection, destroying replies still on their way: a connection
that stops reading before its peer is done sending (the upper-casing one, busy
with a client that sends without reading) should shut down its sending side
once its replies are written, then, if L{hasUnreadInput}, read and discard
until the peer closes (a "lingering close"), bounded by the drain period.
"""

from __future__ import annotations

import socket
from typing import Any, Iterator, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime, ITCPTransport
from twisted.logger import Logger
from zope.interface import Interface

__all__ = [
    "IDrainable",
    "OpenConnections",
    "DrainService",
    "DEFAULT_DRAIN",
    "hasUnreadInput",
]

#: Seconds that busy connections get to finish when the service stops.
DEFAULT_DRAIN = 5.0


class IDrainable(Interface):
    """
    A connection that can be closed gracefully when the service stops.
    """

    def closeGracefully() -> None:
        """
        The service is stopping: take no more input, send everything due for
        what was read (including anything held back, as at the end of the
        input), and close once it is sent.

        Called at most once: when the connection is idle, or at the end of the
        drain period whatever its state.
        """


def hasUnreadInput(transport: object) -> bool:
    """
    Whether the peer of C{transport} has sent bytes that have not been read
    yet (so that closing now would reset the connection).  A transport
    without a socket (in memory, TLS over something else) has none.
    """
    getHandle = getattr(transport, "getHandle", None)
    if getHandle is None:
        return False
    handle = getHandle()
    if not isinstance(handle, socket.socket):
        return False
    try:
        return bool(handle.recv(1, socket.MSG_PEEK))
    except OSError:
        return False  # nothing to read (EAGAIN), or already broken


class OpenConnections:
    """
    The open connections of a service, a way to close them gracefully and
    to wait until there are none.
    """

    def __init__(self) -> None:
        # Each transport's connection: closed gracefully if it provides
        # IDrainable (see _close).
        self._connections: dict[ITCPTransport, Any] = {}
        self._closing: set[ITCPTransport] = set()
        self._waiting: list[Deferred[None]] = []

    def opened(self, transport: ITCPTransport, connection: Optional[object] = None) -> None:
        """
        Count a connection that has just been made.

        @param connection: the connection on C{transport}, closed gracefully
            if it provides L{IDrainable}; otherwise (or without one) it is
            never closed before the end of the drain period.
        """
        self._connections[transport] = connection

    def closed(self, transport: ITCPTransport) -> None:
        """
        Forget a connection that has been lost; fire the L{whenEmpty}
        L{Deferred}s if it was the last one.
        """
        self._connections.pop(transport, None)
        self._closing.discard(transport)
        if not self._connections:
            self._emptied()

    def _emptied(self) -> None:
        """
        The last connection is gone: fire the L{whenEmpty} L{Deferred}s.
        """
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def isClosing(self, transport: ITCPTransport) -> bool:
        """
        Whether C{transport} was asked to close by L{drain} or L{closeAll}.
        """
        return transport in self._closing

    def drain(self) -> int:
        """
        The service is stopping: ask every connection that can to close
        gracefully (L{IDrainable.closeGracefully}).

        @return: how many connections were asked.
        """
        drainable = [t for t in self if IDrainable.providedBy(self._connections.get(t))]
        for transport in drainable:
            self._close(transport)
        return len(drainable)

    def closeAll(self) -> None:
        """
        The drain period is over: close every connection not yet asked to.
        """
        for transport in self:
            self._close(transport)

    def _close(self, transport: ITCPTransport) -> None:
        if transport in self._closing or transport not in self._connections:
            return
        self._closing.add(transport)
        connection = self._connections[transport]
        if IDrainable.providedBy(connection):
            connection.closeGracefully()
        else:
            transport.loseConnection()

    def whenEmpty(self) -> Deferred[None]:
        """
        @return: a L{Deferred} that fires once no connection is open (at once
            if none is).
        """
        if not self._connections:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        return d

    def __len__(self) -> int:
        return len(self._connections)

    def __iter__(self) -> Iterator[ITCPTransport]:
        """
        Iterate over a snapshot of the transports, so that closing
        connections while iterating is safe.
        """
        return iter(list(self._connections))


class DrainService(Service):
    """
    On stop, ask every drainable connection to close gracefully at once
    (L{OpenConnections.drain}); after C{period} seconds close the rest, and
    C{grace} seconds later abort whatever is still open.

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
        @param period: seconds that busy connections get to finish.
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
        asked = self.connections.drain()
        if asked:
            self.log.info(
                "sockservice: closing {asked} connection(s) gracefully",
                asked=asked,
                event="drain_closing",
            )
        count = len(self.connections)
        if not count:
            return succeed(None)
        self.log.info(
            "sockservice: draining {count} open connection(s) for up to {period} s",
            count=count,
            period=self.period,
            event="drain_begin",
        )
        began = self.clock.seconds()
        done = self.connections.whenEmpty()
        calls = [
            self.clock.callLater(self.period, self._close),
            self.clock.callLater(self.period + self.grace, self._abort),
        ]

        def cancelDeadlines(result: None) -> None:
            for call in calls:
                if call.active():
                    call.cancel()
            self.log.info(
                "sockservice: drained {count} connection(s) in {seconds:.3f} s",
                count=count,
                seconds=self.clock.seconds() - began,
                event="drain_end",
            )
            return result

        return done.addCallback(cancelDeadlines)

    def _close(self) -> None:
        self.log.info(
            "sockservice: closing {count} connection(s) still open after the drain period",
            count=len(self.connections),
            event="drain_deadline",
        )
        self.connections.closeAll()

    def _abort(self) -> None:
        self.log.warn(
            "sockservice: aborting {count} connection(s) that did not close",
            count=len(self.connections),
            event="drain_abort",
        )
        for transport in self.connections:
            transport.abortConnection()
