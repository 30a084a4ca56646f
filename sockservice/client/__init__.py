"""
The uppercase client library: L{uppercaseTCP} and L{uppercaseUDP} for one
request, L{LineClient} and L{DatagramClient} for many, and the
L{ClientError}s they fail with.  See L{sockservice.client.calls}.
"""

from sockservice.client.calls import (
    ClientError,
    ConnectFailed,
    ConnectionClosed,
    DatagramClient,
    DatagramClientProtocol,
    LineClient,
    LineClientProtocol,
    NoReply,
    formatPeer,
    lineClient,
    uppercaseTCP,
    uppercaseUDP,
)

__all__ = [
    "ClientError",
    "ConnectFailed",
    "ConnectionClosed",
    "DatagramClient",
    "DatagramClientProtocol",
    "LineClient",
    "LineClientProtocol",
    "NoReply",
    "formatPeer",
    "lineClient",
    "uppercaseTCP",
    "uppercaseUDP",
]
