# -*- test-case-name: tests.test_tap -*-
"""
Parsing of the C{--tcp} and C{--udp} listen descriptions: pure, no sockets.

A bare port number means all IPv4 interfaces, as the textbook server binds.
TCP takes any Twisted server endpoint description; UDP, which has no
endpoints in Twisted, takes C{udp:PORT[:interface=ADDR]}.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Optional

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import serverFromString
from twisted.python.usage import UsageError

from sockservice.coerce import isDecimal

__all__ = [
    "InetAddress",
    "tcpEndpoint",
    "udpAddress",
    "descriptionKeywords",
    "parseInet",
    "parseTCP",
    "parseUDP",
    "splitDescription",
]

_unescapedColon = re.compile(r"(?<!\\):")
_escaped = re.compile(r"\\(.)")


def splitDescription(description: str) -> list[str]:
    """
    Split an endpoint description at its unescaped colons, as Twisted's
    parser does; escapes are kept (see L{descriptionKeywords}).
    """
    return _unescapedColon.split(description)


def descriptionKeywords(description: str, option: str) -> dict[str, str]:
    """
    The C{key=value} parameters of an endpoint description, unescaped.

    @param option: the option name, for error messages.
    @raise UsageError: when a key is given twice: Twisted would take the
        last, and a check that read the first would be fooled.
    """
    keywords: dict[str, str] = {}
    for field in splitDescription(description)[1:]:
        key, equals, value = field.partition("=")
        if not equals:
            continue
        key = _escaped.sub(r"\1", key)
        if key in keywords:
            raise UsageError(f"{option}: repeated parameter {key!r} in {description!r}")
        keywords[key] = _escaped.sub(r"\1", value)
    return keywords


def _port(text: str, option: str) -> int:
    if not isDecimal(text) or int(text) > 65535:
        raise UsageError(f"{option}: invalid port {text!r} (expected 0-65535)")
    return int(text)


def parseTCP(description: str, backlog: int) -> str:
    """
    Turn a C{--tcp} value into a full server endpoint description.

    A bare port becomes C{tcp:PORT}; C{tcp} and C{tcp6} descriptions (and
    C{haproxy:tcp} ones) get a C{backlog=} unless they name one (Twisted's
    default of 50 makes bursts of connections wait a second for a SYN
    retry).

    @raise UsageError: for an empty description or a bad port number.
    """
    if not description:
        raise UsageError("--tcp: empty endpoint description")
    if isDecimal(description):
        description = f"tcp:{_port(description, '--tcp')}"
    # Behind a balancer too (haproxy:tcp:...).
    kind = description.removeprefix("haproxy:").split(":", 1)[0]
    if kind in ("tcp", "tcp6") and "backlog=" not in description:
        description += f":backlog={backlog}"
    return description


@dataclass(frozen=True)
class InetAddress:
    """
    A simple IP listen address.

    @ivar port: the port number (0: any free port).
    @ivar interface: the address to bind; C{""} is every IPv4 interface, and
        C{"::"} every IPv6 one (and IPv4 too, where the system allows).
    @ivar backlog: the listen backlog, for TCP (L{None}: the default).
    @ivar proxyFrom: for UDP, the balancers whose PROXY headers are
        believed (C{proxyfrom=ADDR[,ADDR...]}; see
        L{sockservice.server.proxiedudp}).
    """

    port: int
    interface: str = ""
    backlog: Optional[int] = None
    proxyFrom: FrozenSet[str] = frozenset()


def parseInet(description: str, option: str, kinds: tuple[str, ...]) -> InetAddress:
    """
    Parse C{PORT} or C{KIND:PORT[:interface=ADDR][:backlog=N]} (UDP:
    C{[:proxyfrom=ADDR,...]} instead of a backlog) for one of C{kinds}
    (C{port=PORT} is accepted too; the colons of an IPv6 address may
    be escaped with a backslash, as in endpoint descriptions, or not).

    @param option: the option name, for error messages.
    @raise UsageError: for anything else.
    """
    if isDecimal(description):
        return InetAddress(_port(description, option))
    kind, _, rest = description.partition(":")
    if kind not in kinds or not rest:
        raise UsageError(
            f"{option}: invalid description {description!r} "
            f"(expected PORT or {kinds[0]}:PORT[:interface=ADDR])"
        )
    port = None
    interface = "::" if kind == "tcp6" else ""
    backlog = None
    proxyFrom: FrozenSet[str] = frozenset()
    fields = splitDescription(rest)
    seen: set[str] = set()
    while fields:
        field = fields.pop(0)
        key, equals, value = field.partition("=")
        if equals and key in seen:
            raise UsageError(f"{option}: repeated parameter {key!r} in {description!r}")
        seen.add(key)
        if not equals and port is None:
            port = key
        elif key == "port" and port is None:
            port = value
        elif key == "interface":
            # An IPv6 address may be written with unescaped colons.
            while fields and "=" not in fields[0]:
                value += ":" + fields.pop(0)
            interface = value.replace("\\:", ":")
        elif key == "backlog" and kind != "udp" and isDecimal(value):
            backlog = int(value)
        elif key == "proxyfrom" and kind == "udp":
            proxyFrom = frozenset(value.replace("\\:", ":").split(","))
            if not all(isIPAddress(a) or isIPv6Address(a) for a in proxyFrom):
                raise UsageError(
                    f"{option}: invalid proxyfrom {value!r} in {description!r} "
                    "(expected IP addresses separated by commas)"
                )
        else:
            raise UsageError(f"{option}: unknown parameter {field!r} in {description!r}")
    if port is None:
        raise UsageError(f"{option}: no port in {description!r}")
    if interface and not (isIPAddress(interface) or isIPv6Address(interface)):
        raise UsageError(
            f"{option}: invalid interface {interface!r} in {description!r} "
            "(expected an IPv4 or IPv6 address)"
        )
    return InetAddress(_port(port, option), interface, backlog, proxyFrom)


def parseUDP(description: str) -> InetAddress:
    """
    Parse a C{--udp} value: C{PORT} or C{udp:PORT[:interface=ADDR]}.

    @raise UsageError: for anything else.
    """
    return parseInet(description, "--udp", ("udp",))


def tcpEndpoint(option: str, description: str, backlog: int) -> str:
    """
    A TCP listen description of option C{option}, as a full server endpoint
    description, checked by Twisted's parser.

    @raise UsageError: naming C{option}, when it is not valid.
    """
    try:
        full = parseTCP(description, backlog)
    except UsageError as e:
        raise UsageError(str(e).replace("--tcp", option, 1)) from None
    descriptionKeywords(full, option)
    try:
        serverFromString(None, full)
    except Exception as e:
        reason = " ".join(str(e).split())  # Twisted's words, on one line
        raise UsageError(f"{option}: invalid endpoint {full!r}: {reason}") from None
    return full


def udpAddress(option: str, description: str) -> InetAddress:
    """
    A UDP listen description of option C{option}: C{PORT} or
    C{udp:PORT[:interface=ADDR]}.

    @raise UsageError: naming C{option}, when it is not valid.
    """
    try:
        return parseUDP(description)
    except UsageError as e:
        raise UsageError(str(e).replace("--udp", option, 1)) from None
