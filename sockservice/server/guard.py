# -*- test-case-name: tests.test_guard -*-
"""
The limits every TCP service of the process shares: one connection count
(total and per address), one idle sweep, one set of open connections for
the drain on stop.

A service whose protocol is on the per-byte path (the uppercase service)
calls L{ConnectionGuard} itself; any other factory is wrapped in a
L{GuardedFactory}, a L{policies.WrappingFactory} that does the same around
the service's own protocol.  Either way, C{--max-connections},
C{--max-per-ip} and C{--idle-timeout} apply to every TCP listener at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional, cast

from twisted.internet.interfaces import (
    IAddress,
    IProtocolFactory,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import IDrainable, OpenConnections
from sockservice.server.idle import IdleConnection, IdleSweep
from sockservice.server.limits import ConnectionCounter, LogThrottle, isLoopback

__all__ = [
    "ConnectionGuard",
    "DESCRIPTOR_RESERVE",
    "GuardedFactory",
    "GuardedProtocol",
    "REFUSAL_LOG_INTERVAL",
]

REFUSAL_LOG_INTERVAL = 1.0
"""Seconds between log lines about refused connections (a flood: one a second, counted)."""

DESCRIPTOR_RESERVE = 64
"""Open files kept free of connections (see L{ConnectionGuard.fitDescriptors})."""


class ConnectionGuard:
    """
    Admit, watch and forget the TCP connections of every service.

    @ivar connections: the open connections, counted against the caps.
    @ivar openConnections: their transports, for the drain on stop.
    @ivar idle: the sweep that closes idle connections (L{None}: never).
    @ivar proxyHeadersRejected: connections to a C{haproxy:} listener closed
        for a missing or malformed PROXY header (L{sockservice.server.proxied}).
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        idleTimeout: float = 300.0,
        maxConnections: int = 10000,
        maxPerAddress: int = 100,
        limitLoopback: bool = False,
    ) -> None:
        """
        @param clock: the clock of the idle sweep.
        @param idleTimeout: seconds without input before a connection is
            closed (see L{sockservice.server.idle}); 0 disables.
        @param maxConnections: cap on open connections; 0 disables.
        @param maxPerAddress: cap on open connections from one IP address;
            0 disables.
        @param limitLoopback: apply the per-address cap to loopback clients
            too (by default they are exempt, for local tests and benchmarks).
        """
        self.idleTimeout = idleTimeout
        self.limitLoopback = limitLoopback
        self.connections = ConnectionCounter(maxConnections, maxPerAddress)
        self.openConnections = OpenConnections()
        self.idle = IdleSweep(idleTimeout, clock) if idleTimeout else None
        self._refusalLog = LogThrottle(clock, REFUSAL_LOG_INTERVAL)
        self.proxyHeadersRejected = 0

    def fitDescriptors(self, fileLimit: int) -> None:
        """
        Lower the total cap so that connections cannot use up the process's
        open-files limit (past it, C{accept} fails and Twisted logs three
        lines per refused client); L{DESCRIPTOR_RESERVE} descriptors are
        kept for listeners, logs and child processes.
        """
        fitting = max(1, fileLimit - DESCRIPTOR_RESERVE)
        current = self.connections.maxTotal
        if current == 0 or current > fitting:
            self.connections.maxTotal = fitting
            self.log.warn(
                "sockservice: the open-files limit is {limit}: at most {fitting} "
                "TCP connections (--max-connections {current})",
                limit=fileLimit,
                fitting=fitting,
                current=current,
                event="file_limit_low",
            )

    def admit(
        self,
        addr: Optional[IAddress],
        service: str = "",
        counters: Optional[ServiceCounters] = None,
    ) -> Optional[str]:
        """
        Count a new connection from C{addr}, or refuse it (and log why) when
        a cap is reached.

        @param service: the service's name, for the log (C{""}: uppercase).
        @param counters: the service's counts: accepted, or closed by its cap.
        @return: the peer as counted (its host), to give back to
            L{closed}; L{None} when refused.
        """
        host = getattr(addr, "host", None)
        exempt = host is None or (not self.limitLoopback and isLoopback(host))
        peer: str = host or str(addr)
        refusal = self.connections.refusal(peer, exempt=exempt)
        if refusal is None:
            if counters is not None:
                counters.accepted += 1  # counters.admitted(None), in line
            return peer
        if counters is not None:
            counters.admitted(refusal)
        unlogged = self._refusalLog.due()
        if unlogged is None:
            return None
        self.log.warn(
            "refused {service}connection from {peer}: {cap} connection cap reached{more}",
            service=f"{service} " if service else "",
            peer=peer,
            cap=refusal,
            more=f" ({unlogged} more refused since the last line)" if unlogged else "",
            suppressed=unlogged,
            event="cap_refused",
        )
        return None

    def opened(
        self,
        connection: IdleConnection,
        transport: ITCPTransport,
        drainable: Optional[IDrainable] = None,
    ) -> None:
        """
        Watch a connection that L{admit} let in and that is now made.

        @param drainable: what closes it gracefully when the service stops
            (see L{sockservice.server.drain}); without one, it is closed at
            the end of the drain period.
        """
        self.openConnections.opened(transport, drainable)
        if self.idle is not None:
            self.idle.watch(connection)

    def timedOut(self, transport: ITCPTransport, peer: str, service: str = "") -> None:
        """
        Drop a connection idle for the whole timeout, without waiting for a
        client that may not be reading, and log it.

        @param service: the service's name, for the log (C{""}: uppercase).
        """
        self.log.info(
            "closing {service}connection from {peer}: idle for {timeout} s",
            service=f"{service} " if service else "",
            peer=peer,
            timeout=self.idleTimeout,
            event="idle_timeout",
        )
        transport.abortConnection()

    def closed(self, connection: IdleConnection, transport: ITCPTransport, peer: str) -> None:
        """
        Forget a connection that was L{opened}, or at least L{admit}ted.
        """
        if self.idle is not None:
            self.idle.forget(connection)
        self.connections.closed(peer)
        self.openConnections.closed(transport)


class GuardedProtocol(ProtocolWrapper):
    """
    A service's protocol under the process's L{ConnectionGuard}: idle means
    neither input nor output for the whole timeout (a client waiting for a
    long reply is not idle).
    """

    factory: GuardedFactory
    # A stream connection's (TCP, or TLS or UNIX with the same methods).
    transport: ITCPTransport
    peer = ""
    quietSweeps = 0
    timedOut = False

    def connectionMade(self) -> None:
        drainable: Optional[IDrainable] = None
        if IDrainable.providedBy(self.wrappedProtocol):
            # closeGracefully forwards to the wrapped protocol.
            drainable = cast(IDrainable, self)
        self.factory.guard.opened(self, self.transport, drainable)
        super().connectionMade()

    def closeGracefully(self) -> None:
        """
        The service is stopping: let the service's protocol close (only
        called when it provides L{IDrainable}).
        """
        cast(IDrainable, self.wrappedProtocol).closeGracefully()

    def dataReceived(self, data: bytes) -> None:
        self.quietSweeps = 0
        self.factory.counters.receivedBytes += len(data)
        self.wrappedProtocol.dataReceived(data)

    def write(self, data: bytes) -> None:
        self.quietSweeps = 0
        self.factory.counters.sentBytes += len(data)
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.quietSweeps = 0
        data = list(data)
        self.factory.counters.sentBytes += sum(map(len, data))
        self.transport.writeSequence(data)

    def timeoutConnection(self) -> None:
        """
        Idle for too long: drop the connection.
        """
        self.timedOut = True
        self.factory.guard.timedOut(self.transport, self.peer, self.factory.service)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        guard = self.factory.guard
        draining = guard.openConnections.isClosing(self.transport)
        self.factory.counters.lost(reason, self.timedOut, draining)
        guard.closed(self, self.transport, self.peer)
        super().connectionLost(reason)


if TYPE_CHECKING:
    _WrappingFactory = WrappingFactory[GuardedProtocol]
else:  # WrappingFactory is generic only in recent Twisted releases
    _WrappingFactory = WrappingFactory


class GuardedFactory(_WrappingFactory):
    """
    Wrap a service's factory so that its connections count against the
    process's caps and are closed when idle.

    @ivar counters: the service's TCP counts: the wrapped factory's, if
        it has some (for its requests), else new ones.
    """

    protocol = GuardedProtocol
    noisy = False

    def __init__(
        self, wrappedFactory: IProtocolFactory, guard: ConnectionGuard, service: str
    ) -> None:
        """
        @param service: the service's name, for the log.
        """
        super().__init__(wrappedFactory)
        self.guard = guard
        self.service = service
        counters = getattr(wrappedFactory, "counters", None)
        self.counters: ServiceCounters = counters or ServiceCounters()

    # WrappingFactory's annotation says it never refuses; Factory's allows it.
    def buildProtocol(  # type: ignore[override]
        self, addr: Optional[IAddress]
    ) -> Optional[GuardedProtocol]:
        """
        Refuse (return L{None}) when a cap is reached or the service itself
        refuses; otherwise wrap the service's protocol.
        """
        peer = self.guard.admit(addr, self.service, self.counters)
        if peer is None:
            return None
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            self.guard.connections.closed(peer)
            self.counters.closed["refused"] += 1
            return None
        protocol = self.protocol(self, wrapped)
        protocol.peer = peer
        return protocol
