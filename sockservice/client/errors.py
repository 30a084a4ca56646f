# -*- test-case-name: tests.test_client -*-
"""
How a client request can fail, in words a person can act on.

Every failure of the client library is a L{ClientError} whose C{str()} is one
line naming the peer and the cause, such as C{connection refused by
127.0.0.1:12000}; C{sockservice-client} prints exactly that line.  The
functions here are the one place where those words are chosen, for the
uppercase clients and the service clients alike.
"""

from __future__ import annotations

import os
from typing import Optional

from twisted.internet import error
from twisted.python.failure import Failure

from sockservice.peer import formatPeer

__all__ = [
    "ClientError",
    "ConnectFailed",
    "ConnectionClosed",
    "NoReply",
    "describeConnectFailure",
    "describeError",
    "describeLoss",
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


def _describeCommon(value: BaseException, host: str, port: int) -> Optional[ConnectFailed]:
    """
    The words for a refused connection or an unknown host name, wherever
    they happen.
    """
    if isinstance(value, error.ConnectionRefusedError):
        return ConnectFailed(f"connection refused by {formatPeer(host, port)}")
    if isinstance(value, error.DNSLookupError):
        return ConnectFailed(f"cannot resolve host name {host!r}")
    return None


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
    common = _describeCommon(value, host, port)
    if common is not None:
        return common
    if isinstance(value, (error.TimeoutError, TimeoutError)):
        return ConnectFailed(f"timed out connecting to {peer}")
    return ConnectFailed(f"cannot connect to {peer}: {_reasonText(value)}")


def describeLoss(reason: Failure, host: str, port: int) -> ConnectionClosed:
    """
    Say how a connection went away before the reply came.

    @param reason: Why the connection was lost.
    @param host: The server's host, as the user named it.
    @param port: The server's port.
    @return: The error to report.
    """
    peer = formatPeer(host, port)
    if isinstance(reason.value, error.ConnectionDone):
        return ConnectionClosed(f"connection closed by {peer} before replying")
    return ConnectionClosed(f"connection to {peer} lost before replying")


def describeError(value: BaseException, host: str, port: int) -> ClientError:
    """
    Turn any error of an exchange with a server into a one-line
    L{ClientError} (a L{ClientError} is returned as it is).

    @param value: The error.
    @param host: The server's host, as the user named it.
    @param port: The server's port.
    @return: The error to report.
    """
    if isinstance(value, ClientError):
        return value
    common = _describeCommon(value, host, port)
    if common is not None:
        return common
    peer = formatPeer(host, port)
    if isinstance(value, (error.TimeoutError, TimeoutError)):
        return NoReply(f"no reply from {peer} (timed out)")
    if isinstance(value, error.ConnectionDone):
        return describeLoss(Failure(value), host, port)
    return ClientError(f"cannot talk to {peer}: {value}")
