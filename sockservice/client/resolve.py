# -*- test-case-name: tests.test_udpclient -*-
"""
Name resolution for the datagram clients: one IP address for a host.

UDP cannot tell a closed port from a slow server, so a datagram client does
not fall back from one address to the next as L{HostnameEndpoint} does: it
resolves the host once, with L{hostAddress}, and keeps the address it got.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IHostResolution, IResolutionReceiver
from zope.interface import implementer

from sockservice.client.errors import ConnectFailed

__all__ = ["hostAddress"]


@implementer(IResolutionReceiver)
class _Addresses:
    """
    Collects the IP addresses a host name resolves to.
    """

    def __init__(self) -> None:
        self.found: List[str] = []
        self.done: Deferred[List[str]] = Deferred()

    def resolutionBegan(self, resolutionInProgress: IHostResolution) -> None:
        pass

    def addressResolved(self, address: IAddress) -> None:
        host = getattr(address, "host", None)
        if host is not None and host not in self.found:
            self.found.append(host)

    def resolutionComplete(self) -> None:
        self.done.callback(self.found)


async def hostAddress(reactor: Any, host: str, port: int = 0) -> str:
    """
    The IP address to send datagrams to for C{host}: C{host} itself if it is
    an IP address, else the first IPv4 address it resolves to, else the first
    IPv6 one.  IPv4 comes first because the textbook server, and a default
    C{udp:PORT} listener, serve IPv4 only.

    @param reactor: Provides C{nameResolver}.
    @param host: A host name or an IPv4 or IPv6 address.
    @param port: The port, for resolvers that care.
    @return: The address.
    @raise ConnectFailed: If the name has no address.
    """
    if isIPAddress(host) or isIPv6Address(host):
        return host
    receiver = _Addresses()
    reactor.nameResolver.resolveHostName(receiver, host, port, [IPv4Address, IPv6Address], "UDP")
    found = await receiver.done
    if not found:
        raise ConnectFailed(f"cannot resolve host name {host!r}")
    return sorted(found, key=isIPv6Address)[0]
