# -*- test-case-name: tests.integration.test_reactor -*-
"""
An epoll reactor that tags legacy log messages at a lower cost per event.

Twisted's reactors run every I/O event inside C{log.callWithLogger}, which
copies the legacy log context (two dictionaries, a thread-local lookup and
a C{logPrefix()} call) so that an old-style C{log.msg} or C{log.err} made
while the event is handled is tagged with the descriptor's prefix.  For a
service whose events are tiny requests that bookkeeping was a third of the
Python time per request (benchmark: tcp-rr with 50 connections).

L{DirectEPollReactor} is Twisted's L{EPollReactor} with that step made
cheaper: one context is pushed per batch of events, and only its C{system}
entry is updated for each event.  What gets logged, and how it is tagged, is
unchanged.

It also takes a TCP connection's log prefix from its C{logstr} attribute
and serves an event that is only readable without C{_doReadOrWrite}'s
general case analysis (two Python calls fewer per event); it listens on TCP
with L{sockservice._fast.accepting.AcceptingPort} (Twisted's port,
accepting at a lower cost) and on UDP with
L{sockservice._fast.datagrams.ReadingDatagramPort} (Twisted's port, reading
at a lower cost); and it answers a request to stop watching a
descriptor it does not watch (Twisted's C{Connection} makes four per
connection as it closes) without Twisted's general search.

It reads the private C{_poller}, C{_selectables}, C{_reads}, C{_writes},
C{_continuousPolling}, C{_doReadOrWrite} and C{_disconnectSelectable} of
Twisted's L{EPollReactor} (and posixbase's C{_NO_FILEDESC}), so it is installed only where
L{sockservice._fast.switch} found them behaving: C{twistd sockservice}
installs it (L{sockservice._fast.switch.install}) unless a reactor was chosen
with C{twistd -r}, and C{twistd -r sockservice-epoll} selects it for any
plugin; with the switch off, both get Twisted's own L{EPollReactor}.
"""

from __future__ import annotations

import socket
import sys
from select import EPOLLIN
from typing import Any, Dict, List, Optional, Tuple

from twisted.internet import error, posixbase, tcp
from twisted.internet.epollreactor import EPollReactor
from twisted.python import context, log

from sockservice._fast.accepting import AcceptingPort
from sockservice._fast.datagrams import ReadingDatagramPort

__all__ = ["DirectEPollReactor"]

#: What C{_doReadOrWrite} disconnects a descriptor whose C{fileno()} is -1 with.
_NO_FILEDESC = getattr(posixbase, "_NO_FILEDESC", None)


def _returnsLogstr(kind: type, logstrTypes: Dict[type, bool]) -> bool:
    """
    Whether C{kind}'s C{logPrefix} is L{tcp.Connection}'s, which returns
    C{self.logstr}; remembered in C{logstrTypes}.
    """
    answer = logstrTypes[kind] = getattr(kind, "logPrefix", None) is tcp.Connection.logPrefix
    return answer


class DirectEPollReactor(EPollReactor):
    """
    L{EPollReactor} that dispatches events without copying the log context.

    @ivar _logstrTypes: for each descriptor class seen, whether its
        C{logPrefix} is L{tcp.Connection}'s.
    """

    def __init__(self) -> None:
        self._logstrTypes: Dict[type, bool] = {}
        super().__init__()

    def doPoll(self, timeout: Optional[float]) -> None:
        """
        Wait for events (at most C{timeout} seconds, or indefinitely) and
        dispatch each to the descriptor it belongs to.
        """
        try:
            events = self._poller.poll(-1 if timeout is None else timeout, len(self._selectables))
        except InterruptedError:
            return
        if events:
            logContext = dict(context.get(log.ILogContext) or {})
            context.call({log.ILogContext: logContext}, self._dispatch, events, logContext)

    doIteration = doPoll

    def _dispatch(self, events: List[Tuple[int, int]], logContext: Dict[str, Any]) -> None:
        """
        Hand each event to its descriptor, with the log context's C{system}
        set to the descriptor's prefix, as C{log.callWithLogger} would.

        Two steps of Twisted's path are taken in line: a TCP connection's
        prefix is its C{logstr} attribute (which its C{logPrefix} returns),
        and an event that is only readable is served as
        C{_doReadOrWrite} serves it.
        """
        selectables = self._selectables
        doReadOrWrite = self._doReadOrWrite
        disconnect = self._disconnectSelectable
        logstrTypes = self._logstrTypes
        for fd, event in events:
            # Subscripts rather than dict.get: no call for the common case.
            try:
                selectable = selectables[fd]
            except KeyError:
                continue  # closed by an earlier event of this batch
            try:
                kind = type(selectable)
                try:
                    direct = logstrTypes[kind]
                except KeyError:
                    direct = _returnsLogstr(kind, logstrTypes)
                if direct:
                    logContext["system"] = selectable.logstr
                else:
                    logContext["system"] = selectable.logPrefix()
            except BaseException:
                logContext["system"] = "(buggy logPrefix method)"
                log.err()
            try:
                if event != EPOLLIN:
                    doReadOrWrite(selectable, fd, event)
                    continue
                # _doReadOrWrite, for an event that is only readable.
                why: Any = None
                inRead = False
                try:
                    if selectable.fileno() == -1:
                        why = _NO_FILEDESC
                    else:
                        why = selectable.doRead()
                        inRead = True
                except BaseException:
                    why = sys.exc_info()[1]
                    log.err()
                if why:
                    disconnect(selectable, why, inRead)
            except KeyboardInterrupt:
                raise
            except BaseException:
                # As callWithLogger: log it as the descriptor's and go on.
                log.err()

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        """
        As Twisted's: listen on TCP C{port}, with an L{AcceptingPort}.
        """
        listening = AcceptingPort(port, factory, backlog, interface, self)
        listening.startListening()
        return listening

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> Any:
        """
        As Twisted's: listen on UDP C{port}, with a L{ReadingDatagramPort}.
        """
        listening = ReadingDatagramPort(port, protocol, interface, maxPacketSize, self)
        listening.startListening()
        return listening

    def adoptDatagramPort(
        self, fileDescriptor: int, addressFamily: int, protocol: Any, maxPacketSize: int = 8192
    ) -> Any:
        """
        As Twisted's: serve UDP on the socket C{fileDescriptor}, with a
        L{ReadingDatagramPort}.
        """
        if addressFamily not in (socket.AF_INET, socket.AF_INET6):
            raise error.UnsupportedAddressFamily(addressFamily)
        listening = ReadingDatagramPort._fromListeningDescriptor(
            self, fileDescriptor, addressFamily, protocol, maxPacketSize=maxPacketSize
        )
        listening.startListening()
        return listening

    def removeReader(self, reader: Any) -> None:
        """
        Stop watching C{reader} for input: nothing to do if it is not
        watched, and no search if it is watched for input alone.
        """
        fd = reader.fileno()
        reads = self._reads
        if fd in reads and fd not in self._writes:
            # Twisted's _remove, for a descriptor watched for input alone.
            del self._selectables[fd]
            self._poller.unregister(fd)
            reads.remove(fd)
        elif fd in reads or fd == -1 or self._continuousPolling._readers:
            EPollReactor.removeReader(self, reader)

    def removeWriter(self, writer: Any) -> None:
        """
        Stop watching C{writer} for writability: nothing to do if it is not
        watched.
        """
        fd = writer.fileno()
        if fd in self._writes or fd == -1 or self._continuousPolling._writers:
            EPollReactor.removeWriter(self, writer)
