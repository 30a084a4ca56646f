# -*- test-case-name: tests.e2e.test_metrics -*-
"""
End to end: C{twistd sockservice --metrics} as a subprocess, scraped over
HTTP.
"""

from __future__ import annotations

import re
import signal
import socket
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial.unittest import SynchronousTestCase

from tests.support import Server, startServer

LOOPBACK = "tcp:0:interface=127.0.0.1"


def _metricsPort(server: Server) -> int:
    match = server.readUntil(rb"MetricsListener#info\] sockservice: listening on TCP [^\s]+:(\d+)")
    return int(match.group(1))


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _totals(text: str, name: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply


class ReadinessEndToEndTests(SynchronousTestCase):
    """
    C{/readyz} through a shutdown with C{--drain-delay}.
    """

    def test_readyzOnSigterm(self) -> None:
        """
        C{/readyz} answers 503 within 1 s of SIGTERM, while an open
        connection is still served and C{/metrics} still answers; the
        listeners close after the delay and the process ends cleanly.
        """
        server = startServer(
            self, "--tcp", LOOPBACK, "--metrics", LOOPBACK, "--drain-delay", "2", tcp=2, udp=0
        )
        port, metrics = server.tcp[0], _metricsPort(server)
        self.assertEqual(_get(metrics, "/readyz"), (200, b"ready\n"))
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(client.close)
        client.sendall(b"before\n")
        self.assertEqual(client.recv(100), b"BEFORE\n")
        server.process.send_signal(signal.SIGTERM)
        start = time.monotonic()
        while _get(metrics, "/readyz")[0] != 503:
            self.assertLess(time.monotonic() - start, 1.0)
            time.sleep(0.02)
        self.assertLess(time.monotonic() - start, 1.0)
        client.sendall(b"during\n")
        self.assertEqual(client.recv(100), b"DURING\n")
        code, body = _get(metrics, "/metrics")
        self.assertEqual(code, 200)
        self.assertEqual(_totals(body.decode(), "sockservice_ready"), {(): 0.0})
        client.shutdown(socket.SHUT_WR)
        # One SIGTERM only (a second one during a shutdown makes Twisted log
        # a ReactorNotRunning traceback): wait for the end of the delay.
        server.process.wait(timeout=10)
        self.assertIn(server.stop(), (0, -signal.SIGTERM))
        self.assertNotIn(b"Traceback", server.output)


class WorkersMetricsEndToEndTests(SynchronousTestCase):
    """
    C{--workers 2 --metrics}: one scrape of the parent.
    """

    def test_totals(self) -> None:
        """
        The totals of one scrape equal the traffic sent to both workers, and
        the per-worker series add up to them.
        """
        server = startServer(
            self,
            "--workers",
            "2",
            "--tcp",
            LOOPBACK,
            "--udp",
            "udp:0:interface=127.0.0.1",
            "--metrics",
            LOOPBACK,
            tcp=1,
            udp=0,
        )
        metrics = _metricsPort(server)
        server.readUntil(rb"(?s)(?:.*?listening on UDP){3}")
        tcp = int(re.search(rb"listening on TCP [^\s]+:(\d+) with", server.output).group(1))
        udp = int(re.search(rb"listening on UDP [^\s]+:(\d+) with", server.output).group(1))
        connections, sent = 20, 0
        for i in range(connections):
            data = b"message %d\n" % (i,)
            self.assertEqual(_exchange(tcp, data), data.upper())
            sent += len(data)
        datagrams = 15
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            for i in range(datagrams):
                u.sendto(b"x" * i, ("127.0.0.1", udp))
                self.assertEqual(u.recv(100), b"X" * i)
        deadline = time.monotonic() + 5
        while True:
            code, body = _get(metrics, "/metrics")
            text = body.decode()
            tcpLabels = (("protocol", "tcp"), ("service", "uppercase"))
            closed = _totals(text, "sockservice_connections_closed_total")
            if closed.get(tuple(sorted(tcpLabels + (("reason", "client"),)))) == connections:
                break
            self.assertLess(time.monotonic() - deadline, 0, text)
            time.sleep(0.05)
        udpLabels = (("protocol", "udp"), ("service", "uppercase"))
        self.assertEqual(code, 200)
        accepted = _totals(text, "sockservice_connections_accepted_total")
        self.assertEqual(accepted[tcpLabels], connections)
        received = _totals(text, "sockservice_received_bytes_total")
        self.assertEqual(received[tcpLabels], sent)
        self.assertEqual(received[udpLabels], sum(range(datagrams)))
        datagramsIn = _totals(text, "sockservice_requests_received_total")
        self.assertEqual(datagramsIn[udpLabels], datagrams)
        perWorker = _totals(text, "sockservice_worker_connections_accepted_total")
        self.assertEqual(sum(perWorker.values()), connections)
        self.assertEqual({dict(k)["worker"] for k in perWorker}, {"0", "1"})
        self.assertEqual(set(_totals(text, "sockservice_worker_up").values()), {1.0})
