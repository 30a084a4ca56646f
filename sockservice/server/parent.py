# -*- test-case-name: tests.test_parentwatch, tests.e2e.test_lifecycle -*-
"""
In a C{--workers} process: stop when the parent dies.

A worker whose parent dies without stopping it (C{kill -9}, a crash) would
serve on as an orphan, and a new pool would bind the same port beside it and
silently share the traffic with it.  The parent passes each worker the read
end of a pipe whose write end only the parent holds
(L{sockservice.server.workers}); the worker's L{ParentWatch} reads it through
the reactor, and its end of file means the parent is gone.  (Unlike Linux's
C{PR_SET_PDEATHSIG}, this is portable, needs no C{ctypes}, and is not fooled
by the death of the parent's thread that happened to spawn the worker.)
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from twisted.application.service import Service
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.server.interfaces import IServerReactor

__all__ = ["ParentWatch"]


@implementer(IReadDescriptor)
class _PipeEnd:
    """
    The read end of the parent's pipe, watched by the reactor: it is never
    written to, so it becomes readable only at end of file (or on error).
    """

    def __init__(
        self, fd: int, ended: Callable[[], None], received: Callable[[bytes], None]
    ) -> None:
        self.fd = fd
        self.ended = ended
        self.received = received

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> Optional[Failure]:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return None
        except OSError as e:
            return Failure(e)
        if data:
            self.received(data)
            return None
        return Failure(ConnectionDone())

    def connectionLost(self, reason: Failure) -> None:
        self.ended()

    def logPrefix(self) -> str:
        return "ParentWatch"


class ParentWatch(Service):
    """
    In a worker: stop this process when the parent that started it dies.

    @ivar fd: the descriptor of the pipe from the parent (C{--parent-pipe}).
    """

    log = Logger()

    def __init__(
        self,
        fd: int,
        reactor: IServerReactor,
        stop: Optional[Callable[[], None]] = None,
        received: Optional[Callable[[bytes], None]] = None,
    ) -> None:
        """
        @param stop: what stops this process; C{reactor.stop} by default,
            which stops the services (the listeners at once, then the drain of
            open connections) as SIGTERM would.
        @param received: given what the parent writes on the pipe (its
            requests for counts, L{sockservice.server.snapshots}).
        """
        self.fd = fd
        self.reactor = reactor
        self.stop = reactor.stop if stop is None else stop
        self.received = received if received is not None else lambda data: None
        self._reader: Optional[_PipeEnd] = None

    def startService(self) -> None:
        super().startService()
        os.set_blocking(self.fd, False)
        self._reader = _PipeEnd(self.fd, self._parentGone, self.received)
        self.reactor.addReader(self._reader)

    def _parentGone(self) -> None:
        if self._reader is None:
            return
        self._forget()
        self.log.warn("sockservice: the parent process has gone; stopping this worker")
        self.stop()

    def _forget(self) -> None:
        if self._reader is not None:
            self.reactor.removeReader(self._reader)
            self._reader = None

    def stopService(self) -> None:
        super().stopService()
        self._forget()
