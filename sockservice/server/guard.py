# -*- test-case-name: tests.test_guard,tests.test_table,tests.test_admit -*-
"""
The limits every TCP service of the process shares: one connection count
(total and per address), one idle sweep, one set of open connections for
the drain on stop, all kept in one table (L{sockservice.server.table}).

A service whose protocol is on the per-byte path (the uppercase service)
calls L{ConnectionGuard} itself; any other factory is wrapped in a
L{GuardedFactory}, a L{policies.WrappingFactory} that does the same around
the service's own protocol.  Either way, C{--max-connections},
C{--max-per-ip} and C{--idle-timeout} apply to every TCP listener at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional, Type, cast

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
from zope.interface import implementer

from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import IDrainable
from sockservice.server.limits import LogThrottle, isLoopback
from sockservice.server.table import ConnectionTable

__all__ = [
    "ConnectionGuard",
    "DESCRIPTOR_RESERVE",
    "DrainableGuardedProtocol",
    "GuardedFactory",
    "GuardedProtocol",
    "REFUSAL_LOG_INTERVAL",
]

REFUSAL_LOG_INTERVAL = 1.0
"""Seconds between log lines about refused connections (a flood: one a second, counted)."""

DESCRIPTOR_RESERVE = 64
"""Open files kept free of connections (see L{ConnectionGuard.fitDescriptors})."""


class ConnectionGuard(ConnectionTable):
    """
    Admit, watch and forget the TCP connections of every service: the
    process's L{ConnectionTable}, which connections enter with L{made} and
    leave with L{lost}, and the policy around it: refusals and timeouts
    logged, the total cap fitted to the open-files limit.

    @ivar connections: the open connections, counted against the caps.
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
        The first four parameters are L{ConnectionTable}'s.

        @param limitLoopback: apply the per-address cap to loopback clients
            too (by default they are exempt, for local tests and benchmarks).
        """
        super().__init__(clock, idleTimeout, maxConnections, maxPerAddress)
        self.idleTimeout = idleTimeout
        self.limitLoopback = limitLoopback
        self._refusalLog = LogThrottle(clock, REFUSAL_LOG_INTERVAL)
        self.proxyHeadersRejected = 0

    @property
    def openConnections(self) -> ConnectionTable:
        """
        The open connections' transports, for the drain on stop: the guard
        itself.
        """
        return self

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
            L{lost}; L{None} when refused.
        """
        host = getattr(addr, "host", None)
        exempt = host is None or (not self.limitLoopback and isLoopback(host))
        peer: str = host or str(addr)
        # ConnectionCounter.refusal for a connection that no cap refuses, in
        # line; it names the cap that refuses one.
        counted = self.connections
        count = counted.perAddress.get(peer, 0)
        if not (
            (counted.maxTotal and counted.total >= counted.maxTotal)
            or (not exempt and counted.maxPerAddress and count >= counted.maxPerAddress)
        ):
            counted.total += 1
            counted.perAddress[peer] = count + 1
            if counters is not None:
                counters.accepted += 1  # counters.admitted(None), in line
            return peer
        refusal = counted.refusal(peer, exempt=exempt)
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
        self.factory.guard.made(self, self.transport)
        super().connectionMade()

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
        factory = self.factory
        factory.guard.lost(self.transport, self.peer, reason, self.timedOut, factory.counters)
        super().connectionLost(reason)


@implementer(IDrainable)
class DrainableGuardedProtocol(GuardedProtocol):
    """
    A L{GuardedProtocol} around a protocol that provides L{IDrainable}: the
    drain on stop closes it gracefully.
    """

    def closeGracefully(self) -> None:
        """
        The service is stopping: let the service's protocol close.
        """
        cast(IDrainable, self.wrappedProtocol).closeGracefully()


if TYPE_CHECKING:
    _WrappingFactory = WrappingFactory[GuardedProtocol]
else:  # WrappingFactory is generic only in recent Twisted releases
    _WrappingFactory = WrappingFactory


class GuardedFactory(_WrappingFactory):
    """
    Wrap a service's factory so that its connections count against the
    process's caps and are closed when idle, and, where the service's
    protocol provides L{IDrainable}, closed gracefully on stop.

    @ivar counters: the service's TCP counts: the wrapped factory's, if
        it has some (for its requests), else new ones.
    """

    protocol = GuardedProtocol
    #: The protocol around a service protocol that provides L{IDrainable}.
    drainableProtocol = DrainableGuardedProtocol
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
        kind: Type[GuardedProtocol] = self.protocol
        if IDrainable.providedBy(wrapped):
            kind = self.drainableProtocol
        protocol = kind(self, wrapped)
        protocol.peer = peer
        return protocol
