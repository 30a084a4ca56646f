# -*- test-case-name: tests.test_peer -*-
"""
How a peer is written in messages and logs: C{host:port}, C{[v6addr]:port}.

The one place for it, at the bottom of the package (Twisted and the standard
library only), so that servers and clients name a peer the same way.
"""

from __future__ import annotations

from twisted.internet.interfaces import IAddress

__all__ = ["describePeer", "formatPeer"]


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


def describePeer(address: IAddress) -> str:
    """
    Format the address of a connection's peer.

    @param address: What a transport's C{getPeer} returned.
    @return: L{formatPeer} of its host and port for an IP address, else the
        address as Twisted shows it (a UNIX socket, say).
    """
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if not isinstance(host, str) or not isinstance(port, int):
        return str(address)
    return formatPeer(host, port)
