# -*- test-case-name: tests.test_workers -*-
"""
Tests for L{sockservice.server.workers} and C{--workers}.
"""

from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.server.addresses import InetAddress
from sockservice.server.drain import DrainService
from sockservice.server.workers import WorkerPool, restartDelay
from sockservice.tap import Options, makeService


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


class RestartDelayTests(SynchronousTestCase):
    """
    Crash-looping workers are restarted with a growing delay.
    """

    def test_delays(self):
        """
        0.5 s, doubling with each quick failure, capped at 30 s.
        """
        self.assertEqual([restartDelay(n) for n in (0, 1, 2, 3, 10)], [0.5, 0.5, 1.0, 2.0, 30.0])


class OptionsTests(SynchronousTestCase):
    """
    C{--workers} options.
    """

    def test_needsSimpleListeners(self):
        """
        --workers takes only tcp/tcp6/udp listeners it can bind itself.
        """
        options = Options()
        error = self.assertRaises(
            UsageError, options.parseOptions, ["--workers", "2", "--tcp", "unix:/tmp/x"]
        )
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
        self.assertEqual(
            [l.address for l in pool.listeners], [InetAddress(0, "::"), InetAddress(0, "")]
        )
