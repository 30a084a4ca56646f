# -*- test-case-name: tests.integration.test_workers -*-
"""
Tests for L{sockservice.server.workers} that bind real loopback sockets (port
0): L{bindShared}, and L{WorkerPool} over a reactor that records the processes
it would spawn.
"""

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.addresses import InetAddress
from sockservice.server.workers import Listener, WorkerPool, bindShared, restartDelay
from tests.test_workers import _ProcessReactor


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
            self.assertEqual(
                args[-5:], ["--case=ascii", "--inherit", "tcp:3", "--inherit", "udp:4"]
            )
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
