# -*- test-case-name: tests.test_workers -*-
"""
Tests for L{sockservice.server.workers} and C{--workers}.
"""

import os
import re
import signal
import socket
import time

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.python.usage import UsageError
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice.server.addresses import InetAddress
from sockservice.server.drain import DrainService
from sockservice.tap import Options, makeService
from sockservice.server.workers import Listener, WorkerPool, bindShared, restartDelay
from tests.support import startServer


class _FakeProcess:
    def __init__(self, protocol, pid):
        self.protocol = protocol
        self.pid = pid
        self.signals = []

    def signalProcess(self, name):
        self.signals.append(name)


class _ProcessReactor(MemoryReactorClock):
    """
    A memory reactor that records spawned processes instead of running them.
    """

    def __init__(self):
        super().__init__()
        self.spawned = []

    def spawnProcess(self, protocol, executable, args, env=None, childFDs=None, **kw):
        process = _FakeProcess(protocol, 1000 + len(self.spawned))
        self.spawned.append((args, childFDs, process))
        protocol.makeConnection(process)
        return process


def _end(process, reason=ProcessTerminated(signal=9)):
    process.pid = None
    process.protocol.processEnded(Failure(reason))


LISTENERS = [
    Listener("tcp", "tcp:0:interface=127.0.0.1", InetAddress(0, "127.0.0.1")),
    Listener("udp", "udp:0:interface=127.0.0.1", InetAddress(0, "127.0.0.1")),
]


class BindSharedTests(SynchronousTestCase):
    """
    L{bindShared} binds several sockets to one address.
    """

    def test_samePort(self):
        """
        All sockets share the port picked by the first, for TCP and UDP.
        """
        for listener in LISTENERS:
            sockets = bindShared(listener, 3)
            try:
                ports = {s.getsockname()[1] for s in sockets}
                self.assertEqual(len(ports), 1)
                self.assertTrue(all(s.get_inheritable() for s in sockets))
                self.assertTrue(all(not s.getblocking() for s in sockets))
            finally:
                for s in sockets:
                    s.close()


class RestartDelayTests(SynchronousTestCase):
    """
    Crash-looping workers are restarted with a growing delay.
    """

    def test_delays(self):
        """
        0.5 s, doubling with each quick failure, capped at 30 s.
        """
        self.assertEqual([restartDelay(n) for n in (0, 1, 2, 3, 10)], [0.5, 0.5, 1.0, 2.0, 30.0])


class WorkerPoolTests(SynchronousTestCase):
    """
    L{WorkerPool} spawns, restarts and stops its workers.
    """

    def setUp(self):
        self.reactor = _ProcessReactor()
        self.pool = WorkerPool(LISTENERS, 2, ["--case=ascii"], self.reactor, killAfter=7)
        self.pool.startService()
        self.addCleanup(self.pool.closeSockets)

    def test_spawnsEach(self):
        """
        One worker per count, each given its own socket of every listener as
        descriptors 3 and 4, and the shared options.
        """
        self.assertEqual(len(self.reactor.spawned), 2)
        for index, (args, fds, _) in enumerate(self.reactor.spawned):
            self.assertEqual(args[-5:], ["--case=ascii", "--inherit", "tcp:3", "--inherit", "udp:4"])
            self.assertEqual(fds[3], self.pool.sockets[0][index].fileno())
            self.assertEqual(fds[4], self.pool.sockets[1][index].fileno())
            self.assertEqual((fds[1], fds[2]), (1, 2))

    def test_restartsDeadWorker(self):
        """
        A worker that dies is replaced, at the same index, after a delay.
        """
        _end(self.reactor.spawned[0][2])
        self.assertEqual(len(self.reactor.spawned), 2)
        self.reactor.advance(restartDelay(1))
        self.assertEqual(len(self.reactor.spawned), 3)
        self.assertEqual(self.reactor.spawned[2][1][3], self.pool.sockets[0][0].fileno())
        self.assertEqual(sorted(self.pool.workers), [0, 1])

    def test_crashLoopBacksOff(self):
        """
        A worker that keeps dying soon after starting is restarted less and
        less often; one that ran a while is restarted promptly.
        """
        _end(self.reactor.spawned[0][2])
        self.reactor.advance(0.5)
        _end(self.reactor.spawned[-1][2])
        self.reactor.advance(0.5)
        self.assertEqual(len(self.reactor.spawned), 3)
        self.reactor.advance(0.5)
        self.assertEqual(len(self.reactor.spawned), 4)
        self.reactor.advance(WorkerPool.stableAfter)
        _end(self.reactor.spawned[-1][2])
        self.reactor.advance(0.5)
        self.assertEqual(len(self.reactor.spawned), 5)

    def test_stopTerminatesAll(self):
        """
        Stopping sends SIGTERM to every worker, restarts nothing, and fires
        when all have ended.
        """
        stopped = self.pool.stopService()
        processes = [p for _, _, p in self.reactor.spawned]
        self.assertEqual([p.signals for p in processes], [["TERM"], ["TERM"]])
        self.assertNoResult(stopped)
        for p in processes:
            _end(p, ProcessDone(0))
        self.successResultOf(stopped)
        self.reactor.advance(60)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(self.pool.sockets, [])

    def test_stopCancelsPendingRestart(self):
        """
        A restart that is waiting for its delay does not happen after stop.
        """
        _end(self.reactor.spawned[0][2])
        self.pool.stopService()
        self.reactor.advance(60)
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_killAfterTimeout(self):
        """
        Workers still running C{killAfter} seconds after SIGTERM get SIGKILL.
        """
        self.pool.stopService()
        self.reactor.advance(7)
        self.assertEqual([p.signals for _, _, p in self.reactor.spawned], [["TERM", "KILL"]] * 2)


class OptionsTests(SynchronousTestCase):
    """
    C{--workers} options.
    """

    def test_needsSimpleListeners(self):
        """
        --workers takes only tcp/tcp6/udp listeners it can bind itself.
        """
        options = Options()
        error = self.assertRaises(UsageError, options.parseOptions, ["--workers", "2", "--tcp", "unix:/tmp/x"])
        self.assertIn("--tcp with --workers: invalid description 'unix:/tmp/x'", str(error))

    def test_atLeastOne(self):
        """
        --workers 0 is refused.
        """
        self.assertRaises(UsageError, Options().parseOptions, ["--workers", "0"])

    def test_workerArguments(self):
        """
        Workers get every option but the listeners and the worker count,
        with the UDP rate limit divided among them.
        """
        options = Options()
        options.parseOptions(["--workers", "3", "--case", "ascii", "--limit-loopback"])
        args = options.workerArguments()
        self.assertIn("--case=ascii", args)
        self.assertIn("--limit-loopback", args)
        self.assertIn(f"--udp-rate={50 / 3!r}", args)
        self.assertFalse([a for a in args if a.startswith(("--workers", "--tcp", "--udp="))])

    def test_makeService(self):
        """
        With --workers the service is a pool over the named listeners.
        """
        options = Options()
        options.parseOptions(["--workers", "2", "--tcp", "tcp6:0", "--udp", "udp:0"])
        [pool, drain] = makeService(options, _ProcessReactor())
        self.assertIsInstance(drain, DrainService)
        self.assertIsInstance(pool, WorkerPool)
        self.assertEqual([l.address for l in pool.listeners], [InetAddress(0, "::"), InetAddress(0, "")])


def _socketCount(pid):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return 0
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


class WorkersEndToEndTests(SynchronousTestCase):
    """
    C{twistd sockservice --workers 2} as a subprocess.
    """

    def setUp(self):
        if not os.path.isdir("/proc/self/fd"):
            raise SkipTest("needs /proc to see the workers' sockets")
        self.server = startServer(
            self, "--workers", "2", "--tcp", "tcp:0:interface=127.0.0.1",
            "--udp", "udp:0:interface=127.0.0.1",
        )
        self.server.readUntil(rb"(?s)(?:.*?listening on UDP){3}")
        self.pids = {int(i): int(p) for i, p in re.findall(rb"worker (\d+) started \(pid (\d+)\)", self.server.output)}
        self.port = self.server.tcp[0]

    def roundTrips(self, n):
        sockets = [socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(n)]
        try:
            for i, s in enumerate(sockets):
                s.sendall(b"w%03d" % (i,))
            for i, s in enumerate(sockets):
                self.assertEqual(s.recv(10), b"W%03d" % (i,))
            return [_socketCount(pid) for pid in self.pids.values()]
        finally:
            for s in sockets:
                s.close()

    def test_bothServe(self):
        """
        Connections are spread over both workers: each holds client sockets.
        """
        idle = [_socketCount(pid) for pid in self.pids.values()]
        busy = self.roundTrips(64)
        self.assertEqual(len(self.pids), 2)
        for before, during in zip(idle, busy):
            self.assertGreater(during, before)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(10)
            u.sendto(b"udp", ("127.0.0.1", self.server.udp[0]))
            self.assertEqual(u.recv(10), b"UDP")

    def test_sigtermStopsAll(self):
        """
        SIGTERM to the parent stops every worker, with no traceback.
        """
        status = self.server.stop()
        self.assertIn(status, (0, -signal.SIGTERM))
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in self.pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse([p for p in self.pids.values() if _alive(p)])
        self.assertNotIn(b"Traceback", self.server.output)

    def test_killedWorkerReplaced(self):
        """
        A worker killed with SIGKILL is replaced and the service keeps
        answering every connection.
        """
        os.kill(self.pids[0], signal.SIGKILL)
        self.server.readUntil(rb"worker 0 started \(pid (?!%d\))\d+\)" % (self.pids[0],))
        self.roundTrips(32)
        self.assertIn(b"worker 0 ended", self.server.output)
