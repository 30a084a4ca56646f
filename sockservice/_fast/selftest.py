# -*- test-case-name: tests.test_selftest -*-
"""
Check that the Twisted internals the speed tricks rely on are there and
behave, by running the tricks themselves on socket pairs.

L{checkWriting} drives an L{ImmediateWriter} over a real
L{twisted.internet.tcp.Connection} on a socket pair, with a stand-in for the
reactor's descriptor set: a write with nothing queued, a write to a full
socket, a close with data queued, a close with nothing queued.
L{sockservice._fast.reactorcheck} does the same for the reactor, and
L{sockservice._fast.acceptcheck} for the listening socket and the accept loop.  Each raises
L{InternalsChanged} naming what failed; L{checkInternals} runs both and
turns the first failure into a sentence.  No global reactor is touched.
"""

from __future__ import annotations

import socket
from typing import Any, List, Optional, Set, Tuple

from twisted.internet import error, tcp
from twisted.python.failure import Failure

from sockservice._fast.acceptcheck import checkAccepting, checkConnecting
from sockservice._fast.checks import InternalsChanged, require
from sockservice._fast.connection import checkClosing, checkReading
from sockservice._fast.reactorcheck import checkReactor
from sockservice._fast.writing import ImmediateWriter, isPlainTCP

__all__ = ["InternalsChanged", "checkInternals", "checkWriting"]


class _DescriptorSet:
    """
    The part of L{twisted.internet.interfaces.IReactorFDSet} a connection
    calls, recording instead of polling.
    """

    def __init__(self) -> None:
        self.readers: Set[Any] = set()
        self.writers: Set[Any] = set()

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)

    def addWriter(self, writer: Any) -> None:
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        self.writers.discard(writer)


class _Lost:
    """
    A protocol that records how its connection ended.
    """

    reason: Optional[Failure] = None

    def connectionLost(self, reason: Failure) -> None:
        self.reason = reason


class _RecordingSocket:
    """
    A socket that records the names of the methods called on it.
    """

    def __init__(self, skt: socket.socket) -> None:
        self._socket = skt
        self.called: List[str] = []

    def __getattr__(self, name: str) -> Any:
        self.called.append(name)
        return getattr(self._socket, name)


def _receive(skt: socket.socket) -> Tuple[bytes, bool]:
    """
    Everything C{skt} can read now, and whether its peer has closed.
    """
    skt.setblocking(False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = skt.recv(65536)
        except BlockingIOError:
            return b"".join(chunks), False
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _fill(skt: socket.socket) -> int:
    """
    Send on non-blocking C{skt} until it takes no more; return the count.
    """
    chunk = b"x" * 65536
    total = 0
    for _ in range(4096):
        try:
            total += skt.send(chunk)
        except BlockingIOError:
            return total
    raise InternalsChanged("a socket pair never filled up")


def _connection(skt: Any, fds: _DescriptorSet) -> Tuple[tcp.Connection, _Lost]:
    lost = _Lost()
    connection = tcp.Connection(skt, lost, fds)  # type: ignore[arg-type]
    connection.connected = 1
    connection.startReading()
    return connection, lost


def checkWriting() -> None:
    """
    Run L{ImmediateWriter} on a L{tcp.Connection} over a socket pair.

    @raise InternalsChanged: where it does not behave as on the Twisted
        releases it was written for.
    """
    pairs = [socket.socketpair(), socket.socketpair()]
    try:
        (ours, peer), (ours2, peer2) = pairs
        fds = _DescriptorSet()
        connection, lost = _connection(ours, fds)
        require(isPlainTCP(connection), "tcp.Connection is not plain TCP")
        writer = ImmediateWriter(connection)

        writer.write(b"now")
        require(
            _receive(peer) == (b"now", False) and connection not in fds.writers,
            "a write with nothing queued was not sent at once",
        )
        filled = _fill(ours)
        writer.write(b"queued")
        writer.write(b"!")
        require(
            connection._tempDataLen == 7 and connection in fds.writers,
            "a write to a full socket was not queued (tcp.Connection._tempDataLen)",
        )
        writer.loseConnection()
        require(
            connection.connected and connection.disconnecting and lost.reason is None,
            "a close with data queued did not wait for it",
        )
        received, _ = _receive(peer)
        why = connection.doWrite()
        require(
            isinstance(why, error.ConnectionDone),
            "a flushed close did not end the connection",
        )
        connection.connectionLost(Failure(why))  # as the reactor would
        rest, closed = _receive(peer)
        require(
            received + rest == b"x" * filled + b"queued!"
            and closed
            and lost.reason is not None
            and lost.reason.check(error.ConnectionDone),
            "a close with data queued lost data or did not close",
        )

        connection2, lost2 = _connection(ours2, fds)
        recording = _RecordingSocket(ours2)
        connection2.socket = recording  # type: ignore[assignment]
        writer2 = ImmediateWriter(connection2)
        writer2.write(b"bye")
        writer2.loseConnection()
        require(
            not connection2.connected
            and lost2.reason is not None
            and lost2.reason.check(error.ConnectionDone)
            and connection2 not in fds.readers,
            "a close with nothing queued did not close at once",
        )
        require(
            "shutdown" not in recording.called,
            "a close with nothing queued called shutdown() (tcp.Connection._shouldShutdown)",
        )
        require(
            _receive(peer2) == (b"bye", True),
            "a close with nothing queued lost data or did not close",
        )
    finally:
        for pair in pairs:
            for skt in pair:
                skt.close()


def checkInternals() -> Optional[str]:
    """
    Run every check.

    @return: L{None} if all pass; otherwise what failed, in a few words.
    """
    for check in (
        checkWriting,
        checkReactor,
        checkAccepting,
        checkConnecting,
        checkReading,
        checkClosing,
    ):
        try:
            check()
        except InternalsChanged as e:
            return str(e)
        except Exception as e:
            return " ".join(f"{check.__name__}: {e.__class__.__name__}: {e}".split())
    return None
