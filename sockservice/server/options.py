# -*- test-case-name: tests.test_tap -*-
"""
The options every service shares, and what they give the services at run
time.

L{ServerOptions} is the shared fragment of C{twistd sockservice}'s command
line: the connection caps and idle timeout of every TCP listener, the UDP
rate limit, the listen backlog, the drain on stop.  L{ServerConfig} is what
it parses to; L{Shared} is what one process's services share while they run
(the reactor, one L{ConnectionGuard}) and the way they add listeners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from twisted.application.service import IServiceCollection
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import DatagramProtocol
from twisted.python import usage

from sockservice.coerce import number, whole
from sockservice.server.addresses import (
    InetAddress,
    descriptionKeywords,
    parseTCP,
    parseUDP,
)
from sockservice.server.drain import DEFAULT_DRAIN
from sockservice.server.guard import ConnectionGuard
from sockservice.server.limits import RateLimiter
from sockservice.server.listeners import TCPListener, UDPListener

__all__ = ["ServerConfig", "ServerOptions", "Shared", "tcpEndpoint", "udpAddress"]


class ServerOptions(usage.Options):
    """
    The shared options, composed into L{sockservice.tap.Options}.
    """

    optFlags = [
        [
            "limit-loopback",
            None,
            "Apply the per-address limits (--max-per-ip, --udp-rate) to loopback "
            "clients too; by default they are exempt.",
        ],
    ]

    optParameters = [
        ["idle-timeout", None, 300, "Close a TCP connection idle this many seconds, or up to 1 s more (0: never).", number("--idle-timeout")],
        ["max-connections", None, 10000, "Cap on open TCP connections, all services together (0: none).", whole("--max-connections")],
        ["max-per-ip", None, 100, "Cap on open TCP connections per client IP address, all services together (0: none).", whole("--max-per-ip")],
        ["backlog", None, 1024, "Listen backlog of tcp/tcp6 endpoints that do not set one.", whole("--backlog")],
        ["udp-rate", None, "50", "UDP datagrams answered per second per source address (0: no limit).", number("--udp-rate")],
        ["udp-burst", None, 100, "UDP datagrams a source may send at once before --udp-rate applies.", whole("--udp-burst")],
        ["udp-sources", None, 10000, "How many UDP source addresses the rate limiter remembers.", whole("--udp-sources", 1, template="{option}: must be at least 1")],
        [
            "drain",
            None,
            f"{DEFAULT_DRAIN:g}",
            "On SIGTERM, seconds that open TCP connections get to finish before "
            "they are closed (0: close them at once).",
            number("--drain"),
        ],
    ]

    def serverConfig(self) -> ServerConfig:
        """
        @return: the shared options, parsed.
        """
        return ServerConfig(
            idleTimeout=float(self["idle-timeout"]),
            maxConnections=self["max-connections"],
            maxPerAddress=self["max-per-ip"],
            backlog=self["backlog"],
            udpRate=float(self["udp-rate"]),
            udpBurst=self["udp-burst"],
            udpSources=self["udp-sources"],
            limitLoopback=bool(self["limit-loopback"]),
            drain=float(self["drain"]),
        )

    def sharedArguments(self) -> List[str]:
        """
        These options as command-line arguments, for the C{--workers}
        processes.
        """
        return [
            f"--{name}={self[name]}" for name, _, _, _, _ in ServerOptions.optParameters
        ] + [f"--{name}" for name, _, _ in ServerOptions.optFlags if self[name]]


@dataclass(frozen=True)
class ServerConfig:
    """
    The shared options, parsed (see L{ServerOptions} for their meaning).
    """

    idleTimeout: float = 300.0
    maxConnections: int = 10000
    maxPerAddress: int = 100
    backlog: int = 1024
    udpRate: float = 50.0
    udpBurst: int = 100
    udpSources: int = 10000
    limitLoopback: bool = False
    drain: float = DEFAULT_DRAIN

    def rateLimiter(self) -> Optional[RateLimiter]:
        """
        @return: a new per-source UDP rate limiter, or L{None} when
            C{--udp-rate} is 0.
        """
        if self.udpRate <= 0:
            return None
        return RateLimiter(self.udpRate, max(self.udpBurst, 1), self.udpSources)


def tcpEndpoint(option: str, description: str, backlog: int) -> str:
    """
    A TCP listen description of option C{option}, as a full server endpoint
    description, checked by Twisted's parser.

    @raise usage.UsageError: naming C{option}, when it is not valid.
    """
    try:
        full = parseTCP(description, backlog)
    except usage.UsageError as e:
        raise usage.UsageError(str(e).replace("--tcp", option, 1)) from None
    descriptionKeywords(full, option)
    try:
        serverFromString(None, full)
    except Exception as e:
        raise usage.UsageError(f"{option}: invalid endpoint {full!r}: {e}") from None
    return full


def udpAddress(option: str, description: str) -> InetAddress:
    """
    A UDP listen description of option C{option}: C{PORT} or
    C{udp:PORT[:interface=ADDR]}.

    @raise usage.UsageError: naming C{option}, when it is not valid.
    """
    try:
        return parseUDP(description)
    except usage.UsageError as e:
        raise usage.UsageError(str(e).replace("--udp", option, 1)) from None


@dataclass
class Shared:
    """
    What the services of one process share while they run.

    @ivar guard: the caps, idle sweep and open connections of every TCP
        listener.
    """

    config: ServerConfig
    reactor: Any
    guard: ConnectionGuard

    @classmethod
    def forProcess(cls, config: ServerConfig, reactor: Any) -> Shared:
        """
        @return: a new L{Shared} for C{config}, with its own guard.
        """
        guard = ConnectionGuard(
            reactor,
            config.idleTimeout,
            config.maxConnections,
            config.maxPerAddress,
            config.limitLoopback,
        )
        return cls(config, reactor, guard)

    def listenTCP(
        self,
        top: IServiceCollection,
        name: str,
        endpoint: str,
        factory: IProtocolFactory,
    ) -> None:
        """
        Add a listener on the full endpoint description C{endpoint} to C{top}.

        @param name: how the log names the listener, e.g. C{"TCP 12000"}.
        """
        TCPListener(name, serverFromString(self.reactor, endpoint), factory).setServiceParent(top)

    def listenUDP(
        self,
        top: IServiceCollection,
        name: str,
        address: InetAddress,
        protocol: DatagramProtocol,
    ) -> None:
        """
        Add a UDP listener on C{address} to C{top}, reading datagrams of
        any size (Twisted's default would truncate them at 8 KiB).
        """
        UDPListener(
            name,
            address.port,
            protocol,
            interface=address.interface,
            maxPacketSize=65535,
            reactor=self.reactor,
        ).setServiceParent(top)
