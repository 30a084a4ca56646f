# -*- test-case-name: tests.test_snapshots -*-
"""
With C{--workers N} and C{--metrics}: the parent's C{/metrics} asks every
worker for its counts.

The parent writes a request, C{SEQ\\n}, on the pipe it already passes each
worker (whose end of file tells the worker that the parent is gone,
L{sockservice.server.parent}); the worker answers C{SEQ SNAPSHOT\\n} on a
pipe of its own (C{--metrics-pipe}), where SNAPSHOT is one line of JSON
(L{snapshotToJSON}).  The sequence number matches each answer to its
request, so an answer that comes after the parent stopped waiting for it
(L{SnapshotRequests.ask}'s timeout) is ignored, not taken for the next one.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Optional

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from sockservice.server.counters import Snapshot, snapshotFromJSON, snapshotToJSON

__all__ = ["SnapshotAnswers", "SnapshotRequests", "gatherSnapshots"]

#: Seconds the parent waits for a worker's answer.
TIMEOUT = 1.0

#: The longest answer line taken (a snapshot is a few kilobytes).
MAX_LINE = 1 << 20


class SnapshotRequests:
    """
    The parent's side, for one worker: ask, and match the answers.
    """

    log = Logger()

    def __init__(self, write: Callable[[bytes], None], clock: IReactorTime) -> None:
        """
        @param write: writes to the worker's request pipe.
        @param clock: times out the answers.
        """
        self.write = write
        self.clock = clock
        self._next = 0
        self._waiting: Dict[int, Deferred[Optional[Snapshot]]] = {}
        self._buffer = b""

    def ask(self, timeout: float = TIMEOUT) -> Deferred[Optional[Snapshot]]:
        """
        @return: a L{Deferred} firing with the worker's snapshot, or with
            L{None} if it does not answer within C{timeout} seconds.
        """
        self._next += 1
        seq = self._next

        def forget(_: object) -> None:
            self._waiting.pop(seq, None)

        d: Deferred[Optional[Snapshot]] = Deferred(forget)
        self._waiting[seq] = d
        try:
            self.write(b"%d\n" % (seq,))
        except Exception:
            self._waiting.pop(seq, None)
            return succeed(None)
        d.addTimeout(timeout, self.clock, onTimeoutCancel=lambda result, timeout: None)
        return d

    def dataReceived(self, data: bytes) -> None:
        """
        Bytes from the worker's answer pipe: fire the L{Deferred} of each
        whole answer.
        """
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            seq, _, body = line.partition(b" ")
            d = self._waiting.pop(int(seq), None) if seq.isdigit() else None
            if d is None:
                continue
            try:
                snapshot: Optional[Snapshot] = snapshotFromJSON(body)
            except ValueError:
                self.log.warn(
                    "sockservice: a worker sent counts that do not parse", event="worker_bad_counts"
                )
                snapshot = None
            d.callback(snapshot)
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""

    def lost(self) -> None:
        """
        The worker is gone: every answer still awaited is L{None}.
        """
        waiting, self._waiting = self._waiting, {}
        for d in waiting.values():
            d.callback(None)


def gatherSnapshots(
    requests: Dict[int, Optional[SnapshotRequests]], timeout: float = TIMEOUT
) -> Deferred[Dict[int, Optional[Snapshot]]]:
    """
    Ask every worker at once.

    @param requests: by worker index, its L{SnapshotRequests} (L{None}
        for a worker not running now).
    @return: a L{Deferred} firing with each worker's snapshot by index
        (L{None} for one that did not answer in time).
    """
    indexes = sorted(requests)
    asked: list[Deferred[Optional[Snapshot]]] = []
    for i in indexes:
        request = requests[i]
        asked.append(succeed(None) if request is None else request.ask(timeout))
    d: Deferred[list[Optional[Snapshot]]] = gatherResults(asked)
    return d.addCallback(lambda found: dict(zip(indexes, found)))


class SnapshotAnswers:
    """
    A worker's side: answer each request read from the parent's pipe with
    a snapshot written to C{fd}.
    """

    def __init__(self, fd: int, snapshot: Callable[[], Snapshot]) -> None:
        """
        @param fd: the answer pipe (C{--metrics-pipe}).
        @param snapshot: takes this worker's snapshot.
        """
        self.fd = fd
        self.snapshot = snapshot
        self._buffer = b""

    def dataReceived(self, data: bytes) -> None:
        """
        Bytes from the parent's pipe: answer every whole request.
        """
        self._buffer = (self._buffer + data)[-64:]
        while b"\n" in self._buffer:
            seq, self._buffer = self._buffer.split(b"\n", 1)
            if seq.isdigit():
                self._write(seq + b" " + snapshotToJSON(self.snapshot()))

    def _write(self, data: bytes) -> None:
        """
        Write all of C{data}: a few kilobytes, which the pipe takes at once
        unless the parent has stopped reading (then give up).
        """
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            pass
