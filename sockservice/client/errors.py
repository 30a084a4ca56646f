# -*- test-case-name: tests.test_client -*-
"""
How a client request can fail, in words a person can act on.

Every failure of the client library is a L{ClientError} whose C{str()} is one
line naming the peer and the cause, such as C{connection refused by
127.0.0.1:12000}; C{sockservice-client} prints exactly that line.
"""

from __future__ import annotations

import os

from twisted.internet import error
from twisted.python.failure import Failure

__all__ = [
    "ClientError",
    "ConnectFailed",
    "ConnectionClosed",
    "NoReply",
    "describeConnectFailure",
    "formatPeer",
]


class ClientError(Exception):
    """
    A request could not be completed; C{str()} is one line naming the peer.
    """


class ConnectFailed(ClientError):
    """
    No connection could be made (refused, unresolvable, unreachable, timed out).
    """


class ConnectionClosed(ClientError):
    """
    The server closed or reset the connection before replying.
    """


class NoReply(ClientError):
    """
    The server did not reply in time (after every try, for UDP).
    """


def formatPeer(host: str, port: int) -> str:
    """
    Format a peer the way people write it: C{host:port}, C{[v6addr]:port}.

    @param host: A host name or an IPv4 or IPv6 address.
    @param port: The port number.
    @return: The printable peer.
    """
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _reasonText(value: BaseException) -> str:
    """
    The operating system's words for an error, or Twisted's.
    """
    osError = getattr(value, "osError", None)
    if isinstance(osError, int):
        return os.strerror(osError).lower()
    if isinstance(value, OSError) and value.strerror:
        return value.strerror.lower()
    text = str(value).strip().rstrip(".")
    return text or type(value).__name__


def describeConnectFailure(reason: Failure, host: str, port: int) -> ConnectFailed:
    """
    Turn the failure of a connection attempt into a one-line L{ConnectFailed}.

    @param reason: Why the attempt failed, as an endpoint reports it.
    @param host: The host that was asked for.
    @param port: The port that was asked for.
    @return: The error to report.
    """
    peer = formatPeer(host, port)
    value = reason.value
    if value is None:
        return ConnectFailed(f"cannot connect to {peer}")
    if isinstance(value, error.ConnectionRefusedError):
        return ConnectFailed(f"connection refused by {peer}")
    if isinstance(value, error.DNSLookupError):
        return ConnectFailed(f"cannot resolve host name {host!r}")
    if isinstance(value, (error.TimeoutError, TimeoutError)):
        return ConnectFailed(f"timed out connecting to {peer}")
    return ConnectFailed(f"cannot connect to {peer}: {_reasonText(value)}")
