# -*- test-case-name: tests.test_proxiedudp -*-
"""
UDP services behind a balancer that sends the PROXY protocol header on
datagrams (nginx C{stream} with C{proxy_protocol on}): a C{--udp} (or
C{--chat}, C{--time}) description with C{proxyfrom=ADDR[,ADDR...]}.

nginx puts a header (version 1) before the first datagram of each of its
sessions, and relays replies sent to the session's address (nginx's own
address and port) back to the client.  Here, a datagram from a balancer
address is given to the service as coming from the client the header names
(so the per-source rate limit, the source-port guards, the chat's cookies,
members and rates see the client), without the header; later datagrams of
the same session, without a header, are the same client's.  What the
service sends to such a client goes to the session's address.  A datagram
from a balancer that has no valid header and belongs to no known session is
dropped, counted (L{ConnectionGuard.proxyHeadersRejected}) and logged
(event C{proxy_header_rejected}, at most one line a second).  Datagrams from
any other address are served as they are: only the balancers' headers are
believed.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Tuple

from twisted.internet.interfaces import IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from sockservice.peer import formatPeer
from sockservice.server.guard import REFUSAL_LOG_INTERVAL, ConnectionGuard
from sockservice.server.limits import LogThrottle
from sockservice.server.proxyheader import BadProxyHeader, parseProxyHeader

__all__ = ["MAX_SESSIONS", "ProxiedDatagramProtocol"]

Address = Tuple[str, int]

MAX_SESSIONS = 10000
"""Balancer sessions remembered; the oldest is forgotten beyond."""


class _ReplyTransport:
    """
    The transport the service's protocol writes to: a reply to a client
    that came through the balancer goes to the balancer's session address.
    Everything else is the real transport's.
    """

    socket = None  # no direct sendto: replies must pass through write

    def __init__(self, proxied: ProxiedDatagramProtocol, transport: IUDPTransport) -> None:
        self._proxied = proxied
        self._transport = transport

    def write(self, packet: bytes, addr: Address) -> None:
        self._transport.write(packet, self._proxied.sessionOf.get(addr, addr))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ProxiedDatagramProtocol(DatagramProtocol):
    """
    Give a service's datagram protocol the clients that balancers relay,
    from their PROXY headers (see the module's docstring).

    @ivar clientOf: each balancer session's address, to its client.
    @ivar sessionOf: each client, to its latest balancer session's address.
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        wrapped: DatagramProtocol,
        balancers: FrozenSet[str],
        guard: ConnectionGuard,
        clock: IReactorTime,
        maxSessions: int = MAX_SESSIONS,
    ) -> None:
        """
        @param wrapped: the service's protocol.
        @param balancers: the balancers' IP addresses, whose headers are
            believed.
        @param guard: where rejected datagrams are counted.
        @param clock: times the rejection log lines.
        """
        self.wrapped = wrapped
        # An IPv6 socket sees an IPv4 balancer IPv4-mapped.
        self.balancers = balancers | {f"::ffff:{a}" for a in balancers if ":" not in a}
        self.guard = guard
        self.clock = clock
        self.maxSessions = maxSessions
        self.clientOf: Dict[Address, Address] = {}
        self.sessionOf: Dict[Address, Address] = {}
        self._rejectionLog = LogThrottle(clock, REFUSAL_LOG_INTERVAL)

    def startProtocol(self) -> None:
        self.wrapped.makeConnection(_ReplyTransport(self, self.transport))  # type: ignore[arg-type]

    def stopProtocol(self) -> None:
        self.wrapped.doStop()

    def datagramReceived(self, data: bytes, addr: Address) -> None:
        if addr[0] not in self.balancers:
            self.wrapped.datagramReceived(data, addr)
            return
        try:
            header = parseProxyHeader(data)
        except BadProxyHeader:
            client = self.clientOf.get(addr)
            if client is None:
                self._reject(addr, "no PROXY header and no known session")
                return
        else:
            if header is None:
                self._reject(addr, "incomplete PROXY header")
                return
            source = header.source
            host = getattr(source, "host", None)
            client = addr if host is None else (host, getattr(source, "port", 0))
            data = data[header.length :]
            self._remember(addr, client)
        self.wrapped.datagramReceived(data, client)

    def _remember(self, session: Address, client: Address) -> None:
        old = self.clientOf.pop(session, None)
        if old is not None and self.sessionOf.get(old) == session:
            del self.sessionOf[old]
        while len(self.clientOf) >= self.maxSessions:
            oldest, oldClient = next(iter(self.clientOf.items()))
            del self.clientOf[oldest]
            if self.sessionOf.get(oldClient) == oldest:
                del self.sessionOf[oldClient]
        self.clientOf[session] = client
        self.sessionOf[client] = session

    def _reject(self, addr: Address, reason: str) -> None:
        self.guard.proxyHeadersRejected += 1
        unlogged = self._rejectionLog.due()
        if unlogged is None:
            return
        self.log.warn(
            "dropped datagram from {peer}: {reason} (proxyfrom){more}",
            event="proxy_header_rejected",
            peer=formatPeer(*addr),
            reason=reason,
            more=f" ({unlogged} more since the last line)" if unlogged else "",
        )
