# -*- test-case-name: tests.test_selftest -*-
"""
Check that L{sockservice._fast.reactor}'s reactor works on this Twisted:
L{checkReactor} builds a throwaway L{DirectEPollReactor} (never run), serves
one batch of events with it and closes it again, and checks its UDP port
(L{sockservice._fast.datagrams.checkDatagrams}).  No global reactor is
touched.
"""

from __future__ import annotations

import inspect
import socket
from typing import Any, Optional

from twisted.internet import error, main, tcp
from twisted.python import context, log
from twisted.python.failure import Failure

from sockservice._fast.checks import require
from sockservice._fast.datagrams import checkDatagrams

__all__ = ["checkReactor", "closeReactor"]


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
    require(
        list(inspect.signature(EPollReactor._doReadOrWrite).parameters)
        == ["self", "selectable", "fd", "event"],
        "EPollReactor._doReadOrWrite(selectable, fd, event) is gone",
    )
    from sockservice._fast.reactor import _NO_FILEDESC

    require(
        isinstance(_NO_FILEDESC, error.ConnectionFdescWentAway)
        and list(inspect.signature(EPollReactor._disconnectSelectable).parameters)[:4]
        == ["self", "selectable", "why", "isRead"],
        "posixbase._NO_FILEDESC or _disconnectSelectable(selectable, why, isRead) is gone",
    )
    checkDatagrams()
    probe = tcp.Connection.__new__(tcp.Connection)
    probe.logstr = "probe"
    require(probe.logPrefix() == "probe", "tcp.Connection.logPrefix() is not its logstr")
    reactor = DirectEPollReactor()
    served = _Descriptor("served")
    ending = _Descriptor("ending", main.CONNECTION_DONE)
    try:
        require(
            callable(getattr(reactor, "_poller", None) and reactor._poller.poll)
            and isinstance(getattr(reactor, "_selectables", None), dict),
            "EPollReactor has no _poller.poll or no _selectables dict",
        )
        for descriptor in (served, ending):
            reactor.addReader(descriptor)
            descriptor.peer.send(b"x")
        require(
            reactor._selectables.get(served.fileno()) is served,
            "EPollReactor._selectables does not map descriptors by fd",
        )
        reactor.doPoll(0)
        require(
            (served.system, ending.system) == ("served", "ending") and served.lost is None,
            "the reactor did not serve each event under its descriptor",
        )
        require(
            ending.lost is not None
            and ending.lost.check(error.ConnectionDone)
            and ending not in reactor.getReaders()
            and ending.fileno() not in reactor._selectables,
            "EPollReactor._doReadOrWrite did not disconnect a finished descriptor",
        )
        polling = getattr(reactor, "_continuousPolling", None)
        require(
            isinstance(getattr(reactor, "_reads", None), set)
            and isinstance(getattr(reactor, "_writes", None), set)
            and isinstance(getattr(polling, "_readers", None), set)
            and isinstance(getattr(polling, "_writers", None), set),
            "EPollReactor has no _reads and _writes sets or _continuousPolling lost its sets",
        )
        reactor.addWriter(served)
        reactor.removeReader(served)
        reactor.removeReader(served)
        require(
            reactor.getReaders() == [reactor.waker] and reactor.getWriters() == [served],
            "EPollReactor.removeReader did not stop reading alone",
        )
        reactor.removeWriter(served)
        reactor.removeWriter(served)
        require(
            not reactor.getWriters() and served.fileno() not in reactor._selectables,
            "EPollReactor.removeWriter did not forget a descriptor",
        )
    finally:
        served.close()
        ending.close()
        closeReactor(reactor)


def closeReactor(reactor: Any) -> None:
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
