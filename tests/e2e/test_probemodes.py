# -*- test-case-name: tests.e2e.test_probemodes -*-
"""
End to end: C{sockservice-client probe --sizes} and C{probe tcp --stream}
as processes against C{twistd -n sockservice} on loopback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

from twisted.trial.unittest import SynchronousTestCase

from tests.e2e.test_client import clientCommand, runClient
from tests.support import startServer


class ProbeModeTests(SynchronousTestCase):
    """
    The sweep and the stream against the real service.
    """

    def setUp(self) -> None:
        self.server = startServer(self)
        self.ports = {"tcp": str(self.server.tcp[0]), "udp": str(self.server.udp[0])}

    def test_sweepTable(self) -> None:
        """
        Without --json, a sweep writes its table: a line per size, then what
        it found.
        """
        result = runClient("probe", "udp", "--port", self.ports["udp"], "--sizes", "64,1472")
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        lines = result.stdout.decode().splitlines()
        self.assertEqual(lines[0], f"--- 127.0.0.1:{self.ports['udp']} udp size sweep ---")
        self.assertEqual(
            [line.split()[:3] for line in lines[2:4]], [["64", "5", "5"], ["1472", "5", "5"]]
        )
        self.assertTrue(lines[4].startswith("largest that round-trips: 1472 B; loss from: none"))

    def test_usage(self) -> None:
        """
        A size over the largest UDP payload is a usage error: status 2,
        the reason on the last line.
        """
        result = runClient("probe", "udp", "--port", self.ports["udp"], "--sizes", "64..70000")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(
            result.stderr.decode().splitlines()[-1],
            "sockservice-client: --sizes: 70000 is over 65507, the largest UDP payload",
        )

    def test_streamInterrupted(self) -> None:
        """
        Ctrl-C ends an endless stream with its summary and status 0.
        """
        process = subprocess.Popen(
            clientCommand() + ["probe", "tcp", "--port", self.ports["tcp"], "--stream"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.5)  # the stream has no end of its own: let it run
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        self.assertEqual((process.returncode, err), (0, b""))
        lines = out.decode().splitlines()
        self.assertEqual(lines[0], f"--- 127.0.0.1:{self.ports['tcp']} tcp stream statistics ---")
        self.assertRegex(lines[1], r"^\d+ bytes sent, \d+ received, \d+ verified, 0 corrupted, ")

    def test_streamJSON(self) -> None:
        """
        A stream of --count bytes ends when they are back, verified.
        """
        result = runClient(
            "probe", "tcp", "--port", self.ports["tcp"], "--stream", "--count", "1000000", "--json"
        )
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        stream = json.loads(result.stdout)["stream"]
        self.assertEqual((stream["bytes_received"], stream["verified_bytes"]), (1000000, 1000000))
