# -*- test-case-name: tests.test_tap -*-
"""
The uppercase service's part of C{twistd sockservice}: C{--tcp}, C{--udp},
C{--case}, C{--workers}, and the listeners they add.

  - C{--tcp DESC}: a port (C{tcp:PORT}, all IPv4 interfaces) or any Twisted
    server endpoint description (C{systemd:} ones are checked against the
    inherited socket).
  - C{--udp DESC}: a port, C{udp:PORT[:interface=ADDR]}, or
    C{systemd:index=N} / C{systemd:name=NAME} for an inherited socket.
  - C{--workers N}: the C{tcp}, C{tcp6} and C{udp} listeners are served by N
    processes sharing each port (L{sockservice.server.workers}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Tuple, Union

from twisted.application.service import IServiceCollection
from twisted.internet.endpoints import AdoptedStreamServerEndpoint
from twisted.python import usage

from sockservice.casing import MODES
from sockservice.coerce import isDecimal, whole
from sockservice.server.addresses import InetAddress, parseInet, parseUDP, tcpEndpoint
from sockservice.server.listeners import AdoptedUDPListener, TCPListener, socketFamily
from sockservice.server.options import ServerConfig, Shared
from sockservice.server.systemd import (
    InheritedSocket,
    checkInheritedStream,
    parseInheritedDatagram,
)
from sockservice.server.workers import Listener, WorkerPool
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol

__all__ = ["DEFAULT_PORT", "UppercaseConfig", "UppercaseOptions", "addServices"]

DEFAULT_PORT = 12000
"""The textbook's port, served on TCP and UDP when nothing else is named."""


class UppercaseOptions(usage.Options):
    """
    The uppercase service's options, composed into L{sockservice.tap.Options}.
    """

    optParameters: list[list[Any]] = [
        [
            "case",
            None,
            "unicode",
            "Casing: 'unicode' (UTF-8 aware: straße -> STRASSE; invalid UTF-8 "
            "passes unchanged) or 'ascii' (only a-z change; same length).",
        ],
        [
            "workers",
            None,
            1,
            "Serve with this many processes sharing the TCP and UDP ports (tcp, tcp6 and udp listeners only).",
            whole("--workers", 1, template="{option}: must be at least 1"),
        ],
    ]

    def opt_tcp(self, description: str) -> None:
        """Serve TCP on a port (all IPv4 interfaces) or a Twisted endpoint description such as tcp6:12000 or tcp:12000:interface=127.0.0.1 (repeatable)."""
        self.setdefault("tcp", []).append(description)

    def opt_udp(self, description: str) -> None:
        """Serve UDP on a port (all IPv4 interfaces) or udp:PORT[:interface=ADDR], e.g. udp:12000:interface=\\:\\: for IPv6 and IPv4, or systemd:index=N for a socket inherited from systemd (repeatable)."""
        self.setdefault("udp", []).append(description)

    def opt_inherit(self, spec: str) -> None:
        """Internal, used by --workers: serve KIND (tcp or udp) on inherited descriptor FD, given as KIND:FD."""
        kind, _, fd = spec.partition(":")
        if kind not in ("tcp", "udp") or not isDecimal(fd):
            raise usage.UsageError(f"--inherit: expected tcp:FD or udp:FD, got {spec!r}")
        self.setdefault("inherit", []).append((kind, int(fd)))

    def uppercaseConfig(self, server: ServerConfig, byDefault: bool) -> UppercaseConfig:
        """
        @param byDefault: serve TCP and UDP on L{DEFAULT_PORT} when no
            listener of this service is named.
        @return: this service's options, parsed and checked.
        """
        if self["case"] not in MODES:
            raise usage.UsageError(
                f"--case: expected one of {', '.join(MODES)}, got {self['case']!r}"
            )
        tcp = list(dict.fromkeys(self.get("tcp", [])))
        udp = list(dict.fromkeys(self.get("udp", [])))
        inherit = self.get("inherit", [])
        if byDefault and not (tcp or udp or inherit):
            tcp, udp = [str(DEFAULT_PORT)], [str(DEFAULT_PORT)]
        workers = self["workers"]
        if workers > 1 and not (tcp or udp):
            raise usage.UsageError("--workers: applies to --tcp and --udp, and neither is given")
        endpoints = []
        for description in tcp:
            full = tcpEndpoint("--tcp", description, server.backlog)
            if full.startswith("systemd:"):
                checkInheritedStream(full)
            endpoints.append((description, full))
        addresses = [
            (d, parseInheritedDatagram(d) if d.startswith("systemd:") else parseUDP(d)) for d in udp
        ]
        shared: List[Listener] = []
        if workers > 1 and any(getattr(a, "proxyFrom", None) for _, a in addresses):
            raise usage.UsageError("--workers: not with a --udp that has proxyfrom=")
        if workers > 1:
            shared = [
                Listener("tcp", d, parseInet(d, "--tcp with --workers", ("tcp", "tcp6")))
                for d in tcp
            ] + [Listener("udp", d, parseUDP(d)) for d in udp]
        return UppercaseConfig(self["case"], workers, endpoints, addresses, inherit, shared)


@dataclass(frozen=True)
class UppercaseConfig:
    """
    The uppercase service's options, parsed.

    @ivar tcp: C{(description as given, full endpoint description)} pairs.
    @ivar udp: C{(description as given, address)} pairs.
    @ivar inherit: C{(kind, descriptor)} pairs, from C{--inherit}.
    @ivar shared: with C{--workers}, the listeners the workers share.
    """

    case: str = "unicode"
    workers: int = 1
    tcp: List[Tuple[str, str]] = field(default_factory=list)
    udp: List[Tuple[str, Union[InetAddress, InheritedSocket]]] = field(default_factory=list)
    inherit: List[Tuple[str, int]] = field(default_factory=list)
    shared: List[Listener] = field(default_factory=list)


def addServices(
    top: IServiceCollection,
    config: UppercaseConfig,
    shared: Shared,
    workerArguments: List[str],
) -> None:
    """
    Add the uppercase service to C{top}: one listener per C{--tcp} (sharing
    one factory under the process's caps) and one per C{--udp} (bound here,
    or inherited), or a pool of C{--workers}; then the drain of every open
    TCP connection of the process on stop.

    @param workerArguments: the options every worker runs with.
    """
    reactor = shared.reactor
    server = shared.config
    if config.workers > 1:
        # Each worker drains its own connections (--drain is passed on).
        WorkerPool(
            config.shared,
            config.workers,
            workerArguments,
            reactor,
            killAfter=max(10.0, server.drain + 5),
            udpPorts=shared.udpPorts,
        ).setServiceParent(top)
    else:
        factory = UppercaseFactory(mode=config.case, guard=shared.guard)
        shared.metrics.track("uppercase", "tcp", factory.counters)
        for description, full in config.tcp:
            shared.listenTCP(top, f"TCP {description}", full, factory)
        for description, address in config.udp:
            protocol = _datagramProtocol(config, shared)
            if isinstance(address, InheritedSocket):
                name = f"UDP {description}"
                AdoptedUDPListener(name, address.fileno, protocol, reactor).setServiceParent(top)
            else:
                shared.listenUDP(top, f"UDP {description}", address, protocol)
        for kind, fd in config.inherit:
            name = f"{kind.upper()} inherited descriptor {fd}"
            if kind == "tcp":
                endpoint = AdoptedStreamServerEndpoint(reactor, fd, socketFamily(fd))
                TCPListener(name, endpoint, factory).setServiceParent(top)
            else:
                protocol = _datagramProtocol(config, shared)
                AdoptedUDPListener(name, fd, protocol, reactor).setServiceParent(top)


def _datagramProtocol(config: UppercaseConfig, shared: Shared) -> UppercaseDatagramProtocol:
    server = shared.config
    protocol = UppercaseDatagramProtocol(
        mode=config.case,
        rate=server.udpRate,
        burst=server.udpBurst,
        maxSources=server.udpSources,
        limitLoopback=server.limitLoopback,
        reactor=shared.reactor,
        prefixV4=server.prefixV4,
        prefixV6=server.prefixV6,
        udpPorts=shared.udpPorts,
    )
    shared.metrics.track("uppercase", "udp", protocol.counters)
    return protocol
