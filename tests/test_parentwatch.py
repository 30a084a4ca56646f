# -*- test-case-name: tests.test_parentwatch -*-
"""
Tests for L{sockservice.server.parent.ParentWatch}: a C{--workers} worker
stops when its parent dies.
"""

from __future__ import annotations

import os

from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.addresses import InetAddress
from sockservice.server.parent import ParentWatch
from sockservice.server.workers import Listener, WorkerPool
from sockservice.tap import Options, makeService


class ParentWatchTests(SynchronousTestCase):
    """
    L{ParentWatch} watches a pipe from the parent through the reactor.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.readEnd, self.writeEnd = os.pipe()
        self.addCleanup(self.closeAll)
        self.stops: list[None] = []
        self.watch = ParentWatch(self.readEnd, self.reactor, lambda: self.stops.append(None))
        self.watch.startService()
        [self.reader] = self.reactor.getReaders()

    def closeAll(self) -> None:
        for fd in (self.readEnd, self.writeEnd):
            try:
                os.close(fd)
            except OSError:
                pass

    def runReader(self) -> None:
        """
        Do what the reactor does when the descriptor is readable.
        """
        why = self.reader.doRead()
        if why is not None:
            self.reactor.removeReader(self.reader)
            self.reader.connectionLost(why)

    def test_watchesThePipe(self) -> None:
        """
        The pipe's read end is watched, without blocking, while the parent
        lives; nothing stops.
        """
        self.assertEqual(self.reader.fileno(), self.readEnd)
        self.assertFalse(os.get_blocking(self.readEnd))
        self.runReader()
        self.assertEqual(self.stops, [])

    def test_requestsPassedOn(self) -> None:
        """
        What the parent writes on the pipe (its requests for counts) goes to
        C{received}; nothing stops.
        """
        received: list[bytes] = []
        self.watch.stopService()
        self.watch = ParentWatch(
            self.readEnd, self.reactor, lambda: self.stops.append(None), received.append
        )
        self.watch.startService()
        [self.reader] = self.reactor.getReaders()
        os.write(self.writeEnd, b"1\n")
        self.runReader()
        self.assertEqual((received, self.stops), ([b"1\n"], []))

    def test_endOfFileStops(self) -> None:
        """
        When the parent is gone (the last write end closes), the process is
        stopped, once, and the pipe is no longer watched.
        """
        os.close(self.writeEnd)
        self.runReader()
        self.assertEqual(self.stops, [None])
        self.assertEqual(self.reactor.getReaders(), [])

    def test_errorStops(self) -> None:
        """
        An error reading the pipe counts as the parent's death.
        """
        self.reader.connectionLost(Failure(OSError(9, "bad descriptor")))
        self.assertEqual(self.stops, [None])

    def test_stopServiceForgets(self) -> None:
        """
        Stopping the service stops watching; the pipe's end then stops
        nothing more.
        """
        self.watch.stopService()
        self.assertEqual(self.reactor.getReaders(), [])
        self.reader.connectionLost(Failure(EOFError()))
        self.assertEqual(self.stops, [])


class _Reactor(MemoryReactorClock):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[list[str], dict[int, object]]] = []

    def spawnProcess(self, protocol, executable, args, env=None, childFDs=None, **kw):  # type: ignore[no-untyped-def]
        self.spawned.append((args, childFDs))

        class _Process:
            pid = 1000

        return _Process()


class PoolPipeTests(SynchronousTestCase):
    """
    The pool gives each worker a pipe whose write end it keeps.
    """

    def test_pipeAfterTheSockets(self) -> None:
        """
        Each worker gets a pipe as the descriptor after its sockets, and
        C{--parent-pipe} naming it.
        """
        listeners = [
            Listener("tcp", "tcp:0:interface=127.0.0.1", InetAddress(0, "127.0.0.1")),
            Listener("udp", "udp:0:interface=127.0.0.1", InetAddress(0, "127.0.0.1")),
        ]
        reactor = _Reactor()
        pool = WorkerPool(listeners, 2, ["--case=ascii"], reactor)
        pool.startService()
        self.addCleanup(pool.closeSockets)
        for args, fds in reactor.spawned:
            self.assertEqual(fds[5], "w")
            self.assertIn("--parent-pipe=5", args)
            self.assertLess(args.index("--parent-pipe=5"), args.index("--inherit"))


class OptionTests(SynchronousTestCase):
    """
    The internal C{--parent-pipe FD} option.
    """

    def test_makeService(self) -> None:
        """
        A worker started with C{--parent-pipe} watches that descriptor.
        """
        options = Options()
        options.parseOptions(["--tcp", "tcp:0", "--parent-pipe", "7"])
        [watch] = [
            s for s in makeService(options, MemoryReactorClock()) if isinstance(s, ParentWatch)
        ]
        self.assertEqual(watch.fd, 7)

    def test_notWatchedByDefault(self) -> None:
        """
        Without C{--parent-pipe} nothing is watched.
        """
        options = Options()
        options.parseOptions(["--tcp", "tcp:0"])
        top = makeService(options, MemoryReactorClock())
        self.assertFalse([s for s in top if isinstance(s, ParentWatch)])

    def test_notADescriptor(self) -> None:
        """
        A C{--parent-pipe} that is not a descriptor number is a usage error.
        """
        error = self.assertRaises(UsageError, Options().parseOptions, ["--parent-pipe", "x"])
        self.assertEqual(str(error), "--parent-pipe: expected a descriptor, got 'x'")

    def test_notPassedOn(self) -> None:
        """
        The option is not among those every worker inherits from the parent.
        """
        options = Options()
        options.parseOptions(["--workers", "2", "--parent-pipe", "7"])
        self.assertFalse([a for a in options.workerArguments() if "parent-pipe" in a])
