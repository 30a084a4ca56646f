# -*- test-case-name: tests.e2e.test_cluster -*-
"""
End-to-end tests of C{deploy/cluster/run}: the real HAProxy (TCP, PROXY
protocol v2) and nginx (UDP) in front of three C{twistd sockservice}
instances on 127.0.1.1-3.  Skipped, with the reason, where HAProxy, nginx or
its stream module is missing (C{.ci/run} installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from twisted.trial.unittest import SkipTest, TestCase

from tests.support import ROOT, Server, startProcess

SCRIPT = ROOT / "deploy" / "cluster" / "run"
# Loopback clients are limited like others, and UDP sources are
# rate-limited per address (not per /24): only the PROXY headers then tell
# the clients apart from the balancers.
INSTANCE_ARGS = ["--max-per-ip=5", "--limit-loopback", "--udp-prefix-v4=32"]


def _requirements() -> str:
    """Why these tests cannot run here, or C{""}."""
    for tool, package in [("haproxy", "haproxy"), ("nginx", "nginx")]:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt install {package})"
    if not os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
        return "nginx's stream module is not installed (Debian: apt install libnginx-mod-stream)"
    try:
        with socket.socket() as s:
            s.bind(("127.0.1.3", 0))
    except OSError:
        return "cannot bind 127.0.1.3 (loopback is not 127.0.0.0/8 here)"
    return ""


class Cluster:
    """
    A running C{deploy/cluster/run}, its ports, directory and processes.
    """

    def __init__(self, testCase: TestCase, *args: str) -> None:
        reason = _requirements()
        if reason:
            raise SkipTest(reason)
        self.directory = Path(tempfile.mkdtemp(prefix="sockservice-cluster-test-"))
        testCase.addCleanup(shutil.rmtree, self.directory, True)
        command = [sys.executable, str(SCRIPT), "--port=0", "--chat-port=0"]
        command += [f"--dir={self.directory}", *args, "--", *INSTANCE_ARGS]
        # Cleanups run last first: this one after the script has stopped.
        testCase.addCleanup(self._killLeftovers)
        self.process: Server = startProcess(testCase, command, None)
        ready = self.process.readUntil(rb"ready: (.*)\n", timeout=60).group(1).decode()
        self.fields: Dict[str, str] = dict(field.split("=", 1) for field in ready.split())
        self.port = int(self.fields["tcp"].rsplit(":", 1)[1])
        self.chatPort = int(self.fields["chat"].rsplit(":", 1)[1])
        self.servicePort = int(self.fields["service-port"])
        self.readiness = self.fields["metrics-port"] != "-"

    def pids(self) -> Dict[str, int]:
        """The latest PID of each process the script started, by name."""
        found = re.findall(rb"(\w+) pid=(\d+)", self.process.output)
        return {name.decode(): int(pid) for name, pid in found}

    def _killLeftovers(self) -> None:
        """
        After the script has stopped: anything it started and left running
        is killed, found by its output, which goes to a log in the cluster's
        directory (nginx's workers too; no PID reused since can match).
        """
        pids = set()
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.readlink(entry / "fd" / "1").startswith(
                    str(self.directory)
                ):
                    pids.add(int(entry.name))
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def served(self) -> Counter[str]:
        """How many TCP connections HAProxy has sent to each instance."""
        return Counter(re.findall(r"sockservice_instances/(instance\d)", self.log("haproxy")))


def textbookClient(
    port: int, message: bytes, source: str = "127.0.0.1", timeout: float = 5.0
) -> bytes:
    """
    The textbook TCP client: connect (from C{source}), send, read the reply
    line, close.  Returns what was read (C{b""}: closed without a reply).
    """
    with socket.socket() as s:
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(message + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


def _inThreads(count: int, work: Callable[[int], object]) -> List[object]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


class TCPThroughHAProxyTests(TestCase):
    """
    HAProxy balances TCP over the three instances, which see each client's
    own address from the PROXY header.
    """

    def test_textbookClients(self) -> None:
        """
        300 textbook clients through HAProxy are all answered correctly, and
        every instance serves some of them.
        """
        cluster = Cluster(self)
        before = cluster.served()

        def client(worker: int) -> List[Tuple[bytes, bytes]]:
            source = f"127.0.0.{10 + worker}"  # one connection per source at a time
            return [
                (textbookClient(cluster.port, m, source), m.upper() + b"\n")
                for m in (f"hello {worker} {n}".encode() for n in range(30))
            ]

        results = [pair for batch in _inThreads(10, client) for pair in batch]  # type: ignore[attr-defined]
        self.assertEqual(len(results), 300)
        self.assertEqual([got for got, _ in results], [want for _, want in results])
        spread = cluster.served() - before
        self.assertEqual(sorted(spread), ["instance1", "instance2", "instance3"], spread)

    def test_capsSeeTheClient(self) -> None:
        """
        With C{--max-per-ip 5} on each instance, clients from 127.0.0.2 and
        from 127.0.0.3 each get their own 5 connections per instance (15 of
        20 held open), and the instances log those addresses as refused, not
        HAProxy's; a connection straight to an instance, without a PROXY
        header, is closed unanswered and logged.
        """
        cluster = Cluster(self)
        held: Dict[str, List[socket.socket]] = {}
        try:
            for source in ("127.0.0.2", "127.0.0.3"):
                # The instances log one refusal line a second (with a count
                # of the others): let the first source's lines pass.
                time.sleep(1.1 if held else 0)
                held[source] = []
                for _ in range(20):
                    s = socket.socket()
                    s.settimeout(3)
                    s.bind((source, 0))
                    s.connect(("127.0.0.1", cluster.port))
                    s.sendall(b"a\n")
                    held[source].append(s)
            answered = {source: sum(_reply(s) == b"A\n" for s in held[source]) for source in held}
        finally:
            for sockets in held.values():
                for s in sockets:
                    s.close()
        self.assertEqual(answered, {"127.0.0.2": 15, "127.0.0.3": 15})
        logs = "".join(cluster.log(f"instance{n}") for n in (1, 2, 3))
        refused = set(re.findall(r"refused connection from (\S+):", logs))
        self.assertEqual(refused, {"127.0.0.2", "127.0.0.3"})

        with socket.create_connection(("127.0.1.1", cluster.servicePort), timeout=5) as s:
            s.sendall(b"hello\n")
            self.assertEqual(_reply(s), b"")
        deadline = time.monotonic() + 5
        while "no PROXY header" not in cluster.log("instance1"):
            self.assertLess(time.monotonic(), deadline, "no rejection logged")
            time.sleep(0.05)
        if cluster.readiness:
            url = f"http://127.0.1.1:{cluster.fields['metrics-port']}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                scrape = response.read().decode()
            rejected = re.search(r"^sockservice_proxy_headers_rejected_total (\S+)$", scrape, re.M)
            self.assertIsNotNone(rejected, "no rejection counter on /metrics")
            assert rejected is not None
            self.assertGreaterEqual(float(rejected.group(1)), 1)


def _reply(s: socket.socket) -> bytes:
    """What C{s} receives up to a newline or the close (C{b""}: closed)."""
    reply = b""
    try:
        while not reply.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass
    return reply


class UDPThroughNginxTests(TestCase):
    """
    nginx balances UDP over the three instances, one client address to one
    instance.
    """

    def test_datagrams(self) -> None:
        """
        1,000 datagrams from 40 client addresses are all answered correctly
        through nginx, and every instance answers some of them: nginx's PROXY
        headers give each client its own rate limit (from nginx's address
        alone, 1,000 datagrams would be far past its burst of 100).
        """
        cluster = Cluster(self)

        def client(index: int) -> int:
            good = 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((f"127.0.0.{50 + index}", 0))
                s.connect(("127.0.0.1", cluster.port))
                s.settimeout(2)
                for n in range(25):
                    message = f"datagram {index} {n}".encode()
                    for _ in range(3):  # UDP: retried on a timeout
                        s.send(message)
                        try:
                            reply = s.recv(65536)
                        except socket.timeout:
                            continue
                        good += reply == message.upper()
                        break
            return good

        self.assertEqual(sum(_inThreads(40, client)), 1000)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while True:
            # nginx logs a session when it ends (proxy_responses 1: at once).
            upstreams = Counter(re.findall(r"-> 127\.0\.1\.(\d):", cluster.log("sockservice-udp")))
            if sum(upstreams.values()) >= 1000 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(sorted(upstreams), ["1", "2", "3"], upstreams)
        self.assertGreaterEqual(sum(upstreams.values()), 1000)

    def test_chat(self) -> None:
        """
        Two members join the chat relay through nginx (the cookie round trip
        included), one's message reaches the other, and a leave is seen by
        both.
        """
        cluster = Cluster(self)
        alice, bob = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
        self.addCleanup(alice.close)
        self.addCleanup(bob.close)

        def send(s: socket.socket, text: str, pad: int = 0) -> None:
            s.sendto(text.encode().ljust(pad), ("127.0.0.1", cluster.chatPort))

        def receive(s: socket.socket) -> str:
            return s.recv(65536).decode().rstrip("\r\n")

        for s, name in ((alice, "alice"), (bob, "bob")):
            s.settimeout(5)
            s.bind(("127.0.0.1", 0))
            send(s, f"JOIN {name}", 64)
            cookie = receive(s)
            self.assertTrue(cookie.startswith("COOKIE "), cookie)
            send(s, f"JOIN {name} {cookie.split()[1]}", 64)
            self.assertEqual(receive(s), f"JOINED {name}")
        self.assertEqual(receive(alice), "JOINED bob")
        send(alice, "MSG hello through nginx")
        self.assertEqual(receive(bob), "FROM alice hello through nginx")
        send(bob, "LEAVE")
        self.assertEqual(receive(bob), "LEFT bob")
        self.assertEqual(receive(alice), "LEFT bob")


class _LoopingClients:
    """
    C{count} textbook clients, each from its own source address, looping
    through HAProxy until stopped, counting what they get.
    """

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.results: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(index,), daemon=True)
            for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            message = f"failover {index} {n}".encode()
            try:
                reply = textbookClient(self.port, message, f"127.0.0.{100 + index}")
                outcome = "answered" if reply == message.upper() + b"\n" else "wrong"
                if not reply:
                    outcome = "dropped"
            except OSError as e:
                outcome = f"error {type(e).__name__}"
            with self._lock:
                self.results[outcome] += 1
            n += 1
            self._stop.wait(0.01)

    def stop(self) -> Counter[str]:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        return self.results


class FailoverTests(TestCase):
    """
    An instance told to stop leaves HAProxy's rotation (its /readyz turns
    503, and --drain-delay keeps it serving meanwhile) before its listener
    closes; no client notices; once restarted it serves again.
    """

    def test_failover(self) -> None:
        """
        While 50 clients loop through HAProxy, one instance gets SIGTERM:
        every client gets its right reply, none is dropped after being
        accepted; HAProxy marks the instance down before its listener
        closes; the script restarts it and HAProxy sends it traffic again.
        """
        cluster = Cluster(self)
        if not cluster.readiness:
            raise SkipTest("this sockservice has no --metrics and --drain-delay")
        clients = _LoopingClients(cluster.port, 50)
        self.addCleanup(clients.stop)
        deadline = time.monotonic() + 30
        while sum(clients.results.values()) < 200:
            self.assertLess(time.monotonic(), deadline, clients.results)
            time.sleep(0.05)
        down = re.compile(r"instance2 is DOWN")
        started = time.monotonic()
        os.kill(cluster.pids()["instance2"], signal.SIGTERM)
        markedDown = closed = None
        while markedDown is None or closed is None:
            now = time.monotonic()
            self.assertLess(now - started, 20, "instance2 neither marked down nor closed")
            if markedDown is None and down.search(cluster.log("haproxy")):
                markedDown = now - started
            if closed is None:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.1.2", cluster.servicePort)) != 0:
                        closed = now - started
            time.sleep(0.02)
        cluster.process.readUntil(rb"instance2 listening", timeout=30)
        deadline = time.monotonic() + 15
        while not re.search(r"instance2 is DOWN.*instance2 is UP", cluster.log("haproxy"), re.S):
            self.assertLess(time.monotonic(), deadline, "instance2 not back in rotation")
            time.sleep(0.05)
        log = cluster.log("haproxy")
        back = log.rindex("instance2 is UP")
        deadline = time.monotonic() + 10
        while "sockservice_instances/instance2 " not in log[back:]:
            self.assertLess(time.monotonic(), deadline, "no traffic to instance2 after restart")
            time.sleep(0.05)
            log = cluster.log("haproxy")
        results = clients.stop()
        print(
            f"\nfailover: {sum(results.values())} requests by 50 clients: {dict(results)}; "
            f"instance2 out of rotation {markedDown:.2f} s after SIGTERM, "
            f"its listener closed {closed:.2f} s after SIGTERM"
        )
        self.assertEqual(set(results), {"answered"}, results)
        self.assertLess(markedDown, closed)
