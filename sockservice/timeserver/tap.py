# -*- test-case-name: tests.test_fragments -*-
"""
The time service's part of C{twistd sockservice}: C{--time} and C{--utc}.

C{--time DESC}: a bare port serves UDP and TCP on it (all IPv4 interfaces);
C{udp:PORT[:interface=ADDR]} serves UDP only; any other Twisted server
endpoint description serves TCP (one format per line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Tuple

from twisted.application.service import IServiceCollection
from twisted.python import usage

from sockservice.coerce import isDecimal
from sockservice.server.addresses import InetAddress, tcpEndpoint, udpAddress
from sockservice.server.guard import GuardedFactory
from sockservice.server.options import ServerConfig, Shared
from sockservice.timeserver.protocol import TimeDatagramProtocol, TimeLineFactory

__all__ = ["TimeConfig", "TimeOptions", "addServices"]


class TimeOptions(usage.Options):
    """
    The time service's options, composed into L{sockservice.tap.Options}.
    """

    optFlags: list[list[Any]] = [
        ["utc", None, "The time service answers in UTC instead of local time."]
    ]

    def opt_time(self, description: str) -> None:
        """Serve the time service: a port (UDP and TCP), udp:PORT[:interface=ADDR] (UDP), or a TCP endpoint description (repeatable)."""
        self.setdefault("time", []).append(description)

    def timeConfig(self, server: ServerConfig) -> TimeConfig:
        """
        @return: this service's options, parsed and checked.
        """
        tcp: List[Tuple[str, str]] = []
        udp: List[Tuple[str, InetAddress]] = []
        for description in dict.fromkeys(self.get("time", [])):
            if isDecimal(description) or description.startswith("udp:"):
                udp.append((description, udpAddress("--time", description)))
            if not description.startswith("udp:"):
                tcp.append((description, tcpEndpoint("--time", description, server.backlog)))
        return TimeConfig(bool(self["utc"]), tcp, udp)


@dataclass(frozen=True)
class TimeConfig:
    """
    The time service's options, parsed.

    @ivar tcp: C{(description as given, full endpoint description)} pairs.
    @ivar udp: C{(description as given, address)} pairs.
    """

    utc: bool = False
    tcp: List[Tuple[str, str]] = field(default_factory=list)
    udp: List[Tuple[str, InetAddress]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tcp or self.udp)


def addServices(top: IServiceCollection, config: TimeConfig, shared: Shared) -> None:
    """
    Add the time service's listeners to C{top}: TCP ones share one factory
    under the process's caps and idle timeout; each UDP one has its own
    rate limiter.
    """
    reactor = shared.reactor
    if config.tcp:
        factory = GuardedFactory(TimeLineFactory(reactor, utc=config.utc), shared.guard, "time")
        shared.metrics.track("time", "tcp", factory.counters)
        for description, full in config.tcp:
            shared.listenTCP(top, f"TCP {description} (time)", full, factory)
    for description, address in config.udp:
        server = shared.config
        protocol = TimeDatagramProtocol(
            reactor,
            config.utc,
            server.rateLimiter(),
            server.limitLoopback,
            server.prefixKey(),
            shared.udpPorts,
        )
        shared.metrics.track("time", "udp", protocol.counters)
        shared.listenUDP(top, f"UDP {description} (time)", address, protocol)
