# -*- test-case-name: tests.test_client -*-
"""
The client library's calls: ask a sockservice (or the textbook server) to
upper-case, with L{uppercaseTCP} and L{uppercaseUDP}; L{lineClient} makes a
TCP client for a host and port; L{oneRequest} sends one request and closes.

    >>> reply = await uppercaseTCP(reactor, "127.0.0.1", 12000, "hello")
    >>> reply = await uppercaseUDP(reactor, "::1", 12000, "hello", retries=5)

Both take the reactor first and return a L{Deferred}. Give them C{str} and
they reply with C{str} (UTF-8, with C{surrogateescape} so that any bytes
survive); give them C{bytes} and they reply with C{bytes}. Failures are
L{ClientError}s whose message is one line naming the server and the cause.

For many requests, keep one L{LineClient} or L{DatagramClient} and call its
C{request} method; L{LineClient} pipelines them over one connection.
L{oneRequest} is the one-request-then-close step the calls share (and the
time client uses with its own requests).
"""

from __future__ import annotations

from typing import Any, Protocol, Union, overload

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint

from sockservice.client.tcp import LineClient
from sockservice.client.udp import DatagramClient

__all__ = ["Requester", "lineClient", "oneRequest", "uppercaseTCP", "uppercaseUDP"]

Text = Union[str, bytes]


class Requester(Protocol):
    """
    A client that answers requests one by one and can be closed: a
    L{LineClient} or a L{DatagramClient}.
    """

    def request(self, payload: bytes) -> Deferred[bytes]: ...

    def close(self) -> Deferred[None]: ...


def _encode(text: Text) -> bytes:
    if isinstance(text, bytes):
        return text
    return text.encode("utf-8", "surrogateescape")


def _decodedLike(original: Text, reply: Deferred[bytes]) -> Deferred[Any]:
    """
    @return: C{reply}, decoded to C{str} if C{original} is one.
    """
    if isinstance(original, bytes):
        return reply
    return reply.addCallback(lambda data: data.decode("utf-8", "surrogateescape"))


def lineClient(
    reactor: Any,
    host: str,
    port: int,
    timeout: float = 10.0,
    retries: int = 0,
    window: int = 64,
) -> LineClient:
    """
    A L{LineClient} reaching C{host} through a L{HostnameEndpoint}, so that
    host names, IPv4 and IPv6 addresses all work.

    @param reactor: The reactor.
    @param host: A host name or an IPv4 or IPv6 address.
    @param port: The server's TCP port.
    @param timeout: Seconds to wait for a connection, and for each reply.
    @param retries: How many more times to try connecting after a failure.
    @param window: How many requests may wait on the connection at once.
    @return: A client that connects when it has something to send.
    """
    endpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    return LineClient(reactor, endpoint, host, port, timeout, retries, window)


@overload
def uppercaseTCP(
    reactor: Any, host: str, port: int, text: str, timeout: float = ...
) -> Deferred[str]: ...


@overload
def uppercaseTCP(
    reactor: Any, host: str, port: int, text: bytes, timeout: float = ...
) -> Deferred[bytes]: ...


def uppercaseTCP(
    reactor: Any, host: str, port: int, text: Text, timeout: float = 10.0
) -> Deferred[Any]:
    """
    Ask a TCP server to upper-case one line.

    The request is C{text} and a newline; the reply is what comes back up to
    the next newline, or up to the server closing the connection.

    @param reactor: The reactor.
    @param host: A host name or an IPv4 or IPv6 address.
    @param port: The server's TCP port.
    @param text: The request, without a newline.
    @param timeout: Seconds to wait for the connection, and for the reply.
    @return: Fires with the reply, of the same type as C{text}.
    """
    return _decodedLike(text, oneRequest(lineClient(reactor, host, port, timeout), _encode(text)))


@overload
def uppercaseUDP(
    reactor: Any,
    host: str,
    port: int,
    text: str,
    timeout: float = ...,
    retries: int = ...,
) -> Deferred[str]: ...


@overload
def uppercaseUDP(
    reactor: Any,
    host: str,
    port: int,
    text: bytes,
    timeout: float = ...,
    retries: int = ...,
) -> Deferred[bytes]: ...


def uppercaseUDP(
    reactor: Any,
    host: str,
    port: int,
    text: Text,
    timeout: float = 1.0,
    retries: int = 2,
) -> Deferred[Any]:
    """
    Ask a UDP server to upper-case one datagram.

    The payload is C{text} as it is (no newline); only a datagram from the
    server's address counts as the reply.

    @param reactor: The reactor.
    @param host: A host name or an IPv4 or IPv6 address.
    @param port: The server's UDP port.
    @param text: The request.
    @param timeout: Seconds to wait for a reply before sending again.
    @param retries: How many times to send again before giving up.
    @return: Fires with the reply, of the same type as C{text}.
    """
    client = DatagramClient(reactor, host, port, timeout, retries)
    return _decodedLike(text, oneRequest(client, _encode(text)))


def oneRequest(client: Requester, request: bytes) -> Deferred[bytes]:
    """
    Send one request on C{client} and close it, whatever happens.

    @param client: A fresh client, used for this request only.
    @param request: The request, as bytes.
    @return: Fires with the reply once the client is closed, or fails with
        the request's error.
    """

    async def exchange() -> bytes:
        try:
            return await client.request(request)
        finally:
            await client.close()

    return Deferred.fromCoroutine(exchange())
