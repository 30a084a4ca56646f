# -*- test-case-name: tests.test_proxyheader -*-
"""
Tests for L{sockservice.server.proxyheader}: the PROXY protocol header,
versions 1 and 2, parsed from bytes.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.proxyheader import (
    V2_SIGNATURE,
    BadProxyHeader,
    ProxyHeader,
    parseProxyHeader,
)

__all__ = ["v1Header", "v2Header"]


def v1Header(source: str = "192.0.2.7", port: int = 40000) -> bytes:
    """A version 1 header from C{source}:C{port} to 127.0.0.1:12000."""
    kind = "TCP6" if ":" in source else "TCP4"
    destination = "::1" if ":" in source else "127.0.0.1"
    return f"PROXY {kind} {source} {destination} {port} 12000\r\n".encode()


def v2Header(
    source: str = "192.0.2.7", port: int = 40000, command: int = 1, tlvs: bytes = b""
) -> bytes:
    """A version 2 header (C{command} 1: PROXY, 0: LOCAL) over TCP."""
    if ":" in source:
        family, fam = socket.AF_INET6, 0x21
        destination = "::1"
    else:
        family, fam = socket.AF_INET, 0x11
        destination = "127.0.0.1"
    body = (
        socket.inet_pton(family, source)
        + socket.inet_pton(family, destination)
        + struct.pack("!HH", port, 12000)
        + tlvs
    )
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, fam, len(body)) + body


class VersionOneTests(SynchronousTestCase):
    """
    The text header: C{PROXY TCP4 src dst sport dport\\r\\n}.
    """

    def test_ipv4(self) -> None:
        """
        A TCP4 line gives the client's and the destination's addresses, and
        its own length (the client's bytes follow).
        """
        header = v1Header()
        self.assertEqual(
            parseProxyHeader(header + b"hello"),
            ProxyHeader(
                IPv4Address("TCP", "192.0.2.7", 40000),
                IPv4Address("TCP", "127.0.0.1", 12000),
                len(header),
            ),
        )

    def test_ipv6(self) -> None:
        """
        A TCP6 line gives IPv6 addresses, written the canonical way.
        """
        parsed = parseProxyHeader(b"PROXY TCP6 2001:DB8:0::1 ::1 5 6\r\n")
        assert parsed is not None
        self.assertEqual(parsed.source, IPv6Address("TCP", "2001:db8::1", 5))

    def test_unknown(self) -> None:
        """
        C{PROXY UNKNOWN} names no client: the connection's own addresses apply.
        """
        self.assertEqual(parseProxyHeader(b"PROXY UNKNOWN\r\nx"), ProxyHeader(None, None, 15))

    def test_incomplete(self) -> None:
        """
        Every proper prefix of a valid line asks for more bytes.
        """
        header = v1Header()
        for end in range(1, len(header)):
            self.assertIsNone(parseProxyHeader(header[:end]), end)

    def test_malformed(self) -> None:
        """
        Lines that are not valid headers are refused, each with a reason.
        """
        for bad in [
            b"GET / HTTP/1.0\r\n",
            b"ping\n",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 40000\r\n",
            b"PROXY TCP4 example.com 127.0.0.1 1 2\r\n",
            b"PROXY TCP4 ::1 127.0.0.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 70000 2\r\n",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 -1 2\r\n",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 01 2\r\n",
            b"PROXY UDP4 192.0.2.7 127.0.0.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\n",
            b"PROXY " + b"x" * 200,
        ]:
            self.assertRaises(BadProxyHeader, parseProxyHeader, bad)


class VersionTwoTests(SynchronousTestCase):
    """
    The binary header: a 12-byte signature, command, family, length,
    addresses and optional TLVs.
    """

    def test_ipv4(self) -> None:
        """
        A PROXY command over TCP4 gives the client's address, and the
        header's length, TLVs included.
        """
        header = v2Header(tlvs=b"\x04\x00\x01x")
        parsed = parseProxyHeader(header + b"rest")
        self.assertEqual(
            parsed,
            ProxyHeader(
                IPv4Address("TCP", "192.0.2.7", 40000),
                IPv4Address("TCP", "127.0.0.1", 12000),
                len(header),
            ),
        )

    def test_ipv6(self) -> None:
        """
        A PROXY command over TCP6 gives an IPv6 client.
        """
        parsed = parseProxyHeader(v2Header("2001:db8::7", 9))
        assert parsed is not None
        self.assertEqual(parsed.source, IPv6Address("TCP", "2001:db8::7", 9))

    def test_udp(self) -> None:
        """
        A UDP4 family (what nginx sends before a datagram) gives a UDP address.
        """
        header = bytearray(v2Header())
        header[13] = 0x12
        parsed = parseProxyHeader(bytes(header))
        assert parsed is not None
        self.assertEqual(parsed.source, IPv4Address("UDP", "192.0.2.7", 40000))

    def test_local(self) -> None:
        """
        The LOCAL command (the balancer's own health check) names no client.
        """
        header = v2Header(command=0)
        self.assertEqual(parseProxyHeader(header), ProxyHeader(None, None, len(header)))

    def test_unspecified(self) -> None:
        """
        An address family without IP addresses names no client.
        """
        header = V2_SIGNATURE + b"\x21\x00\x00\x00"
        self.assertEqual(parseProxyHeader(header), ProxyHeader(None, None, 16))

    def test_incomplete(self) -> None:
        """
        Every proper prefix of a valid header, split anywhere, asks for more.
        """
        header = v2Header()
        for end in range(1, len(header)):
            self.assertIsNone(parseProxyHeader(header[:end]), end)

    def test_malformed(self) -> None:
        """
        A bad signature, version or command, or addresses longer than the
        stated length, are refused.
        """
        good = v2Header()
        for bad in [
            good[:11] + b"X" + good[12:],
            good[:12] + b"\x11" + good[13:],
            good[:12] + b"\x22" + good[13:],
            good[:14] + b"\x00\x04" + good[16:],
        ]:
            self.assertRaises(BadProxyHeader, parseProxyHeader, bad)
