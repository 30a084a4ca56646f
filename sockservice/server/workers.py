# -*- test-case-name: tests.test_workers, tests.integration.test_workers, tests.e2e.test_workers -*-
"""
C{--workers N}: N processes serving the same TCP and UDP ports.

The parent binds, for each listener, N sockets to the same address with
C{SO_REUSEPORT}, so that the kernel spreads connections and datagrams evenly
over them (no thundering herd), and hands socket I{i} to worker I{i}: a
C{twistd sockservice} child that adopts its inherited descriptors.  The parent
keeps the sockets, so a worker that dies is replaced without the port ever
closing: what arrives meanwhile waits in that socket's queue.  Stopping the
parent stops every worker.

A worker also stops when its parent dies without stopping it: the parent
passes each worker the read end of a pipe whose write end only the parent
holds (L{sockservice.server.parent}).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, Optional, Union

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.error import CannotListenError, ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockservice.logs import loggerArguments
from sockservice.server.interfaces import IServerReactor
from sockservice.server.listeners import ListenFailed
from sockservice.server.reuseport import Listener, bindShared
from sockservice.server.snapshots import SnapshotRequests

__all__ = [
    "Listener",
    "WorkerPool",
    "bindShared",
    "restartDelay",
    "twistdCommand",
]


def restartDelay(failures: int) -> float:
    """
    How long to wait before restarting a worker that has crashed
    C{failures} times in a row soon after starting: 0.5 s, doubling, at most
    30 s.
    """
    return float(min(30.0, 0.5 * 2 ** max(failures - 1, 0)))


class _Worker(ProcessProtocol):
    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.started = pool.reactor.seconds()
        self.ended: Deferred[None] = Deferred()
        self.requests: Optional[SnapshotRequests] = None

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if self.requests is not None:
            self.requests.dataReceived(data)

    def processEnded(self, reason: Failure) -> None:
        if self.requests is not None:
            self.requests.lost()
        self.pool._ended(self, reason)
        self.ended.callback(None)


def twistdCommand(*args: str) -> list[str]:
    """
    The command line of C{twistd --nodaemon --pidfile= sockservice ARGS},
    run by this interpreter (so a worker, or a test's server, runs in the
    same environment as its parent), with this process's C{--logger}.
    """
    return [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "--nodaemon",
        "--pidfile=",
        *loggerArguments(),
        "sockservice",
        *args,
    ]


class WorkerPool(Service):
    """
    Run C{count} worker processes over shared sockets; restart those that
    die; stop them all on stop.

    @ivar workers: the running workers, by index.
    @ivar reportCounts: whether workers answer L{sockservice.server.snapshots}.
    """

    log = Logger()
    #: A worker that ran at least this long is not counted as crash-looping.
    stableAfter = 5.0
    reportCounts = False

    def __init__(
        self,
        listeners: list[Listener],
        count: int,
        workerArgs: list[str],
        reactor: IServerReactor,
        killAfter: float = 10.0,
        udpPorts: Optional[set[int]] = None,
    ) -> None:
        """
        @param workerArgs: the C{sockservice} options for every worker; the
            C{--inherit} options naming its descriptors are added to them.
        @param killAfter: seconds to wait after SIGTERM before SIGKILL.
        @param udpPorts: the UDP ports of this process, which its UDP
            services never answer: the shared UDP ports are added to it, and
            each worker is told them all (C{--udp-busy-port}).
        """
        self.listeners = listeners
        self.count = count
        self.workerArgs = workerArgs
        self.reactor = reactor
        self.killAfter = killAfter
        self.sockets: list[list[socket.socket]] = []
        self.workers: dict[int, _Worker] = {}
        self.failures = [0] * count
        self._restarts: dict[int, IDelayedCall] = {}
        self.udpPorts: set[int] = set() if udpPorts is None else udpPorts

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for listener in self.listeners:
            try:
                shared = bindShared(listener, self.count)
            except CannotListenError as e:
                raise ListenFailed(f"{listener.kind.upper()} {listener.description}", e) from e
            self.sockets.append(shared)
            host, port = shared[0].getsockname()[:2]
            if listener.kind == "udp":
                self.udpPorts.add(port)
            self.log.info(
                "sockservice: listening on {kind} {host}:{port} with {count} workers",
                kind=listener.kind.upper(),
                host=host,
                port=port,
                count=self.count,
                event="listening",
            )

    def startService(self) -> None:
        if not self.sockets:
            self.privilegedStartService()
        super().startService()
        for index in range(self.count):
            self._spawn(index)

    def _command(self, index: int) -> tuple[list[str], dict[int, Union[int, str]]]:
        """
        The command line and descriptor map of worker C{index}.
        """
        busy = [f"--udp-busy-port={port}" for port in sorted(self.udpPorts)]
        # The pipe whose end of file tells the worker that this process is
        # gone ("w": this process holds the write end, and never writes).
        parentPipe = 3 + len(self.listeners)
        args = twistdCommand(f"--parent-pipe={parentPipe}", *busy, *self.workerArgs)
        fds: dict[int, Union[int, str]] = {0: "w", 1: 1, 2: 2, parentPipe: "w"}
        for n, (listener, shared) in enumerate(zip(self.listeners, self.sockets)):
            fds[3 + n] = shared[index].fileno()
            args += ["--inherit", f"{listener.kind}:{3 + n}"]
        if self.reportCounts:
            fds[parentPipe + 1] = "r"
            args.append(f"--metrics-pipe={parentPipe + 1}")
        return args, fds

    def _spawn(self, index: int) -> None:
        self._restarts.pop(index, None)
        args, fds = self._command(index)
        worker = _Worker(self, index)
        process = self.reactor.spawnProcess(
            worker, sys.executable, args, env=os.environ, childFDs=fds
        )
        self.workers[index] = worker
        if self.reportCounts:
            parentPipe = 3 + len(self.listeners)
            worker.requests = SnapshotRequests(
                lambda data: process.writeToChild(parentPipe, data), self.reactor
            )
        self.log.info(
            "sockservice: worker {index} started (pid {pid})",
            index=index,
            pid=process.pid,
            event="worker_started",
        )

    def _ended(self, worker: _Worker, reason: Failure) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if not self.running:
            return
        index = worker.index
        ranFor = self.reactor.seconds() - worker.started
        self.failures[index] = 0 if ranFor >= self.stableAfter else self.failures[index] + 1
        delay = restartDelay(self.failures[index])
        self.log.warn(
            "sockservice: worker {index} ended ({reason}); restarting in {delay} s",
            index=index,
            reason=reason.getErrorMessage(),
            delay=delay,
            event="worker_died",
        )
        self._restarts[index] = self.reactor.callLater(delay, self._spawn, index)

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        for call in self._restarts.values():
            call.cancel()
        self._restarts.clear()
        workers = list(self.workers.values())
        for worker in workers:
            _signal(worker, "TERM")
        if not workers:
            return succeed(None)
        kill = self.reactor.callLater(self.killAfter, self._kill, workers)
        done = DeferredList([w.ended for w in workers])

        def stopped(result: object) -> None:
            if kill.active():
                kill.cancel()
            self.closeSockets()

        return done.addBoth(stopped)

    def _kill(self, workers: list[_Worker]) -> None:
        for worker in workers:
            _signal(worker, "KILL")

    def closeSockets(self) -> None:
        """
        Close the parent's copies of the shared sockets.
        """
        for shared in self.sockets:
            for s in shared:
                s.close()
        self.sockets = []


def _signal(worker: _Worker, name: str) -> None:
    transport: Optional[IProcessTransport] = worker.transport
    if transport is not None and transport.pid is not None:
        try:
            transport.signalProcess(name)
        except (OSError, ProcessExitedAlready):
            pass
