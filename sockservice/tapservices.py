# -*- test-case-name: tests.test_tapservices -*-
"""
The time, chat and command services' part of C{twistd sockservice}: checking
their options and adding their listeners, one function per service, so that
L{sockservice.tap} only calls them.

  - C{--time DESC}: a bare port serves UDP and TCP on it (all IPv4
    interfaces); C{udp:PORT[:interface=ADDR]} serves UDP only; any other
    Twisted server endpoint description serves TCP (one format per line).
  - C{--chat DESC}: UDP, C{PORT} or C{udp:PORT[:interface=ADDR]}.
  - C{--command DESC}: TCP; a bare port means C{tcp:PORT:interface=127.0.0.1}.
    Anything that is not loopback (or a UNIX socket) needs
    C{--command-token-file}; C{--command-allow FILE} is required.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Set, Tuple

from twisted.application.service import MultiService
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from sockservice.server.addresses import InetAddress, parseTCP, parseUDP
from sockservice.command.allowlist import AllowListError, loadAllowList
from sockservice.chat.relay import ChatProtocol
from sockservice.command.protocol import CommandFactory
from sockservice.server.limits import PrefixKey, RateLimiter, isLoopback
from sockservice.server.listeners import TCPListener, UDPListener
from sockservice.timeserver.protocol import TimeDatagramProtocol, TimeLineFactory

__all__ = [
    "checkTimeOptions",
    "checkChatOptions",
    "checkCommandOptions",
    "addTimeService",
    "addChatService",
    "addCommandService",
    "MIN_TOKEN_LENGTH",
]

MIN_TOKEN_LENGTH = 16
"""The shortest token accepted from C{--command-token-file}, in bytes."""

_interface = re.compile(r"(?:^|(?<!\\):)interface=((?:\\.|[^:\\])*)")


def _parseUDP(option: str, description: str) -> InetAddress:
    try:
        return parseUDP(description)
    except usage.UsageError as e:
        raise usage.UsageError(str(e).replace("--udp", option, 1)) from None


def _parseTCP(option: str, description: str, backlog: int) -> str:
    try:
        full = parseTCP(description, backlog)
    except usage.UsageError as e:
        raise usage.UsageError(str(e).replace("--tcp", option, 1)) from None
    _checkTCP(option, full)
    return full


def _checkTCP(option: str, description: str) -> None:
    try:
        serverFromString(None, description)
    except Exception as e:
        raise usage.UsageError(f"{option}: invalid endpoint {description!r}: {e}") from None


def checkTimeOptions(options: Any) -> None:
    """
    Split each C{--time} value into C{options["time-tcp"]} (full endpoint
    descriptions) and C{options["time-udp"]} (L{InetAddress}es).
    """
    tcp: List[Tuple[str, str]] = []
    udp: List[Tuple[str, InetAddress]] = []
    for description in dict.fromkeys(options["time"]):
        if description.isdigit() or description.startswith("udp:"):
            udp.append((description, _parseUDP("--time", description)))
        if not description.startswith("udp:"):
            tcp.append((description, _parseTCP("--time", description, options["backlog"])))
    options["time-tcp"], options["time-udp"] = tcp, udp


def checkChatOptions(options: Any) -> None:
    """
    Parse each C{--chat} value into C{options["chat-udp"]}.
    """
    options["chat-udp"] = [(d, _parseUDP("--chat", d)) for d in dict.fromkeys(options["chat"])]


def isLocalDescription(description: str) -> bool:
    """
    @param description: A full server endpoint description.
    @return: Whether it can only be reached from this machine: a UNIX
        socket, or C{tcp}/C{tcp6} bound to a loopback address.
    """
    kind = description.split(":", 1)[0]
    if kind == "unix":
        return True
    match = _interface.search(description)
    if kind not in ("tcp", "tcp6") or match is None:
        return False
    return isLoopback(re.sub(r"\\(.)", r"\1", match.group(1)))


def _readToken(filename: str) -> bytes:
    try:
        with open(filename, "rb") as f:
            token = f.read(4096).strip()
    except OSError as e:
        message = f"--command-token-file: cannot read {filename}: {e.strerror}"
        raise usage.UsageError(message) from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise usage.UsageError(
            f"--command-token-file: the token must be at least {MIN_TOKEN_LENGTH} bytes"
        )
    return token


def checkCommandOptions(options: Any) -> None:
    """
    Check the C{--command} values and load the allow-list and the token into
    C{options["command-tcp"]}, C{options["command-allowlist"]} and
    C{options["command-token"]}.
    """
    descriptions = list(dict.fromkeys(options["command"]))
    options["command-tcp"], options["command-allowlist"], options["command-token"] = [], None, None
    if not descriptions:
        for name in ("command-allow", "command-token-file"):
            if options[name] is not None:
                raise usage.UsageError(f"--{name} given without --command")
        return
    if options["command-max-runs"] < 1:
        raise usage.UsageError("--command-max-runs: must be at least 1")
    if options["command-allow"] is None:
        raise usage.UsageError("--command requires --command-allow FILE")
    try:
        options["command-allowlist"] = loadAllowList(options["command-allow"])
    except AllowListError as e:
        raise usage.UsageError(f"--command-allow: {e}") from None
    if options["command-token-file"] is not None:
        options["command-token"] = _readToken(options["command-token-file"])
    for description in descriptions:
        local = f"tcp:{description}:interface=127.0.0.1" if description.isdigit() else description
        full = _parseTCP("--command", local, options["backlog"])
        if options["command-token"] is None and not isLocalDescription(full):
            raise usage.UsageError(
                f"--command {description}: listening beyond loopback requires --command-token-file"
            )
        options["command-tcp"].append((description, full))


def _udpListener(
    name: str, description: str, address: InetAddress, protocol: Any, reactor: Any
) -> UDPListener:
    return UDPListener(
        f"UDP {description} ({name})",
        address.port,
        protocol,
        interface=address.interface,
        maxPacketSize=65535,
        reactor=reactor,
    )


def addTimeService(
    top: MultiService, options: Any, reactor: Any, udpPorts: Optional[Set[int]] = None
) -> None:
    """
    Add the time service's listeners to C{top}.

    @param udpPorts: the process's UDP ports, shared by its UDP services.
    """
    idle: Optional[float] = options["idle-timeout"] or None
    factory = TimeLineFactory(reactor, utc=options["utc"], idleTimeout=idle)
    for description, full in options["time-tcp"]:
        endpoint = serverFromString(reactor, full)
        TCPListener(f"TCP {description} (time)", endpoint, factory).setServiceParent(top)
    for description, address in options["time-udp"]:
        limiter = None
        if options["udp-rate"] > 0:
            limiter = RateLimiter(
                options["udp-rate"], max(options["udp-burst"], 1), options["udp-sources"]
            )
        prefixKey = PrefixKey(options["udp-prefix-v4"], options["udp-prefix-v6"])
        protocol = TimeDatagramProtocol(
            reactor, options["utc"], limiter, options["limit-loopback"], prefixKey, udpPorts
        )
        _udpListener("time", description, address, protocol, reactor).setServiceParent(top)


def addChatService(
    top: MultiService, options: Any, reactor: Any, udpPorts: Optional[Set[int]] = None
) -> None:
    """
    Add the chat service's listeners to C{top}: one relay per C{--chat}.

    @param udpPorts: the process's UDP ports, shared by its UDP services.
    """
    for description, address in options["chat-udp"]:
        protocol = ChatProtocol(reactor, udpPorts=udpPorts)
        _udpListener("chat", description, address, protocol, reactor).setServiceParent(top)


def addCommandService(top: MultiService, options: Any, reactor: Any) -> None:
    """
    Add the command service's listeners to C{top}, sharing one factory (so
    the limit on concurrent runs is global).
    """
    if not options["command-tcp"]:
        return
    factory = CommandFactory(
        options["command-allowlist"],
        reactor,
        token=options["command-token"],
        maxConcurrent=options["command-max-runs"],
    )
    for description, full in options["command-tcp"]:
        endpoint = serverFromString(reactor, full)
        TCPListener(f"TCP {description} (command)", endpoint, factory).setServiceParent(top)
