# -*- test-case-name: tests.test_selftest, tests.integration.test_reactor -*-
"""
Twisted's server-side TCP connection, with its common events in fewer calls.

L{AcceptedConnection} is Twisted's L{tcp.Server} with three paths taken in
line, each only in the case it copies and otherwise Twisted's own:
  - C{doRead} and C{_dataReceived} as one method;
  - the end of the input (the peer's FIN) handed straight to a protocol that
    provides L{IHalfCloseableProtocol}, as the reactor's
    C{_disconnectSelectable} and C{Connection.readConnectionLost} would, less
    their calls, the interface adaptation and the reactor's C{removeReader};
  - C{connectionLost} for the orderly close of L{ImmediateWriter}'s
    C{loseConnection} (the shared C{CONNECTION_DONE} failure, no producer, no
    C{shutdown()}): the steps of C{Connection}'s and C{FileDescriptor}'s
    C{connectionLost} and of C{socket.close} in one method.
Only L{sockservice._fast.accepting.AcceptingPort} makes these connections,
where L{sockservice._fast.switch} found them behaving (L{checkReading},
L{checkClosing}).
"""

from __future__ import annotations

import socket
from errno import EWOULDBLOCK
from typing import Any, Dict, Optional

from twisted.internet import main, tcp
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.python import log
from twisted.python.failure import Failure

from sockservice._fast.checks import require
from sockservice._fast.writing import _DONE

__all__ = ["AcceptedConnection", "checkClosing", "checkReading"]

#: C{socket.socket.close} less its two Python calls: the C method that
#: C{_real_close} calls.
_closeSocket = socket.socket.__mro__[1].close  # type: ignore[attr-defined]

#: For each protocol class: whether its instances provide
#: L{IHalfCloseableProtocol} (a class's declaration cannot be taken back).
_halfCloseable: Dict[type, bool] = {}


class AcceptedConnection(tcp.Server):
    """
    Twisted's server-side TCP connection, reading, ending its input and
    closing in fewer calls.
    """

    def doRead(self) -> Optional[BaseException]:  # type: ignore[override]
        """
        As L{tcp.Connection.doRead} with L{tcp.Connection._dataReceived}:
        read at most C{bufferSize} bytes and hand them to the protocol; at
        the end of the input, tell a half-closeable protocol at once.

        @return: L{None}, or why the connection ended.
        """
        try:
            data = self.socket.recv(self.bufferSize)
        except OSError as se:
            if se.args[0] == EWOULDBLOCK:
                return None
            return main.CONNECTION_LOST
        if data:
            self.protocol.dataReceived(data)
            return None
        protocol = self.protocol
        kind = type(protocol)
        half = _halfCloseable.get(kind)
        if half is None:
            half = _halfCloseable[kind] = IHalfCloseableProtocol.implementedBy(kind)
        if not half:
            return main.CONNECTION_DONE  # the reactor's general path
        # The reactor's _disconnectSelectable for CONNECTION_DONE after a
        # read, and Connection.readConnectionLost, for this protocol; the
        # epoll reactor's removeReader in line for a descriptor watched for
        # input alone (DirectEPollReactor.removeReader).
        reactor: Any = self.reactor
        try:
            fd = self.socket.fileno()
            reads = reactor._reads
            if fd in reads and fd not in reactor._writes:
                del reactor._selectables[fd]
                reactor._poller.unregister(fd)
                reads.remove(fd)
            else:
                reactor.removeReader(self)
        except AttributeError:  # another reactor
            reactor.removeReader(self)
        try:
            protocol.readConnectionLost()  # type: ignore[attr-defined]
        except BaseException:
            log.err()
            self.connectionLost(Failure())
        return None

    def connectionLost(self, reason: Failure) -> None:
        """
        As L{tcp.Connection.connectionLost}; in one method for an orderly
        close with nothing queued and no producer (what
        L{ImmediateWriter.loseConnection} does), which needs no
        C{shutdown()}.
        """
        if reason is not _DONE or self.producer is not None or self._shouldShutdown:
            tcp.Server.connectionLost(self, reason)
            return
        try:  # not self.__dict__, which CPython 3.11 would make a dict of
            skt: Any = self.socket
        except AttributeError:
            return  # called twice (see Connection.connectionLost)
        # FileDescriptor.connectionLost
        self.disconnected = 1
        self.connected = 0
        reactor: Any = self.reactor
        try:
            # Nothing to stop watching, as after the end of the input: the
            # epoll reactor's removeReader and removeWriter would do nothing.
            fd = skt.fileno()
            polling = reactor._continuousPolling
            watched = (
                fd in reactor._reads
                or fd in reactor._writes
                or polling._readers
                or polling._writers
            )
        except AttributeError:  # another reactor
            watched = True
        if watched:
            reactor.removeReader(self)
            reactor.removeWriter(self)
        # _closeSocket(orderly=True) without shutdown, and socket.close.
        skt._closed = True
        if skt._io_refs <= 0:
            _closeSocket(skt)
        protocol = self.protocol
        del self.protocol
        del self.socket
        del self.fileno
        protocol.connectionLost(reason)


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

#: The names of what L{AcceptedConnection.connectionLost} copies:
#: C{Connection.connectionLost}, C{FileDescriptor.connectionLost},
#: C{socket.socket.close}.
_CLOSE_NAMES = (
    {"ConnectionAborted", "FileDescriptor", "_closeSocket", "abstract", "check", "error"}
    | {"connectionLost", "fileno", "hasattr", "protocol", "socket"},
    {"connected", "disconnected", "producer", "stopProducing", "stopReading", "stopWriting"},
    {"_closed", "_io_refs", "_real_close"},
)


class _Received:
    """
    A protocol that records what it received, and how its input and its
    connection ended.
    """

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.ended: list[str] = []

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def readConnectionLost(self) -> None:
        self.ended.append("read")

    def connectionLost(self, reason: Failure) -> None:
        self.ended.append(type(reason.value).__name__)


class _Watched:
    """The reactor calls a connection makes as it closes, recorded."""

    def __init__(self) -> None:
        self.removed: list[str] = []

    def removeReader(self, reader: Any) -> None:
        self.removed.append("reader")

    def removeWriter(self, writer: Any) -> None:
        self.removed.append("writer")


def _connection(ours: socket.socket, protocol: Any, watched: Any) -> AcceptedConnection:
    connection = AcceptedConnection.__new__(AcceptedConnection)
    connection.__dict__.update(socket=ours, fileno=ours.fileno, reactor=watched, protocol=protocol)
    return connection


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
        connection = _connection(ours, None, _Watched())
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


def checkClosing() -> None:
    """
    Check that what L{AcceptedConnection} copies of Twisted's end of the
    input and close is unchanged, and that a half-closeable protocol's
    connection, on a socket pair, ends its input and closes as Twisted's.

    @raise InternalsChanged: where it differs.
    """
    from twisted.internet.abstract import FileDescriptor

    copied = (tcp.Connection.connectionLost, FileDescriptor.connectionLost, socket.socket.close)
    require(
        [set(f.__code__.co_names) for f in copied] == list(_CLOSE_NAMES)
        and set(socket.socket._real_close.__code__.co_names) == {"close"}  # type: ignore[attr-defined]
        and tcp.Server.connectionLost is tcp.Connection.connectionLost,
        "tcp.Connection.connectionLost or socket.close changed",
    )
    ours, peer = socket.socketpair()
    try:
        ours.setblocking(False)
        watched = _Watched()
        protocol = _Received()
        IHalfCloseableProtocol.implementedBy(_Received)  # not declared: general path
        connection = _connection(ours, protocol, watched)
        peer.close()
        require(
            isinstance(connection.doRead(), ConnectionDone) and protocol.ended == [],
            "AcceptedConnection.doRead ended the input of a protocol that is not half-closeable",
        )
        _halfCloseable[_Received] = True  # as if it provided IHalfCloseableProtocol
        try:
            connection.doRead()
        finally:
            del _halfCloseable[_Received]
        connection._shouldShutdown = False
        connection.connectionLost(_DONE)
        require(
            protocol.ended == ["read", "ConnectionDone"]
            and watched.removed == ["reader", "reader", "writer"]
            and ours.fileno() == -1
            and connection.disconnected
            and not connection.connected
            and not hasattr(connection, "protocol"),
            "AcceptedConnection does not end its input and close as tcp.Connection",
        )
    finally:
        ours.close()
        peer.close()
