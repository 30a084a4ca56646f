# -*- test-case-name: bench.tests.test_servers -*-
"""
Tests for L{bench.servers}: server process trees and server specifications.
"""

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from bench import servers


# Uses 50 ms of CPU, says so, then waits for its standard input to close.
CHILD = (
    "import sys, time\n"
    "while time.process_time() < 0.05: pass\n"
    "print('busy', flush=True)\n"
    "sys.stdin.read()\n"
)


class ProcessTreeTests(SynchronousTestCase):
    """
    L{servers.processTree} and L{servers.readTreeCpuSeconds} see a server's
    worker processes.
    """

    def test_children(self):
        """
        A child process is in its parent's tree, and its CPU time is counted.
        """
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.addCleanup(child.wait)
        self.addCleanup(child.stdout.close)
        self.addCleanup(child.stdin.close)
        self.assertEqual(child.stdout.readline(), b"busy\n")
        self.assertGreater(servers.readCpuSeconds(child.pid), 0)
        tree = servers.processTree(os.getpid())
        self.assertEqual(tree[0], os.getpid())
        self.assertIn(child.pid, tree)
        self.assertGreaterEqual(
            servers.readTreeCpuSeconds(os.getpid()),
            servers.readCpuSeconds(os.getpid()) + servers.readCpuSeconds(child.pid),
        )
        self.assertEqual(servers.processTree(child.pid), [child.pid])


class ServerSpecTests(SynchronousTestCase):
    """
    L{bench.servers.serverSpecs} lists the servers; those on PyPy get the
    JIT's longer warm-up.
    """

    def test_jit(self):
        """
        Exactly the PyPy rows are marked as running on a JIT, and only when a
        PyPy is given.
        """
        jit = {s.name for s in servers.serverSpecs("python3", "pypy3") if s.jit}
        self.assertEqual(jit, {"twisted-pypy", "sockservice-pypy", "epoll-pypy"})
        self.assertFalse(any(s.jit for s in servers.serverSpecs("python3", None)))
