# -*- test-case-name: tests.test_selftest -*-
"""
Check that the Twisted internals the speed tricks rely on are there and
behave, by running the tricks themselves on socket pairs.

L{checkWriting} drives an L{ImmediateWriter} over a real
L{twisted.internet.tcp.Connection} on a socket pair, with a stand-in for the
reactor's descriptor set: a write with nothing queued, a write to a full
socket, a close with data queued, a close with nothing queued.
L{checkReactor} builds a throwaway L{DirectEPollReactor} (never run), serves
one batch of events with it and closes it again.  Each raises
L{InternalsChanged} naming what failed; L{checkInternals} runs both and
turns the first failure into a sentence.  No global reactor is touched.
"""

from __future__ import annotations

import inspect
import socket
from typing import Any, List, Optional, Set, Tuple

from twisted.internet import error, main, tcp
from twisted.python import context, log
from twisted.python.failure import Failure

from sockservice._fast.writing import ImmediateWriter, isPlainTCP

__all__ = ["InternalsChanged", "checkInternals", "checkReactor", "checkWriting"]


class InternalsChanged(Exception):
    """
    A Twisted internal that a speed trick relies on is missing or misbehaves.
    """


def _require(condition: object, what: str) -> None:
    if not condition:
        raise InternalsChanged(what)


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


def _connection(
    skt: Any, fds: _DescriptorSet
) -> Tuple[tcp.Connection, _Lost]:
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
        _require(isPlainTCP(connection), "tcp.Connection is not plain TCP")
        writer = ImmediateWriter(connection)

        writer.write(b"now")
        _require(
            _receive(peer) == (b"now", False) and connection not in fds.writers,
            "a write with nothing queued was not sent at once",
        )
        filled = _fill(ours)
        writer.write(b"queued")
        writer.write(b"!")
        _require(
            connection._tempDataLen == 7 and connection in fds.writers,
            "a write to a full socket was not queued (tcp.Connection._tempDataLen)",
        )
        writer.loseConnection()
        _require(
            connection.connected and connection.disconnecting and lost.reason is None,
            "a close with data queued did not wait for it",
        )
        received, _ = _receive(peer)
        why = connection.doWrite()
        _require(
            isinstance(why, error.ConnectionDone),
            "a flushed close did not end the connection",
        )
        connection.connectionLost(Failure(why))  # as the reactor would
        rest, closed = _receive(peer)
        _require(
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
        _require(
            not connection2.connected
            and lost2.reason is not None
            and lost2.reason.check(error.ConnectionDone)
            and connection2 not in fds.readers,
            "a close with nothing queued did not close at once",
        )
        _require(
            "shutdown" not in recording.called,
            "a close with nothing queued called shutdown() "
            "(tcp.Connection._shouldShutdown)",
        )
        _require(
            _receive(peer2) == (b"bye", True),
            "a close with nothing queued lost data or did not close",
        )
    finally:
        for pair in pairs:
            for skt in pair:
                skt.close()


class _Descriptor:
    """
    One end of a socket pair, readable by a reactor, that records the log
    system it was served under and how it ended.
    """

    def __init__(self, prefix: str, readResult: Any = None) -> None:
        self.socket, self.peer = socket.socketpair()
        self.prefix = prefix
        self.readResult = readResult
        self.system: Optional[str] = None
        self.lost: Optional[Failure] = None

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return self.prefix

    def doRead(self) -> Any:
        self.system = context.get(log.ILogContext)["system"]
        self.socket.recv(100)
        return self.readResult

    def connectionLost(self, reason: Failure) -> None:
        self.lost = reason

    def close(self) -> None:
        self.socket.close()
        self.peer.close()


def checkReactor() -> None:
    """
    Serve one batch of events with a throwaway L{DirectEPollReactor}; do
    nothing where there is no epoll.

    @raise InternalsChanged: where it does not behave as on the Twisted
        releases it was written for.
    """
    try:
        from twisted.internet.epollreactor import EPollReactor

        from sockservice._fast.reactor import DirectEPollReactor
    except ImportError:
        return
    _require(
        list(inspect.signature(EPollReactor._doReadOrWrite).parameters)
        == ["self", "selectable", "fd", "event"],
        "EPollReactor._doReadOrWrite(selectable, fd, event) is gone",
    )
    reactor = DirectEPollReactor()
    served = _Descriptor("served")
    ending = _Descriptor("ending", main.CONNECTION_DONE)
    try:
        _require(
            callable(getattr(reactor, "_poller", None) and reactor._poller.poll)
            and isinstance(getattr(reactor, "_selectables", None), dict),
            "EPollReactor has no _poller.poll or no _selectables dict",
        )
        for descriptor in (served, ending):
            reactor.addReader(descriptor)
            descriptor.peer.send(b"x")
        _require(
            reactor._selectables.get(served.fileno()) is served,
            "EPollReactor._selectables does not map descriptors by fd",
        )
        reactor.doPoll(0)
        _require(
            (served.system, ending.system) == ("served", "ending")
            and served.lost is None,
            "the reactor did not serve each event under its descriptor",
        )
        _require(
            ending.lost is not None
            and ending.lost.check(error.ConnectionDone)
            and ending not in reactor.getReaders(),
            "EPollReactor._doReadOrWrite did not disconnect a finished descriptor",
        )
    finally:
        served.close()
        ending.close()
        _closeReactor(reactor)


def _closeReactor(reactor: Any) -> None:
    """
    Close the descriptors of a reactor that was never run (its waker and its
    epoll), even one whose internals are not what L{checkReactor} expected.
    """
    waker = getattr(reactor, "waker", None)
    if waker is not None:
        waker.connectionLost(None)
    poller = getattr(reactor, "_poller", None)
    if poller is not None:
        poller.close()


def checkInternals() -> Optional[str]:
    """
    Run every check.

    @return: L{None} if all pass; otherwise what failed, in a few words.
    """
    for check in (checkWriting, checkReactor):
        try:
            check()
        except InternalsChanged as e:
            return str(e)
        except Exception as e:
            return " ".join(f"{check.__name__}: {e.__class__.__name__}: {e}".split())
    return None
