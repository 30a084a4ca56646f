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

from dataclasses import dataclass, field
from typing import Any, List, Optional, Set, Tuple

from twisted.application.service import IServiceCollection
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import DatagramProtocol
from twisted.python import usage

from sockservice.coerce import number, whole
from sockservice.server.addresses import (
    InetAddress,
)
from sockservice.server.counters import Metrics
from sockservice.server.drain import DEFAULT_DRAIN
from sockservice.server.guard import ConnectionGuard
from sockservice.server.interfaces import IServerReactor
from sockservice.server.limits import PrefixKey, RateLimiter
from sockservice.server.listeners import TCPListener, UDPListener
from sockservice.server.proxied import PROXY_PREFIX, ProxiedFactory
from sockservice.server.proxiedudp import ProxiedDatagramProtocol

__all__ = ["ServerConfig", "ServerOptions", "Shared"]


class ServerOptions(usage.Options):
    """
    The shared options, composed into L{sockservice.tap.Options}.
    """

    # usage.Options' tables: [long, short, (default,) doc(, coerce)].
    optFlags: list[list[Any]] = [
        [
            "limit-loopback",
            None,
            "Apply the per-address limits (--max-per-ip, --udp-rate) to loopback "
            "clients too; by default they are exempt.",
        ],
    ]

    optParameters: list[list[Any]] = [
        [
            "idle-timeout",
            None,
            300,
            "Close a TCP connection idle this many seconds, or up to 1 s more (0: never).",
            number("--idle-timeout"),
        ],
        [
            "max-connections",
            None,
            10000,
            "Cap on open TCP connections, all services together (0: none).",
            whole("--max-connections"),
        ],
        [
            "max-per-ip",
            None,
            100,
            "Cap on open TCP connections per client IP address, all services together (0: none).",
            whole("--max-per-ip"),
        ],
        [
            "backlog",
            None,
            1024,
            "Listen backlog of tcp/tcp6 endpoints that do not set one.",
            whole("--backlog"),
        ],
        [
            "udp-rate",
            None,
            "50",
            "UDP datagrams answered per second per source prefix (--udp-prefix-v4/-v6), per service (0: no limit); with --workers N, each worker allows 1/N of it, so the total stays within it.",
            number("--udp-rate"),
        ],
        [
            "udp-burst",
            None,
            100,
            "UDP datagrams a source prefix may send at once before --udp-rate applies (divided among --workers too).",
            whole("--udp-burst"),
        ],
        [
            "udp-sources",
            None,
            10000,
            "How many UDP source prefixes the rate limiter remembers; one is forgotten only once its allowance is whole again, and a new prefix that finds the table full of limited ones is not answered.",
            whole("--udp-sources", 1, template="{option}: must be at least 1"),
        ],
        [
            "udp-prefix-v4",
            None,
            24,
            "UDP rate limit: IPv4 sources are accounted per prefix of this length, 0-32 (32: per address).",
            whole("--udp-prefix-v4", 0, 32, "{option}: expected 0 to 32, got {value!r}"),
        ],
        [
            "udp-prefix-v6",
            None,
            56,
            "UDP rate limit: IPv6 sources are accounted per prefix of this length, 0-128 (128: per address).",
            whole("--udp-prefix-v6", 0, 128, "{option}: expected 0 to 128, got {value!r}"),
        ],
        [
            "drain",
            None,
            f"{DEFAULT_DRAIN:g}",
            "On SIGTERM, idle TCP connections close at once; seconds that busy "
            "ones get to finish before they are closed (0: close them at once).",
            number("--drain"),
        ],
    ]

    def opt_udp_busy_port(self, port: str) -> None:
        """Internal, used by --workers: a UDP port of the parent process, whose datagrams no UDP service answers (repeatable)."""
        self.setdefault("udp-busy-ports", []).append(
            whole("--udp-busy-port", 0, 65535, "{option}: expected a port number, got {value!r}")(
                port
            )
        )

    def opt_parent_pipe(self, fd: str) -> None:
        """Internal, used by --workers: stop when descriptor FD (a pipe from the parent) reaches its end."""
        self["parent-pipe"] = whole(
            "--parent-pipe", 0, None, "{option}: expected a descriptor, got {value!r}"
        )(fd)

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
            prefixV4=self["udp-prefix-v4"],
            prefixV6=self["udp-prefix-v6"],
            busyPorts=tuple(self.get("udp-busy-ports", [])),
            parentPipe=self.get("parent-pipe"),
        )

    def sharedArguments(self, workers: int = 1) -> List[str]:
        """
        These options as command-line arguments, for each of C{workers}
        processes.

        The kernel spreads one source's datagrams over the workers by source
        port, so a forged flood from one prefix reaches every worker: each
        worker's limiter allows 1/N of C{--udp-rate} and C{--udp-burst}
        (bursts at least 1), and the whole process stays within them.  A
        client sending from one port reaches one worker and gets 1/N.
        """
        shares = {
            "udp-rate": repr(float(self["udp-rate"]) / workers),
            "udp-burst": str(max(1, self["udp-burst"] // workers)),
        }
        return [
            f"--{name}={shares.get(name, self[name])}"
            for name, _, _, _, _ in ServerOptions.optParameters
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
    prefixV4: int = 24
    prefixV6: int = 56
    busyPorts: Tuple[int, ...] = ()
    parentPipe: Optional[int] = None

    def prefixKey(self) -> PrefixKey:
        """
        @return: how the UDP rate limit groups source addresses.
        """
        return PrefixKey(self.prefixV4, self.prefixV6)

    def rateLimiter(self) -> Optional[RateLimiter]:
        """
        @return: a new per-source UDP rate limiter, or L{None} when
            C{--udp-rate} is 0.
        """
        if self.udpRate <= 0:
            return None
        return RateLimiter(self.udpRate, max(self.udpBurst, 1), self.udpSources)


@dataclass
class Shared:
    """
    What the services of one process share while they run.

    @ivar guard: the caps, idle sweep and open connections of every TCP
        listener.
    @ivar udpPorts: every UDP port of the process (and of its C{--workers}):
        none of its UDP services answers a datagram from one (no ping-pong).
    @ivar metrics: what the services count, read by C{--metrics}.
    """

    config: ServerConfig
    reactor: IServerReactor
    guard: ConnectionGuard
    udpPorts: Set[int] = field(default_factory=set)
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def forProcess(cls, config: ServerConfig, reactor: IServerReactor) -> Shared:
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
        return cls(config, reactor, guard, set(config.busyPorts))

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
        A C{haproxy:} description serves C{factory} behind a PROXY-protocol
        balancer (L{sockservice.server.proxied}).
        """
        if endpoint.startswith(PROXY_PREFIX):
            endpoint = endpoint[len(PROXY_PREFIX) :]
            factory = ProxiedFactory(factory, self.guard, self.reactor)
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
        any size (Twisted's default would truncate them at 8 KiB); with
        C{proxyfrom=}, behind balancers that send PROXY headers
        (L{sockservice.server.proxiedudp}).
        """
        if address.proxyFrom:
            protocol = ProxiedDatagramProtocol(
                protocol, address.proxyFrom, self.guard, self.reactor
            )
        UDPListener(
            name,
            address.port,
            protocol,
            interface=address.interface,
            maxPacketSize=65535,
            reactor=self.reactor,
        ).setServiceParent(top)
