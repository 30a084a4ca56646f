# -*- test-case-name: tests.e2e.test_lifecycle -*-
"""
End to end, with real processes on loopback: how C{twistd sockservice} ends.
A C{--workers} pool whose parent is killed leaves no worker behind, and a
stop closes idle connections at once and busy ones once they are answered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.support import Server, startServer

HOST = "127.0.0.1"
CLEAN_EXITS = (0, -signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def _refused(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=5).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


class OrphanTests(SynchronousTestCase):
    """
    The workers of a pool whose parent dies without stopping them stop by
    themselves.
    """

    def test_parentKilled(self) -> None:
        """
        After SIGKILL of the parent, every worker exits within a few
        seconds and the port no longer answers.
        """
        if not os.path.isdir("/proc/self"):
            raise SkipTest("needs /proc to follow the workers")
        server = startServer(
            self,
            "--workers",
            "2",
            "--tcp",
            f"tcp:0:interface={HOST}",
            "--udp",
            f"udp:0:interface={HOST}",
        )
        server.readUntil(rb"(?s)worker 0 started.*worker 1 started")
        pids = [int(p) for p in re.findall(rb"started \(pid (\d+)\)", server.output)]
        self.addCleanup(self.killLeftovers, pids)
        port = server.tcp[0]
        with socket.create_connection((HOST, port), timeout=10) as client:
            client.sendall(b"up")
            self.assertEqual(client.recv(10), b"UP")

        server.process.kill()
        killed = time.monotonic()
        server.process.wait()
        while any(_alive(p) for p in pids) and time.monotonic() - killed < 10:
            time.sleep(0.02)
        self.assertEqual([p for p in pids if _alive(p)], [])
        self.assertLess(time.monotonic() - killed, 5)
        self.assertTrue(_refused(port))

    def killLeftovers(self, pids: list[int]) -> None:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


class StopTests(SynchronousTestCase):
    """
    SIGTERM does not wait for connections with nothing in progress.
    """

    def start(self) -> tuple[Server, int]:
        server = startServer(
            self, "--tcp", f"tcp:0:interface={HOST}", "--drain", "30", tcp=1, udp=0
        )
        return server, server.tcp[0]

    def test_idleConnections(self) -> None:
        """
        With three idle connections open, the process exits at once, well
        within the drain period, and each client reads the end of the
        stream after its replies.
        """
        server, port = self.start()
        clients = [socket.create_connection((HOST, port), timeout=10) for _ in range(3)]
        for client in clients:
            self.addCleanup(client.close)
            client.sendall(b"idle \xc3")
            self.assertEqual(client.recv(100), b"IDLE ")
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for client in clients:
            self.assertEqual(client.recv(100), b"\xc3")
            self.assertEqual(client.recv(100), b"")
        status = server.stop()
        self.assertIn(status, CLEAN_EXITS)
        self.assertLess(time.monotonic() - sent, 5)

    def test_busyConnection(self) -> None:
        """
        A client that sent much more than it read gets, after SIGTERM, its
        stream upper-cased up to where the server stopped reading, then the
        end of the stream (not a reset, which would lose replies on their
        way); once it closes, the process exits, long before the drain period
        is over.
        """
        server, port = self.start()
        client = socket.create_connection((HOST, port), timeout=10)
        self.addCleanup(client.close)
        client.setblocking(False)
        chunk = b"abcdefgh" * 8192
        sent, stalled = 0, time.monotonic()
        while time.monotonic() - stalled < 0.5 and sent < 64 << 20:
            try:
                # After a partial send, go on from the same place in the
                # pattern, so that the stream stays "abcdefgh" repeated.
                sent += client.send(chunk[sent % 8 :])
                stalled = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.readUntil(rb"draining 1 open connection")
        client.settimeout(10)
        received = bytearray()
        while True:
            data = client.recv(1 << 20)
            if not data:
                break
            received += data
        client.close()
        self.assertGreater(len(received), 0)
        self.assertLessEqual(len(received), sent)
        self.assertEqual(
            bytes(received), (chunk.upper() * (len(received) // len(chunk) + 1))[: len(received)]
        )
        status = server.stop()
        self.assertIn(status, CLEAN_EXITS)
        self.assertLess(time.monotonic() - signalled, 15)
