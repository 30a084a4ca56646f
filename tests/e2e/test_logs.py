# -*- test-case-name: tests.e2e.test_logs -*-
"""
End to end: C{twistd -n --logger sockservice.logs.json sockservice} as a
subprocess writes nothing but JSON lines, which C{jq} reads, and under
systemd's C{JOURNAL_STREAM} each line carries its syslog priority.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from typing import Any, Dict, List, Optional

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.support import ROOT, Server, startProcess, twistdCommand

HOST = "127.0.0.1"
LISTEN = ("--tcp", f"tcp:0:interface={HOST}", "--udp", f"udp:0:interface={HOST}")


def _command(logger: str, *args: str) -> List[str]:
    """
    C{twistd -n --logger LOGGER sockservice ARGS}, as the other end-to-end
    tests run twistd.
    """
    command = twistdCommand(*args)
    at = command.index("sockservice")
    return command[:at] + ["--logger", logger] + command[at:]


def _records(testCase: SynchronousTestCase, output: bytes) -> List[Dict[str, Any]]:
    """
    Parse every line of C{output} as a JSON object; fail on any other line.
    """
    records = []
    for line in output.decode("utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            testCase.fail(f"not a JSON line: {line!r}\n{output.decode(errors='replace')}")
        testCase.assertIsInstance(record, dict, line)
        records.append(record)
    return records


def _exchange(testCase: SynchronousTestCase, server: Server) -> None:
    """
    Ask over TCP and UDP; be refused by the cap on connections.
    """
    with socket.create_connection((HOST, server.tcp[0]), timeout=10) as held:
        held.sendall("straße".encode())
        testCase.assertEqual(held.recv(100), b"STRASSE")
        with socket.create_connection((HOST, server.tcp[0]), timeout=10) as refused:
            testCase.assertEqual(refused.recv(100), b"")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(10)
        udp.sendto(b"hello", (HOST, server.udp[0]))
        testCase.assertEqual(udp.recv(100), b"HELLO")


class JSONLoggerTests(SynchronousTestCase):
    """
    C{--logger sockservice.logs.json}: every line on standard output is one
    JSON object, events named.
    """

    def setUp(self) -> None:
        server = startProcess(
            self, _command("sockservice.logs.json", *LISTEN, "--max-connections", "1"), None
        )
        server.waitListening(1, 1)
        _exchange(self, server)
        server.readUntil(rb'"event": "cap_refused"')
        server.stop()
        self.output = server.output

    def test_everyLineJSON(self) -> None:
        """
        Every line parses as JSON, with the standard keys; the listeners and
        the refusal are named events, the refusal a warning.
        """
        records = _records(self, self.output)
        for record in records:
            self.assertEqual(list(record)[:4], ["time", "level", "namespace", "message"])
            self.assertRegex(record["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        events = [r for r in records if "event" in r]
        listening = [r for r in events if r["event"] == "listening"]
        self.assertEqual(len(listening), 2, records)
        self.assertIsInstance(listening[0]["port"], int)
        [refused] = [r for r in events if r["event"] == "cap_refused"]
        self.assertEqual((refused["level"], refused["cap"]), ("warn", "total"))
        self.assertIn("twistd", " ".join(r["message"] for r in records[:3]))

    def test_jq(self) -> None:
        """
        C{jq} reads every line.
        """
        jq = shutil.which("jq")
        if jq is None:
            raise SkipTest("jq is not installed (apt-get install jq)")
        result = subprocess.run(
            [jq, "-c", ".event // empty"], input=self.output, capture_output=True, timeout=30
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b'"cap_refused"', result.stdout)


class JournalStreamEndToEndTests(SynchronousTestCase):
    """
    With C{JOURNAL_STREAM} naming its standard output, as systemd sets it,
    every JSON line starts with its syslog priority.
    """

    def test_prefixed(self) -> None:
        """
        Each line is C{<N>} then a JSON object whose level matches N.
        """
        reading, writing = os.pipe()
        status = os.fstat(writing)
        env = dict(os.environ, JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino}")
        env["PYTHONUNBUFFERED"] = "1"
        process = subprocess.Popen(
            _command("sockservice.logs.json", *LISTEN, "--max-connections", "1"),
            stdin=subprocess.DEVNULL,
            stdout=writing,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=env,
        )
        os.close(writing)
        process.stdout = os.fdopen(reading, "rb")
        server = Server(process)
        self.addCleanup(_stop, server)
        server.waitListening(1, 1)
        _exchange(self, server)
        server.readUntil(rb'"event": "cap_refused"')
        server.stop()
        priorities = {"critical": "2", "error": "3", "warn": "4", "info": "6", "debug": "7"}
        lines = server.output.decode("utf-8").splitlines()
        self.assertGreater(len(lines), 3)
        for line in lines:
            match = re.match(r"<(\d)>(\{.*)$", line)
            self.assertIsNotNone(match, line)
            assert match is not None
            self.assertEqual(match.group(1), priorities[json.loads(match.group(2))["level"]])
        self.assertTrue([line for line in lines if line.startswith('<4>{"time"')])


def _stop(server: Server) -> Optional[int]:
    if server.process.poll() is None:
        return server.stop()
    return None


class WorkersLogTests(SynchronousTestCase):
    """
    With C{--workers}, the workers log JSON lines as well.
    """

    def test_workers(self) -> None:
        """
        Each worker announces its UDP listener in a JSON line, like the parent.
        """
        if not os.path.isdir("/proc/self/fd"):
            raise SkipTest("--workers needs /proc")
        server = startProcess(
            self, _command("sockservice.logs.json", "--workers", "2", *LISTEN), None
        )
        server.readUntil(rb"(?s)(?:.*?listening on UDP){3}")
        server.stop()
        records = _records(self, server.output)
        udp = [r for r in records if r.get("event") == "listening" and "UDP" in r["message"]]
        self.assertEqual(len(udp), 3, records)
        started = [r for r in records if r.get("event") == "worker_started"]
        self.assertEqual(sorted(r["index"] for r in started), [0, 1])
