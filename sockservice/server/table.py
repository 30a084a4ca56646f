# -*- test-case-name: tests.test_table -*-
"""
The open TCP connections of every service of a process, in one table.

Three parts of the server follow each TCP connection: the caps count it
(L{ConnectionCounter}), the idle sweep watches it (L{IdleSweep}), the drain
closes it on stop (L{OpenConnections}); and the service's counters count
why it closed (L{closeReason}).  Each has methods for a connection that
opens and closes, and called in turn they cost a textbook connection
(connect, send, receive, close) twelve Python calls, a third of the server's
on CPython.

L{ConnectionTable} is an L{OpenConnections} whose dictionary (transport ->
connection) the idle sweep sweeps too, and whose L{made} and L{lost} do the
per-connection work of all four in one call each: an entry into and out of
one dictionary, and the caps' counts changed in place.  A connection admitted
under the caps (C{ConnectionGuard.admit}, which counts it in the same way) is
entered by L{made} and removed by L{lost}; its keys and values then belong
to the table, which the idle sweep and the drain only read.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime, ITCPTransport
from twisted.python.failure import Failure

from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import OpenConnections
from sockservice.server.idle import IdleConnection, IdleSweep
from sockservice.server.limits import ConnectionCounter

__all__ = ["ConnectionTable"]


class ConnectionTable(OpenConnections):
    """
    The open connections, for the drain on stop, the idle sweep and the
    caps at once.

    @ivar connections: the open connections' counts against the caps.
    @ivar idle: the sweep over this table's connections (L{None}: never).
    """

    def __init__(
        self,
        clock: IReactorTime,
        idleTimeout: float = 300.0,
        maxConnections: int = 10000,
        maxPerAddress: int = 100,
    ) -> None:
        """
        @param clock: the clock of the idle sweep.
        @param idleTimeout: seconds without input before a connection is
            closed (see L{sockservice.server.idle}); 0 disables.
        @param maxConnections: cap on open connections; 0 disables.
        @param maxPerAddress: cap on open connections from one IP address;
            0 disables.
        """
        super().__init__()
        self.connections = ConnectionCounter(maxConnections, maxPerAddress)
        self.idle: Optional[IdleSweep] = None
        if idleTimeout:
            self.idle = IdleSweep(idleTimeout, clock, self._connections)

    def made(self, connection: IdleConnection, transport: ITCPTransport) -> None:
        """
        Enter a connection, counted under the caps when it was admitted, now
        that it is made: the idle sweep watches it from now on, and the drain
        closes it gracefully if it provides
        L{sockservice.server.drain.IDrainable} (otherwise at the end of the
        drain period).

        What L{OpenConnections.opened} and L{IdleSweep.watch} do, in one call.
        """
        table = self._connections
        idle = self.idle
        if idle is not None:
            connection.quietSweeps = 0
            if not table:
                idle.wake()
        table[transport] = connection

    def lost(
        self,
        transport: ITCPTransport,
        peer: str,
        reason: Optional[Failure],
        timedOut: bool,
        counters: ServiceCounters,
    ) -> None:
        """
        Remove a connection that has closed, give its place under the caps
        back, and count why it closed.

        What L{OpenConnections.isClosing} and L{OpenConnections.closed},
        L{IdleSweep.forget}, L{ConnectionCounter.closed} and
        L{ServiceCounters.lost} do, in one call.

        @param peer: the peer as counted when it was admitted.
        @param reason: why the connection was lost.
        @param timedOut: the idle sweep closed it.
        @param counters: the service's counts.
        """
        table = self._connections
        table.pop(transport, None)
        closing = self._closing
        draining = transport in closing
        if draining:
            closing.discard(transport)
        if timedOut or draining or not (reason is None or reason.type is ConnectionDone):
            counters.lost(reason, timedOut, draining)
        else:
            counters.closed["client"] += 1  # closeReason's clean close, in line
        counted = self.connections
        counted.total -= 1
        count = counted.perAddress.pop(peer, 0) - 1
        if count > 0:
            counted.perAddress[peer] = count
        if not table:
            if self.idle is not None:
                self.idle.rest()
            self._emptied()
