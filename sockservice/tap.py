# -*- test-case-name: tests.test_tap -*-
"""
The C{twistd sockservice} entry point: L{Options} and L{makeService}.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from twisted.application.service import IService
from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString
from twisted.python import usage

from sockservice.server.addresses import InetAddress, parseInet, parseTCP, parseUDP
from sockservice.casing import MODES
from sockservice.server.drain import DEFAULT_DRAIN, DrainService
from sockservice._fast.switch import installReactor, tuneJIT
from sockservice.server.listeners import (
    AdoptedUDPListener,
    SockService,
    TCPListener,
    UDPListener,
    socketFamily,
)
from sockservice.server.systemd import (
    InheritedSocket,
    Notifier,
    ReadinessService,
    checkInheritedStream,
    parseInheritedDatagram,
)
from sockservice.tapservices import (
    addChatService,
    addCommandService,
    addTimeService,
    checkChatOptions,
    checkCommandOptions,
    checkTimeOptions,
)
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from sockservice.server.workers import Listener, WorkerPool

__all__ = ["Options", "makeService"]

DEFAULT_PORT = 12000


class Options(usage.Options):
    """
    Command line of C{twistd sockservice}.
    """

    synopsis = "[--tcp DESC]... [--udp DESC]... [options]"
    longdesc = (
        "Serve the textbook upper-casing service: every byte sent over TCP comes "
        "back upper-cased on the same connection, and every UDP datagram is "
        "answered with its upper-cased payload. With neither --tcp nor --udp, "
        f"listens on TCP {DEFAULT_PORT} and UDP {DEFAULT_PORT} on all IPv4 "
        "interfaces."
    )

    optFlags = [
        [
            "limit-loopback",
            None,
            "Apply the per-address limits (--max-per-ip, --udp-rate) to loopback "
            "clients too; by default they are exempt.",
        ],
        ["utc", None, "The time service answers in UTC instead of local time."],
    ]

    optParameters = [
        [
            "case",
            None,
            "unicode",
            "Casing: 'unicode' (UTF-8 aware: straße -> STRASSE; invalid UTF-8 "
            "passes unchanged) or 'ascii' (only a-z change; same length).",
        ],
        ["idle-timeout", None, "300", "Close a TCP connection idle this many seconds, or up to 1 s more (0: never)."],
        ["max-connections", None, "10000", "Cap on open TCP connections (0: none)."],
        ["max-per-ip", None, "100", "Cap on open TCP connections per client IP address (0: none)."],
        ["backlog", None, "1024", "Listen backlog of tcp/tcp6 endpoints that do not set one."],
        ["udp-rate", None, "50", "UDP datagrams answered per second per source address (0: no limit)."],
        ["udp-burst", None, "100", "UDP datagrams a source may send at once before --udp-rate applies."],
        ["udp-sources", None, "10000", "How many UDP source addresses the rate limiter remembers."],
        ["command-allow", None, None, "Allow-list of the command service (INI; see README)."],
        ["command-token-file", None, None, "File holding the command service's shared secret; required to listen beyond loopback."],
        ["command-max-runs", None, "4", "Most commands running at once, all clients together."],
        ["workers", None, "1", "Serve with this many processes sharing the TCP and UDP ports (tcp, tcp6 and udp listeners only)."],
        [
            "drain",
            None,
            f"{DEFAULT_DRAIN:g}",
            "On SIGTERM, seconds that open TCP connections get to finish before "
            "they are closed (0: close them at once).",
        ],
    ]

    _numbers = {
        "idle-timeout": float,
        "max-connections": int,
        "max-per-ip": int,
        "backlog": int,
        "udp-rate": float,
        "udp-burst": int,
        "udp-sources": int,
        "workers": int,
        "command-max-runs": int,
        "drain": float,
    }

    def __init__(self) -> None:
        super().__init__()
        self["tcp"]: list[str] = []
        self["udp"]: list[str] = []
        self["inherit"]: list[tuple[str, int]] = []
        self["time"]: list[str] = []
        self["chat"]: list[str] = []
        self["command"]: list[str] = []

    def opt_tcp(self, description: str) -> None:
        """Serve TCP on a port (all IPv4 interfaces) or a Twisted endpoint description such as tcp6:12000 or tcp:12000:interface=127.0.0.1 (repeatable)."""
        self["tcp"].append(description)

    def opt_udp(self, description: str) -> None:
        """Serve UDP on a port (all IPv4 interfaces) or udp:PORT[:interface=ADDR], e.g. udp:12000:interface=\\:\\: for IPv6 and IPv4, or systemd:index=N for a socket inherited from systemd (repeatable)."""
        self["udp"].append(description)

    def opt_time(self, description: str) -> None:
        """Serve the time service: a port (UDP and TCP), udp:PORT[:interface=ADDR] (UDP), or a TCP endpoint description (repeatable)."""
        self["time"].append(description)

    def opt_chat(self, description: str) -> None:
        """Serve the chat relay on UDP: a port or udp:PORT[:interface=ADDR] (repeatable)."""
        self["chat"].append(description)

    def opt_command(self, description: str) -> None:
        """Serve allow-listed commands on TCP: a port (127.0.0.1 only) or an endpoint description; beyond loopback needs --command-token-file (repeatable)."""
        self["command"].append(description)

    def opt_inherit(self, spec: str) -> None:
        """Internal, used by --workers: serve KIND (tcp or udp) on inherited descriptor FD, given as KIND:FD."""
        kind, _, fd = spec.partition(":")
        if kind not in ("tcp", "udp") or not fd.isdigit():
            raise usage.UsageError(f"--inherit: expected tcp:FD or udp:FD, got {spec!r}")
        self["inherit"].append((kind, int(fd)))

    def postOptions(self) -> None:
        for name, kind in self._numbers.items():
            try:
                value = kind(self[name])
            except (TypeError, ValueError):
                value = -1
            if value < 0:
                raise usage.UsageError(
                    f"--{name}: expected a non-negative number, got {self[name]!r}"
                )
            self[name] = value
        if self["udp-sources"] < 1:
            raise usage.UsageError("--udp-sources: must be at least 1")
        if self["case"] not in MODES:
            raise usage.UsageError(
                f"--case: expected one of {', '.join(MODES)}, got {self['case']!r}"
            )
        if self["workers"] < 1:
            raise usage.UsageError("--workers: must be at least 1")
        if not any(self[k] for k in ("tcp", "udp", "inherit", "time", "chat", "command")):
            self["tcp"] = [str(DEFAULT_PORT)]
            self["udp"] = [str(DEFAULT_PORT)]
        if self["workers"] > 1 and not (self["tcp"] or self["udp"]):
            raise usage.UsageError("--workers: applies to --tcp and --udp, and neither is given")
        self["tcp"] = _unique(self["tcp"])
        self["udp"] = _unique(self["udp"])
        self["tcp-endpoints"] = [parseTCP(d, self["backlog"]) for d in self["tcp"]]
        for description in self["tcp-endpoints"]:
            if description.startswith("systemd:"):
                checkInheritedStream(description)
            try:
                serverFromString(None, description)
            except Exception as e:
                raise usage.UsageError(f"--tcp: invalid endpoint {description!r}: {e}")
        self["udp-addresses"]: list[InetAddress | InheritedSocket] = [
            parseInheritedDatagram(d) if d.startswith("systemd:") else parseUDP(d)
            for d in self["udp"]
        ]
        checkTimeOptions(self)
        checkChatOptions(self)
        checkCommandOptions(self)
        if self["workers"] > 1:
            self["shared"] = [
                Listener("tcp", d, parseInet(d, "--tcp with --workers", ("tcp", "tcp6")))
                for d in self["tcp"]
            ] + [Listener("udp", d, parseUDP(d)) for d in self["udp"]]

    def workerArguments(self) -> list[str]:
        """
        The options that every worker of C{--workers} runs with: these, less
        the listeners and the worker count.
        """
        args = [
            f"--{name}={self[name]}"
            for name, _, _, _ in self.optParameters
            if name != "workers" and not name.startswith("command-")
        ]
        return args + [f"--{name}" for name, _, _ in self.optFlags if self[name]]


def _unique(items: Any) -> list[Any]:
    return list(dict.fromkeys(items))


def _globalReactor() -> Any:
    """
    The global reactor: L{sockservice._fast.reactor}'s, unless one is installed
    already (C{twistd -r}, a test runner), this system has no epoll, or the
    speed tricks are off (L{sockservice._fast.switch}).
    """
    if "twisted.internet.reactor" not in sys.modules:
        installReactor()
    from twisted.internet import reactor

    return reactor


def makeService(options: Options, reactor: Optional[Any] = None) -> IService:
    """
    Build the service tree: one listener per C{--tcp} (sharing one factory, so
    the connection caps are global) and one per C{--udp} (bound here, or
    inherited from systemd), or a pool of C{--workers}; the drain of open
    connections on stop; and, when started by systemd with C{Type=notify},
    the readiness notification.

    @param options: parsed L{Options}.
    @param reactor: the reactor to listen with; by default the global one,
        in a process of its own (C{twistd}), whose PyPy JIT is tuned for it
        (L{sockservice._fast.jit}) while the speed tricks are on.
    """
    if reactor is None:
        reactor = _globalReactor()
        tuneJIT()
    top = SockService(fileLimit=options["max-connections"] + 256)
    # In this process even with --workers: a chat's members and the limit on
    # concurrent commands belong to one process.
    addTimeService(top, options, reactor)
    addChatService(top, options, reactor)
    addCommandService(top, options, reactor)
    if options["workers"] > 1:
        # Each worker drains its own connections (--drain is passed on).
        pool = WorkerPool(
            options["shared"],
            options["workers"],
            options.workerArguments(),
            reactor,
            killAfter=max(10.0, options["drain"] + 5),
        )
        pool.setServiceParent(top)
        _notifyReadiness(top)
        return top
    factory = UppercaseFactory(
        mode=options["case"],
        idleTimeout=options["idle-timeout"],
        maxConnections=options["max-connections"],
        maxPerAddress=options["max-per-ip"],
        limitLoopback=options["limit-loopback"],
        reactor=reactor,
    )
    for description, full in zip(options["tcp"], options["tcp-endpoints"]):
        endpoint = serverFromString(reactor, full)
        TCPListener(f"TCP {description}", endpoint, factory).setServiceParent(top)
    for description, address in zip(options["udp"], options["udp-addresses"]):
        if isinstance(address, InheritedSocket):
            AdoptedUDPListener(
                f"UDP {description}",
                address.fileno,
                _datagramProtocol(options, reactor),
                reactor,
            ).setServiceParent(top)
            continue
        listener = UDPListener(
            f"UDP {description}",
            address.port,
            _datagramProtocol(options, reactor),
            interface=address.interface,
            maxPacketSize=65535,
            reactor=reactor,
        )
        listener.setServiceParent(top)
    for kind, fd in options["inherit"]:
        description = f"{kind.upper()} inherited descriptor {fd}"
        if kind == "tcp":
            endpoint = AdoptedStreamServerEndpoint(reactor, fd, socketFamily(fd))
            TCPListener(description, endpoint, factory).setServiceParent(top)
        else:
            protocol = _datagramProtocol(options, reactor)
            AdoptedUDPListener(description, fd, protocol, reactor).setServiceParent(top)
    DrainService(factory.openConnections, options["drain"], reactor).setServiceParent(top)
    _notifyReadiness(top)
    return top


def _notifyReadiness(top: SockService) -> None:
    """
    When started by systemd with C{Type=notify}, add the readiness service
    last: started once every listener is up, stopped first.  C{NOTIFY_SOCKET}
    is taken out of the environment, so that C{--workers} processes do not
    notify too.
    """
    notifier = Notifier.fromEnvironment(unset=True)
    if notifier is not None:
        ReadinessService(notifier).setServiceParent(top)


def _datagramProtocol(options: Options, reactor: Any) -> UppercaseDatagramProtocol:
    return UppercaseDatagramProtocol(
        mode=options["case"],
        rate=options["udp-rate"],
        burst=options["udp-burst"],
        maxSources=options["udp-sources"],
        limitLoopback=options["limit-loopback"],
        reactor=reactor,
    )
