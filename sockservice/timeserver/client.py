# -*- test-case-name: tests.integration.test_serviceloopback -*-
"""
Clients for the time service: ask for the time in a format, get it back.

Both take the reactor first and return Deferreds; they are the upper-casing
clients of L{sockservice.client.calls} with a format as the request. Over UDP the
request is resent on timeout and only the server's address is listened to;
over TCP the format is sent as one line and one line is read. Failures are
L{sockservice.client.errors.ClientError}s.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from twisted.internet.defer import Deferred

from sockservice.client.calls import DatagramClient, lineClient

__all__ = ["DEFAULT_PORT", "hostAddress", "queryTimeTCP", "queryTimeUDP"]

DEFAULT_PORT = 12013
"""The time service's conventional port in the examples (13 is daytime)."""


async def hostAddress(reactor: Any, host: str) -> str:
    """
    @return: C{host} if it is an IP address, else its IPv4 address.
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return str(await reactor.resolve(host))


def queryTimeUDP(
    reactor: Any,
    host: str,
    port: int = DEFAULT_PORT,
    fmt: bytes = b"",
    timeout: float = 2.0,
    retries: int = 2,
) -> Deferred[bytes]:
    """
    Ask a time server over UDP.

    @param fmt: The C{strftime} format (UTF-8); empty for the server's default.
    @param timeout: Seconds to wait for a reply before sending again.
    @param retries: How many times to send again before giving up.
    @return: A Deferred firing with the reply (the time, or C{error: ...}).
    """

    async def query() -> bytes:
        client = DatagramClient(reactor, host, port, timeout, retries)
        try:
            return await client.request(fmt)
        finally:
            await client.close()

    return Deferred.fromCoroutine(query())


def queryTimeTCP(
    reactor: Any, host: str, port: int = DEFAULT_PORT, fmt: bytes = b"", timeout: float = 5.0
) -> Deferred[bytes]:
    """
    Ask a time server over TCP.

    @param fmt: The C{strftime} format (UTF-8, no line break).
    @param timeout: Seconds to wait for the connection, and for the reply.
    @return: A Deferred firing with the reply line.
    """

    async def query() -> bytes:
        client = lineClient(reactor, host, port, timeout)
        try:
            return await client.request(fmt)
        finally:
            await client.close()

    return Deferred.fromCoroutine(query())
