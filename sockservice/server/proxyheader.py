# -*- test-case-name: tests.test_proxyheader -*-
"""
The PROXY protocol header (versions 1 and 2) that a load balancer such as
HAProxy sends first on each connection it opens to a server, naming the
client it relays: pure parsing, no sockets.

Twisted parses it too (C{twisted.protocols.haproxy}), but privately, and only
inside a wrapper that builds the service's protocol before the header has
arrived; L{sockservice.server.proxied} needs the address first.

See U{https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt}.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Optional, Union

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.address import IPv4Address, IPv6Address

__all__ = [
    "BadProxyHeader",
    "MAX_V1_LENGTH",
    "ProxyHeader",
    "V2_SIGNATURE",
    "parseProxyHeader",
]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
"""The twelve bytes that open a version 2 header."""

MAX_V1_LENGTH = 107
"""The longest version 1 header, its CRLF included."""

_V1_PREFIX = b"PROXY "
_V2_FAMILIES = {
    # family and transport byte: (address family, address type, address length)
    0x11: (socket.AF_INET, "TCP", 4),
    0x12: (socket.AF_INET, "UDP", 4),
    0x21: (socket.AF_INET6, "TCP", 16),
    0x22: (socket.AF_INET6, "UDP", 16),
}

Address = Union[IPv4Address, IPv6Address]


class BadProxyHeader(ValueError):
    """
    The bytes received are not a valid PROXY header (the message says why).
    """


@dataclass(frozen=True)
class ProxyHeader:
    """
    A parsed PROXY header.

    @ivar source: the client the balancer relays; L{None} when the header
        names none (version 2 C{LOCAL}, the balancer's own health check, or
        version 1 C{UNKNOWN}): the connection's own addresses then apply.
    @ivar destination: the address the client connected to, or L{None}.
    @ivar length: how many bytes the header took; what follows is the
        client's.
    """

    source: Optional[Address]
    destination: Optional[Address]
    length: int


def parseProxyHeader(data: bytes) -> Optional[ProxyHeader]:
    """
    Parse the PROXY header at the start of C{data}.

    @return: the header, or L{None} when C{data} is a valid but incomplete
        start of one (wait for more bytes).
    @raise BadProxyHeader: when C{data} cannot start a valid header.
    """
    start = data[:12]
    if V2_SIGNATURE.startswith(start) and (len(start) > 0):
        if len(data) < 16:
            return None
        return _parseV2(data)
    if _V1_PREFIX.startswith(data[:6]) and data:
        return _parseV1(data)
    raise BadProxyHeader("no PROXY header")


def _parseV1(data: bytes) -> Optional[ProxyHeader]:
    end = data.find(b"\r\n", 0, MAX_V1_LENGTH)
    if end < 0:
        if len(data) >= MAX_V1_LENGTH or b"\n" in data:
            raise BadProxyHeader("PROXY v1 line too long or not ended by CRLF")
        return None
    fields = data[:end].decode("ascii", "replace").split(" ")
    length = end + 2
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return ProxyHeader(None, None, length)
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise BadProxyHeader("malformed PROXY v1 line")
    valid = isIPAddress if fields[1] == "TCP4" else isIPv6Address
    if not (valid(fields[2]) and valid(fields[3])):
        raise BadProxyHeader("malformed address in PROXY v1 line")
    kind = IPv4Address if fields[1] == "TCP4" else IPv6Address
    return ProxyHeader(
        kind("TCP", _normal(fields[2]), _v1Port(fields[4])),
        kind("TCP", _normal(fields[3]), _v1Port(fields[5])),
        length,
    )


def _normal(host: str) -> str:
    if ":" not in host:
        return host
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))


def _v1Port(text: str) -> int:
    if not (text.isdigit() and text.isascii()) or int(text) > 65535:
        raise BadProxyHeader("malformed port in PROXY v1 line")
    if len(text) > 1 and text[0] == "0":
        raise BadProxyHeader("malformed port in PROXY v1 line")
    return int(text)


def _parseV2(data: bytes) -> Optional[ProxyHeader]:
    if data[:12] != V2_SIGNATURE:
        raise BadProxyHeader("no PROXY header")
    versionCommand, family, size = struct.unpack("!BBH", data[12:16])
    if versionCommand >> 4 != 2 or versionCommand & 0x0F not in (0, 1):
        raise BadProxyHeader("unknown PROXY v2 version or command")
    length = 16 + size
    if len(data) < length:
        return None
    if versionCommand & 0x0F == 0 or family not in _V2_FAMILIES:
        # LOCAL (a health check), or an address family without IP
        # addresses (UNSPEC, UNIX): use the connection's own.
        return ProxyHeader(None, None, length)
    addressFamily, kind, width = _V2_FAMILIES[family]
    if size < 2 * width + 4:
        raise BadProxyHeader("PROXY v2 addresses truncated")
    body = data[16 : 16 + 2 * width + 4]
    source = socket.inet_ntop(addressFamily, body[:width])
    destination = socket.inet_ntop(addressFamily, body[width : 2 * width])
    sourcePort, destinationPort = struct.unpack("!HH", body[2 * width :])
    make = IPv4Address if addressFamily == socket.AF_INET else IPv6Address
    return ProxyHeader(
        make(kind, source, sourcePort),  # type: ignore[arg-type]
        make(kind, destination, destinationPort),  # type: ignore[arg-type]
        length,
    )
