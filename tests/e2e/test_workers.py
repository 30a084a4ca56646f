# -*- test-case-name: tests.e2e.test_workers -*-
"""
End to end: C{twistd sockservice --workers 2} as a subprocess.
"""

import os
import re
import signal
import socket
import time

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.support import startServer


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
            self,
            "--workers",
            "2",
            "--tcp",
            "tcp:0:interface=127.0.0.1",
            "--udp",
            "udp:0:interface=127.0.0.1",
        )
        self.server.readUntil(rb"(?s)(?:.*?listening on UDP){3}")
        self.pids = {
            int(i): int(p)
            for i, p in re.findall(rb"worker (\d+) started \(pid (\d+)\)", self.server.output)
        }
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
