"""
The uppercase client library: L{uppercaseTCP} and L{uppercaseUDP} for one
request, L{LineClient} and L{DatagramClient} for many, and the
L{ClientError}s they fail with.  See L{sockservice.client.calls}.
"""

from sockservice.client.calls import lineClient, uppercaseTCP, uppercaseUDP
from sockservice.client.errors import ClientError, ConnectFailed, ConnectionClosed, NoReply
from sockservice.client.lineprotocol import LineClientProtocol
from sockservice.client.tcp import LineClient
from sockservice.client.udp import DatagramClient, DatagramClientProtocol
from sockservice.peer import formatPeer

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
