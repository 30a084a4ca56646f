# -*- test-case-name: bench.tests.test_probe -*-
"""
Tests for L{bench.probe}: its percentile, its blocking clients, how it runs
the probe and reads its document and memory, and its Markdown report.
"""

import json
import socket
import sys
import threading

from twisted.trial.unittest import SynchronousTestCase

from bench import probe


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
        self.assertEqual([probe.percentile(values, p) for p in (50, 90, 100, 0)], [5, 9, 10, 1])
        self.assertRaises(ValueError, probe.percentile, [], 50)

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
            for client in (probe.blockingUDP, probe.blockingTCP):
                times = client(server.port, 20)
                self.assertEqual(len(times), 20)
                self.assertTrue(all(0 < t < 2_000_000 for t in times), times)
        finally:
            server.close()


class RunProbeTests(SynchronousTestCase):
    """
    L{probe.runProbe} runs a command to its end and reads its JSON document
    and its memory.
    """

    def test_document(self):
        """
        The document comes back with the resident memory sampled while it
        ran and its peak, at least the 20 MiB the command held.
        """
        code = ("import json, time; held = bytearray(20 << 20); time.sleep(0.3); "
                f"print(json.dumps({_document()!r}))")  # fmt: skip
        document = probe.runProbe([sys.executable, "-c", code], sample=0.05)
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
        error = self.assertRaises(RuntimeError, probe.runProbe, [sys.executable, "-c", code])
        self.assertEqual(str(error), "probe exited with status 1: probe: connection refused")

    def test_notJSON(self):
        """
        Output that is not a version 1 document is a L{RuntimeError}.
        """
        error = self.assertRaises(RuntimeError, probe.parseDocument, 0, b"PING", b"")
        self.assertEqual(str(error), "probe wrote no JSON document: ")
        self.assertRaises(RuntimeError, probe.parseDocument, 0, json.dumps([1]).encode(), b"")


class ReportTests(SynchronousTestCase):
    """
    The rows and the Markdown report.
    """

    def test_rows(self):
        """
        The latency row compares the p50s; the memory row takes the RSS a
        tenth of the way in and at the end.
        """
        row = probe.latencyRow([100.0, 40.0, 60.0], _document(p50=72.0))
        self.assertEqual(row["blocking_p50_us"], 60.0)
        self.assertAlmostEqual(row["ratio"], 1.2)
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
            "latency": {"udp": probe.latencyRow([50.0], _document(p50=60.0)),
                        "tcp": probe.latencyRow([40.0], _document(p50=50.0))},
            "rate": {"udp": probe.rateRow(_document(rate=41234.0)),
                     "tcp": probe.rateRow(_document(rate=52000.0))},
            "memory": {"udp": probe.memoryRow(dict(_document(sent=1_000_000, answered=1_000_000),
                                                   rss=[[t, 30 << 20] for t in range(10)],
                                                   peak_rss=31 << 20))},
        }  # fmt: skip
        text = probe.renderMarkdown(results)
        self.assertIn("Machine: x86_64, 2 CPUs; 2025-01-01; `python3 bench/probe.py`.", text)
        self.assertIn("| 64-byte requests on loopback | UDP | TCP |", text)
        self.assertIn("| probe / blocking (target ≤ 1.5×) | 1.20× | 1.25× |", text)
        self.assertIn("41.2k req/s, 0.0% lost", text)
        self.assertIn(
            "| UDP | 1,000,000 | 200.0 s | 5000 req/s | 0 | 30.0 MiB | 30.0 MiB | 31.0 MiB |", text
        )
