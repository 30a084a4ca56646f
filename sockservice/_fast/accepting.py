# -*- test-case-name: tests.test_selftest, tests.integration.test_reactor -*-
"""
Accept a TCP connection without the standard library's per-call lookups.

C{socket.socket.accept} wraps the accepted descriptor in a new socket object
made from the listener's C{family} and C{type}, two properties that convert
the socket's numbers to enum members on every call (six Python-level calls
per connection on CPython 3.11).  L{ListeningSocket} remembers those numbers
once; its C{accept} is otherwise the standard library's: the same private
C{_accept} (C{accept4}), the same socket class, the same timeout rule.
L{AcceptingPort} is Twisted's L{tcp.Port} listening on one, whose
connections are L{AcceptedConnection}s: Twisted's L{tcp.Server} with its
C{doRead} and C{_dataReceived} as one method (one Python call fewer per
read).

Only L{sockservice._fast.reactor}'s reactor makes these ports (its
C{listenTCP}), and only where L{sockservice._fast.switch} found them
behaving (L{checkAccepting}, L{checkReading}).
"""

from __future__ import annotations

import os
import socket
from errno import EWOULDBLOCK
from typing import Any, Optional, Tuple

from twisted.internet import main, tcp
from twisted.internet.error import ConnectionDone, ConnectionLost

from sockservice._fast.checks import require

__all__ = [
    "AcceptedConnection",
    "AcceptingPort",
    "ListeningSocket",
    "checkAccepting",
    "checkReading",
]


class ListeningSocket(socket.socket):
    """
    A socket whose L{accept} knows its address family and type already.
    """

    _kind: Tuple[int, int, int]

    def __init__(
        self, family: int = -1, type: int = -1, proto: int = -1, fileno: Optional[int] = None
    ) -> None:
        super().__init__(family, type, proto, fileno)
        self._kind = (int(self.family), int(self.type), self.proto)

    def accept(self) -> Tuple[socket.socket, Any]:
        """
        As C{socket.socket.accept}: a new socket for the connection, and its
        peer's address.
        """
        fd, address = self._accept()  # type: ignore[attr-defined]
        family, kind, proto = self._kind
        connection = socket.socket(family, kind, proto, fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            connection.setblocking(True)
        return connection, address


class AcceptedConnection(tcp.Server):
    """
    Twisted's server-side TCP connection, reading in one method.
    """

    def doRead(self) -> Optional[BaseException]:  # type: ignore[override]
        """
        As L{tcp.Connection.doRead} with L{tcp.Connection._dataReceived}:
        read at most C{bufferSize} bytes and hand them to the protocol.

        @return: L{None}, or why the connection ended.
        """
        try:
            data = self.socket.recv(self.bufferSize)
        except OSError as se:
            if se.args[0] == EWOULDBLOCK:
                return None
            return main.CONNECTION_LOST
        if not data:
            return main.CONNECTION_DONE
        self.protocol.dataReceived(data)
        return None


#: The names L{tcp.Connection}'s C{doRead} uses, on the Twisted releases
#: L{AcceptedConnection.doRead} copies.
_DOREAD_NAMES = {"CONNECTION_LOST", "EWOULDBLOCK", "OSError", "_dataReceived", "args"} | {
    "bufferSize",
    "main",
    "recv",
    "socket",
}

#: The names its C{_dataReceived} uses: Twisted 26 ignores what the
#: protocol's C{dataReceived} returns; Twisted 25 returns it, with a
#: deprecation warning (deprecated since Twisted 11; every protocol here
#: returns L{None}), and L{AcceptedConnection.doRead} ignores it as 26 does.
_DATARECEIVED_NAMES = (
    {"CONNECTION_DONE", "dataReceived", "main", "protocol"},
    {"CONNECTION_DONE", "dataReceived", "main", "protocol", "Version", "deprecate"}
    | {"getDeprecationWarningString", "versions", "warnAboutFunction"},
)


class AcceptingPort(tcp.Port):
    """
    Twisted's TCP port, listening on a L{ListeningSocket}, making
    L{AcceptedConnection}s.
    """

    transport = AcceptedConnection

    def createInternetSocket(self) -> ListeningSocket:
        plain = super().createInternetSocket()
        listening = ListeningSocket(plain.family, plain.type, plain.proto, plain.detach())
        listening.setblocking(False)
        return listening


def checkAccepting() -> None:
    """
    Accept one connection on a L{ListeningSocket} (a UNIX socket in the
    abstract namespace, or a loopback TCP one where there is none) and
    compare it with what C{socket.socket.accept} gives.

    @raise InternalsChanged: where it differs.
    """
    try:
        listening = ListeningSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        name: Any = f"\0sockservice-selftest-{os.getpid()}-{id(listening)}"
    except (AttributeError, OSError):
        listening = ListeningSocket(socket.AF_INET, socket.SOCK_STREAM)
        name = ("127.0.0.1", 0)
    client = socket.socket(listening.family, socket.SOCK_STREAM)
    accepted: Optional[socket.socket] = None
    try:
        listening.bind(name)
        listening.listen(1)
        listening.setblocking(False)
        client.connect(listening.getsockname())
        accepted, _ = listening.accept()
        require(
            type(accepted) is socket.socket
            and (accepted.family, accepted.type, accepted.proto)
            == (listening.family, listening.type, listening.proto)
            and accepted.gettimeout() == socket.getdefaulttimeout(),
            "socket.accept's socket differs from ListeningSocket.accept's",
        )
        client.send(b"x")
        require(accepted.recv(1) == b"x", "ListeningSocket.accept's socket is not connected")
    finally:
        for skt in (accepted, client, listening):
            if skt is not None:
                skt.close()


class _Received:
    """
    A protocol that records what it received.
    """

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)


def checkReading() -> None:
    """
    Check that L{tcp.Connection}'s reading is still what
    L{AcceptedConnection.doRead} copies, and that the copy reads, waits
    and ends as it does, on a socket pair.

    @raise InternalsChanged: where it differs.
    """
    require(
        set(tcp.Connection.doRead.__code__.co_names) == _DOREAD_NAMES
        and set(tcp.Connection._dataReceived.__code__.co_names) in _DATARECEIVED_NAMES,
        "tcp.Connection.doRead or _dataReceived changed",
    )
    ours, peer = socket.socketpair()
    try:
        ours.setblocking(False)
        connection = AcceptedConnection.__new__(AcceptedConnection)
        connection.socket = ours
        connection.protocol = protocol = _Received()  # type: ignore[assignment]
        connection.bufferSize = 4
        waiting = connection.doRead()
        peer.send(b"abcdef")
        read = (connection.doRead(), connection.doRead())
        peer.close()
        ended = connection.doRead()
        ours.close()
        lost = connection.doRead()
        require(
            waiting is None
            and read == (None, None)
            and protocol.received == [b"abcd", b"ef"]
            and isinstance(ended, ConnectionDone)
            and isinstance(lost, ConnectionLost),
            "AcceptedConnection.doRead does not read as tcp.Connection.doRead",
        )
    finally:
        ours.close()
        peer.close()
