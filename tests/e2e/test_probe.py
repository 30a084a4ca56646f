# -*- test-case-name: tests.e2e.test_probe -*-
"""
End to end: C{sockservice-client probe} as a process against
C{twistd -n sockservice} on loopback.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from typing import Optional

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.e2e.test_client import clientCommand, runClient
from tests.support import ROOT, startServer

SCHEMA = ROOT / "docs" / "probe-schema.json"


def _readUntil(fd: int, pattern: Optional[bytes], timeoutS: float = 30.0) -> bytes:
    """
    Read a terminal's output until it matches C{pattern} or, for C{None},
    until its other side is closed; fail after C{timeoutS} seconds.
    """
    deadline = time.monotonic() + timeoutS
    data = b""
    while pattern is None or not re.search(pattern, data):
        ready = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
        if not ready:
            raise AssertionError(f"no {pattern!r} within {timeoutS} s in {data!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every writer closed the terminal
            chunk = b""
        if not chunk:
            if pattern is None:
                return data
            raise AssertionError(f"the output ended without {pattern!r}: {data!r}")
        data += chunk
    return data


class ProbeTests(SynchronousTestCase):
    """
    The probe against the real service.
    """

    def setUp(self) -> None:
        self.server = startServer(self)
        self.ports = {"tcp": str(self.server.tcp[0]), "udp": str(self.server.udp[0])}

    def probe(self, protocol: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        return runClient("probe", protocol, "--port", self.ports[protocol], *args)

    def test_json(self) -> None:
        """
        A short run over UDP and over TCP answers every request, and its
        --json document is valid against docs/probe-schema.json.
        """
        try:
            import jsonschema
        except ImportError:
            raise SkipTest("jsonschema is not installed (pip install -e '.[test]')") from None
        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        for protocol in ("udp", "tcp"):
            result = self.probe(protocol, "--count", "50", "--rate", "0", "--window", "4", "--json")
            self.assertEqual((result.returncode, result.stderr), (0, b""))
            doc = json.loads(result.stdout)
            jsonschema.validate(doc, schema)
            self.assertEqual(doc["summary"]["sent"], 50)
            self.assertEqual(doc["summary"]["answered"], 50)
            self.assertEqual(doc["summary"]["corrupted"], 0)
            self.assertEqual(doc["protocol"], protocol)

    def test_summary(self) -> None:
        """
        Without --json, when standard output is not a terminal, only the
        closing statistics are written.
        """
        result = self.probe("tcp", "--count", "5", "--rate", "100", "--connect")
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        lines = result.stdout.decode().splitlines()
        self.assertEqual(lines[0], f"--- 127.0.0.1:{self.ports['tcp']} tcp probe statistics ---")
        self.assertTrue(lines[1].startswith("5 sent, 5 answered, 0% loss"), lines)
        self.assertTrue(lines[3].startswith("connect ms: "), lines)

    def test_gateFails(self) -> None:
        """
        A gate that cannot hold (p99 under a nanosecond) exits 3 with one line.
        """
        result = self.probe("udp", "--count", "5", "--rate", "0", "--max-p99", "0.000001")
        self.assertEqual(result.returncode, 3)
        self.assertRegex(
            result.stderr.decode(),
            r"^sockservice-client: gate failed: max-p99: p99 [0-9.]+ ms > 1e-06\n$",
        )

    def test_interrupt(self) -> None:
        """
        Ctrl-C, once the live view on a terminal shows answered requests,
        ends an endless run with its summary and status 0.
        """
        master, terminal = pty.openpty()
        process = subprocess.Popen(
            clientCommand() + ["probe", "udp", "--port", self.ports["udp"], "--rate", "50"],
            stdout=terminal,
            stderr=subprocess.PIPE,
        )
        os.close(terminal)
        try:
            out = _readUntil(master, rb"received=[1-9]")  # the first second's line
            process.send_signal(signal.SIGINT)
            err = process.communicate(timeout=30)[1]
            out += _readUntil(master, None)
        finally:
            process.kill()
            process.wait()
            os.close(master)
        self.assertEqual((process.returncode, err), (0, b""))
        self.assertIn(b" answered, 0% loss", out)

    def test_refused(self) -> None:
        """
        Nothing listening: status 1 and one line.
        """
        self.server.stop()
        result = self.probe("tcp", "--count", "1")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.decode(),
            f"sockservice-client: connection refused by 127.0.0.1:{self.ports['tcp']}\n",
        )
