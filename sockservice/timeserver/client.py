# -*- test-case-name: tests.integration.test_serviceloopback -*-
"""
Clients for the time service: ask for the time in a format, get it back.

Both take the reactor first and return Deferreds; they are the upper-casing
clients of L{sockservice.client} with a format as the request, sent with
L{sockservice.client.calls.oneRequest}. Over UDP the request is resent on
timeout and only the server's address is listened to; over TCP the format is
sent as one line and one line is read. Failures are
L{sockservice.client.errors.ClientError}s.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from sockservice.client.calls import lineClient, oneRequest
from sockservice.client.udp import DatagramClient

__all__ = ["DEFAULT_PORT", "queryTimeTCP", "queryTimeUDP"]

DEFAULT_PORT = 12013
"""The time service's conventional port in the examples (13 is daytime)."""


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
    return oneRequest(DatagramClient(reactor, host, port, timeout, retries), fmt)


def queryTimeTCP(
    reactor: Any, host: str, port: int = DEFAULT_PORT, fmt: bytes = b"", timeout: float = 5.0
) -> Deferred[bytes]:
    """
    Ask a time server over TCP.

    @param fmt: The C{strftime} format (UTF-8, no line break).
    @param timeout: Seconds to wait for the connection, and for the reply.
    @return: A Deferred firing with the reply line.
    """
    return oneRequest(lineClient(reactor, host, port, timeout), fmt)
