# -*- test-case-name: bench.tests.test_probe -*-
"""
Tests for L{bench.probe}, L{bench.blocking} and L{bench.probeproc}: the
percentile, the blocking clients and where they run, how the probe is run
and its document and memory read, and the Markdown report.
"""

import json
import os
import socket
import subprocess
import sys
import threading

from twisted.trial.unittest import SynchronousTestCase

from bench import blocking, probe, probeproc


def _document(p50=50.0, sent=1000, answered=1000, rate=5000.0):
    return {
        "version": 1,
        "summary": {"sent": sent, "answered": answered, "loss_pct": 100.0 * (sent - answered) / sent,
                    "rate_per_s": rate, "elapsed_s": sent / rate},
        "latency_us": {"p50": p50, "p99": 3 * p50},
    }  # fmt: skip


class PercentileTests(SynchronousTestCase):
    """
    L{probe.percentile} is the nearest-rank percentile.
    """

    def test_nearestRank(self):
        """
        The median of 1..10 is 5, the 90th percentile 9, the 100th 10.
        """
        values = list(range(10, 0, -1))
        self.assertEqual([blocking.percentile(values, p) for p in (50, 90, 100, 0)], [5, 9, 10, 1])
        self.assertRaises(ValueError, blocking.percentile, [], 50)

    def test_payload(self):
        """
        The payload is lowercase letters of the size asked for.
        """
        self.assertEqual(probe.payload(30), b"abcdefghijklmnopqrstuvwxyzabcd")


class _UpperServer:
    """
    A blocking upper-casing server on loopback, TCP and UDP on one port,
    each served by a thread until closed.
    """

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.threads = [
            threading.Thread(target=self._serveTCP),
            threading.Thread(target=self._serveUDP),
        ]
        for thread in self.threads:
            thread.start()

    def _serveTCP(self):
        connection, _ = self.tcp.accept()
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data.upper())

    def _serveUDP(self):
        while True:
            data, address = self.udp.recvfrom(65535)
            if data == b"stop":
                return
            self.udp.sendto(data.upper(), address)

    def close(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"stop", ("127.0.0.1", self.port))
        for thread in self.threads:
            thread.join(5)
        self.tcp.close()
        self.udp.close()


class BlockingClientTests(SynchronousTestCase):
    """
    The blocking clients time each round trip of a 64-byte request.
    """

    def test_roundTrips(self):
        """
        Each client makes C{count} round trips and returns as many times, in
        microseconds.
        """
        server = _UpperServer()
        try:
            for client in (blocking.blockingUDP, blocking.blockingTCP):
                times = client(server.port, 20)
                self.assertEqual(len(times), 20)
                self.assertTrue(all(0 < t < 2_000_000 for t in times), times)
        finally:
            server.close()


class PlaceTests(SynchronousTestCase):
    """
    L{blocking.place} pins the server and the clients to CPUs of their own,
    or lets both use them all.
    """

    def test_pinnedThenShared(self):
        """
        Pinned, the server runs on the first CPU and this process on the
        second; shared, both on every CPU given.
        """
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise self.skipTest("needs two CPUs")
        server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            blocking.place("pinned", server.pid, cpus)
            pinned = (os.sched_getaffinity(server.pid), os.sched_getaffinity(0))
            blocking.place("shared", server.pid, cpus)
            shared = (os.sched_getaffinity(server.pid), os.sched_getaffinity(0))
        finally:
            os.sched_setaffinity(0, cpus)
            server.kill()
            server.wait()
        self.assertEqual(pinned, ({cpus[0]}, {cpus[1]}))
        self.assertEqual(shared, (set(cpus), set(cpus)))

    def test_oneCPU(self):
        """
        Pinning needs two CPUs.
        """
        self.assertRaises(ValueError, blocking.place, "pinned", os.getpid(), [0])

    def test_arguments(self):
        """
        An unknown placement or no round is a usage error.
        """
        for argv in (["--placements", "pinned,nowhere"], ["--rounds", "0"]):
            self.assertRaises(SystemExit, probe.parseArgs, argv)
        self.assertEqual(probe.parseArgs([]).placements, "pinned,shared")


class RunProbeTests(SynchronousTestCase):
    """
    L{probeproc.runProbe} runs a command to its end and reads its JSON document
    and its memory.
    """

    def test_document(self):
        """
        The document comes back with the resident memory sampled while it
        ran and its peak, at least the 20 MiB the command held.
        """
        code = ("import json, time; held = bytearray(20 << 20); time.sleep(0.3); "
                f"print(json.dumps({_document()!r}))")  # fmt: skip
        document = probeproc.runProbe([sys.executable, "-c", code], sample=0.05)
        self.assertEqual(document["summary"]["sent"], 1000)
        self.assertTrue(document["rss"])
        self.assertGreaterEqual(document["peak_rss"], 20 << 20)
        self.assertGreaterEqual(document["peak_rss"], max(value for _, value in document["rss"]))

    def test_failure(self):
        """
        A probe that exits with a failure status is a L{RuntimeError} naming
        the status and its last line on standard error.
        """
        code = "import sys; sys.stderr.write('probe: connection refused\\n'); sys.exit(1)"
        error = self.assertRaises(RuntimeError, probeproc.runProbe, [sys.executable, "-c", code])
        self.assertEqual(str(error), "probe exited with status 1: probe: connection refused")

    def test_notJSON(self):
        """
        Output that is not a version 1 document is a L{RuntimeError}.
        """
        error = self.assertRaises(RuntimeError, probeproc.parseDocument, 0, b"PING", b"")
        self.assertEqual(str(error), "probe wrote no JSON document: ")
        self.assertRaises(RuntimeError, probeproc.parseDocument, 0, json.dumps([1]).encode(), b"")


class ReportTests(SynchronousTestCase):
    """
    The rows and the Markdown report.
    """

    def test_rows(self):
        """
        The latency row has the median, minimum and maximum over the rounds
        of each client's p50 and of their ratio; the memory row takes the
        RSS a tenth of the way in and at the end.
        """
        rounds = [[100.0, 40.0, 60.0], [50.0], [80.0, 80.0]]
        row = probe.latencyRow(rounds, [_document(p50=p) for p in (72.0, 75.0, 96.0)])
        self.assertEqual(row["blocking_p50_us"], {"median": 60.0, "min": 50.0, "max": 80.0})
        self.assertEqual(row["probe_p50_us"], {"median": 75.0, "min": 72.0, "max": 96.0})
        self.assertEqual((row["ratio"]["median"], row["ratio"]["max"]), (1.2, 1.5))
        self.assertEqual((row["rounds"], row["blocking_count"], row["probe_count"]), (3, 3, 1000))
        samples = [[t / 2, 100 + t] for t in range(21)]
        long = dict(_document(sent=1_000_000, answered=999_990), rss=samples, peak_rss=125)
        memory = probe.memoryRow(long)
        self.assertEqual(
            (memory["rss_early"], memory["rss_end"], memory["peak_rss"]), (102, 120, 125)
        )

    def test_markdown(self):
        """
        The report has the context line, the overhead table with the ratio
        and the sustained rate, and the memory table.
        """
        results = {
            "machine": "x86_64, 2 CPUs",
            "date": "2025-01-01",
            "command": "python3 bench/probe.py",
            "latency": {"pinned": {"udp": probe.latencyRow([[50.0], [40.0]], [_document(p50=60.0),
                                                                            _document(p50=52.0)]),
                                   "tcp": probe.latencyRow([[40.0]], [_document(p50=50.0)])}},
            "rate": {"udp": probe.rateRow(_document(rate=41234.0)),
                     "tcp": probe.rateRow(_document(rate=52000.0))},
            "memory": {"udp": probe.memoryRow(dict(_document(sent=1_000_000, answered=1_000_000),
                                                   rss=[[t, 30 << 20] for t in range(10)],
                                                   peak_rss=31 << 20))},
        }  # fmt: skip
        text = probe.renderMarkdown(results)
        self.assertIn("Machine: x86_64, 2 CPUs; 2025-01-01; `python3 bench/probe.py`.", text)
        self.assertIn("| 64-byte requests on loopback | UDP | TCP |", text)
        self.assertIn(
            "| probe / blocking (target ≤ 1.5×), pinned | 1.25× (1.20–1.30) | 1.25× (1.25–1.25) |",
            text,
        )
        self.assertIn("| blocking-socket client, p50, pinned | 45.0 µs (40.0–50.0) | 40.0 µs", text)
        self.assertIn(
            "Pinned (server on CPU 0, clients on CPU 1): median (min–max) over 2 rounds", text
        )
        self.assertIn("41.2k req/s, 0.0% lost", text)
        self.assertIn(
            "| UDP | 1,000,000 | 200.0 s | 5000 req/s | 0 | 30.0 MiB | 30.0 MiB | 31.0 MiB |", text
        )
