# -*- test-case-name: tests.test_proxied -*-
"""
Listeners behind a load balancer that speaks the PROXY protocol (a
C{haproxy:} description, e.g. C{haproxy:tcp:12000:interface=127.0.0.1}).

Twisted's own C{haproxy:} endpoint builds the service's protocol as soon as
the balancer connects, with the balancer's address: the caps, the logs and
the command service's loopback rule would all see the balancer.  Here the
header is read first; only then is the service's factory asked for a
protocol, with the client's address from the header, and that protocol's
transport reports the client as its peer, for as long as it lives.

A connection whose header is missing, malformed or late is closed, counted
(L{ConnectionGuard.proxyHeadersRejected}) and logged (at most one line a
second, event C{proxy_header_rejected}); it is never served as if the
balancer were the client.  So a C{haproxy:} listener must be reachable by
the balancer only: anyone who can connect to it can claim any address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IProtocolFactory,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer, providedBy

from sockservice.peer import describePeer
from sockservice.server.guard import REFUSAL_LOG_INTERVAL, ConnectionGuard
from sockservice.server.limits import LogThrottle
from sockservice.server.proxyheader import BadProxyHeader, parseProxyHeader

__all__ = ["HEADER_TIMEOUT", "PROXY_PREFIX", "ProxiedFactory", "ProxiedProtocol"]

HEADER_TIMEOUT = 5.0
"""Seconds a connection may take to send its whole PROXY header (a balancer
sends it at once)."""

PROXY_PREFIX = "haproxy:"
"""The start of a listen description whose connections come from a
balancer, each with a PROXY header."""


@implementer(IHalfCloseableProtocol)
class ProxiedProtocol(ProtocolWrapper):
    """
    Read a connection's PROXY header, then serve it with the service's own
    protocol, as the transport of that protocol (reporting the client from
    the header as the peer).

    @ivar proxied: whether the header has been read and the service's
        protocol connected.
    """

    factory: ProxiedFactory
    # A stream connection's (TCP, or TLS or UNIX with the same methods).
    transport: ITCPTransport
    proxied = False
    _peer: Optional[IAddress] = None
    _host: Optional[IAddress] = None
    _timer: Optional[IDelayedCall] = None

    def __init__(self, factory: ProxiedFactory) -> None:
        # The service's protocol is built once the header is read.
        super().__init__(factory, Protocol())
        self._buffer = b""

    def makeConnection(self, transport: ITCPTransport) -> None:
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)

    def connectionMade(self) -> None:
        self._timer = self.factory.clock.callLater(HEADER_TIMEOUT, self._late)

    def dataReceived(self, data: bytes) -> None:
        if self.proxied:
            self.wrappedProtocol.dataReceived(data)
            return
        self._buffer += data
        try:
            header = parseProxyHeader(self._buffer)
        except BadProxyHeader as e:
            self._reject(str(e))
            return
        if header is None:
            return
        self._cancelTimer()
        rest, self._buffer = self._buffer[header.length :], b""
        self._peer = header.source or self.transport.getPeer()
        self._host = header.destination or self.transport.getHost()
        wrapped = self.factory.wrappedFactory.buildProtocol(self._peer)
        if wrapped is None:
            # Refused by the service or by a cap, which said why.
            self.transport.loseConnection()
            return
        self.wrappedProtocol, self.proxied = wrapped, True
        wrapped.makeConnection(self)
        if rest and not self.disconnecting:
            wrapped.dataReceived(rest)

    def getPeer(self) -> IAddress:
        return self._peer or self.transport.getPeer()

    def getHost(self) -> IAddress:
        return self._host or self.transport.getHost()

    def readConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrappedProtocol, None)
        if not self.proxied:
            self._reject("closed before its PROXY header")
        elif halfCloseable is not None:
            halfCloseable.readConnectionLost()
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        halfCloseable = IHalfCloseableProtocol(self.wrappedProtocol, None)
        if self.proxied and halfCloseable is not None:
            halfCloseable.writeConnectionLost()
        else:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancelTimer()
        self.factory.unregisterProtocol(self)
        if self.proxied:
            self.wrappedProtocol.connectionLost(reason)

    def _late(self) -> None:
        self._timer = None
        self._reject(f"no PROXY header within {HEADER_TIMEOUT:g} s")

    def _reject(self, reason: str) -> None:
        self._cancelTimer()
        self.factory.rejected(self.transport.getPeer(), reason)
        self.transport.loseConnection()

    def _cancelTimer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()


if TYPE_CHECKING:
    _WrappingFactory = WrappingFactory[ProxiedProtocol]
else:  # WrappingFactory is generic only in recent Twisted releases
    _WrappingFactory = WrappingFactory


class ProxiedFactory(_WrappingFactory):
    """
    Serve a service's factory behind a PROXY-protocol balancer: each
    connection is built by the service's factory with the client's address
    from its header (see the module's docstring).

    @ivar guard: the process's caps, where rejected headers are counted.
    @ivar clock: times out connections without a header.
    """

    protocol = ProxiedProtocol
    noisy = False
    log = Logger()

    def __init__(
        self, wrappedFactory: IProtocolFactory, guard: ConnectionGuard, clock: IReactorTime
    ) -> None:
        super().__init__(wrappedFactory)
        self.guard = guard
        self.clock = clock
        self._rejectionLog = LogThrottle(clock, REFUSAL_LOG_INTERVAL)

    def buildProtocol(self, addr: Optional[IAddress]) -> ProxiedProtocol:
        """
        A connection from the balancer: read its header first.
        """
        return self.protocol(self)

    @property
    def acceptedNoDelay(self) -> bool:
        """
        Whether connections arrive with C{TCP_NODELAY} set (see
        L{sockservice.server.listeners.TCPListener}), passed on to the
        service's factory.
        """
        return bool(getattr(self.wrappedFactory, "acceptedNoDelay", False))

    @acceptedNoDelay.setter
    def acceptedNoDelay(self, value: bool) -> None:
        if hasattr(self.wrappedFactory, "acceptedNoDelay"):
            self.wrappedFactory.acceptedNoDelay = value

    def rejected(self, peer: IAddress, reason: str) -> None:
        """
        Count a connection from C{peer} closed for its header, and log it
        (one line a second at most, with a count of the others).
        """
        self.guard.proxyHeadersRejected += 1
        unlogged = self._rejectionLog.due()
        if unlogged is None:
            return
        self.log.warn(
            "closed connection from {peer}: {reason} (a haproxy: listener){more}",
            event="proxy_header_rejected",
            peer=describePeer(peer),
            reason=reason,
            more=f" ({unlogged} more since the last line)" if unlogged else "",
        )
