# -*- test-case-name: tests.e2e.test_prometheus -*-
"""
End to end with the real Prometheus tools (Debian packages C{prometheus} and
C{prometheus-blackbox-exporter}), run as subprocesses on loopback: the
configurations in C{deploy/prometheus/} are valid, C{promtool} accepts the
service's C{/metrics}, a real Prometheus scrapes it, and the probes tell the
uppercase service from a plain echo server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.e2e.test_client import clientCommand
from tests.e2e.test_services import frame, readFrame, udpSocket
from tests.support import ROOT, Server, startProcess, startServer

DEPLOY = ROOT / "deploy" / "prometheus"
HOST = "127.0.0.1"

#: A plain echo server for the probes to fail against: TCP replies to one
#: chunk in lower case and closes; UDP sends each datagram back unchanged.
ECHO = """
import selectors, socket, sys
tcp = socket.create_server(("127.0.0.1", 0))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
print("echo tcp %d udp %d" % (tcp.getsockname()[1], udp.getsockname()[1]), flush=True)
selector = selectors.DefaultSelector()
selector.register(tcp, selectors.EVENT_READ)
selector.register(udp, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        if key.fileobj is udp:
            data, peer = udp.recvfrom(65535)
            udp.sendto(data, peer)
        else:
            connection, _ = tcp.accept()
            with connection:
                connection.settimeout(5)
                connection.sendall(connection.recv(65535).lower())
"""


def requireTool(name: str, package: str) -> str:
    """
    The path of the executable C{name}; skip the test when it is absent.
    """
    found = shutil.which(name)
    if found is None:
        raise SkipTest(f"{name} not found (Debian: apt-get install {package})")
    return found


def tempDirectory(case: SynchronousTestCase) -> Path:
    """
    A fresh directory, removed after the test (not under the checkout).
    """
    directory = tempfile.mkdtemp(prefix="sockservice-prometheus-")
    case.addCleanup(shutil.rmtree, directory, True)
    return Path(directory)


def freePort() -> int:
    """
    A TCP port of 127.0.0.1 that was free a moment ago (for tools that cannot
    listen on port 0 and report the port: L{startTool} retries on a race).
    """
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def startTool(
    case: SynchronousTestCase, command: Callable[[int], List[str]], ready: bytes
) -> Tuple[Server, int]:
    """
    Start C{command(port)} on a free port, wait for C{ready} in its output and
    stop it (by PID) at cleanup; try another port if that one was taken.
    """
    for _ in range(3):
        port = freePort()
        tool = startProcess(case, command(port), None)
        try:
            tool.readUntil(ready, timeout=30)
        except AssertionError:
            if tool.process.poll() is not None and b"address already in use" in tool.output:
                continue
            raise
        return tool, port
    raise AssertionError(f"no free port for {command(0)!r} after three tries")


def get(url: str, timeout: float = 10.0) -> Tuple[int, bytes]:
    """
    GET C{url}: the status and the body, also for an HTTP error status.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def pollUntil(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """
    Call C{check} until it returns something true, at most C{timeout}
    seconds: the state of another process behind HTTP has no event to wait on.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def ports(server: Server) -> Dict[str, int]:
    """
    The port of each of the server's listeners, by its factory or protocol
    class (C{UppercaseFactory}, C{ChatProtocol}...), as Twisted logs them.
    """
    found = re.findall(rb"\] (\w+)(?: \(\w+\))? starting on (\d+)", server.output)
    return {name.decode(): int(port) for name, port in found}


def tcpExchange(port: int, data: bytes, expected: bytes) -> None:
    """
    Send C{data} on a new connection and read until C{expected} came back.
    """
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(data)
        reply = b""
        while len(reply) < len(expected):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply == expected, (reply, expected)


class ConfigCheckTests(SynchronousTestCase):
    """
    The tools' own checkers accept the configurations in C{deploy/prometheus/}.
    """

    def check(self, command: List[str], good: Path, bad: str) -> None:
        result = subprocess.run(command + [str(good)], capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        broken = tempDirectory(self) / good.name
        broken.write_text(good.read_text() + bad)
        result = subprocess.run(command + [str(broken)], capture_output=True, timeout=60)
        self.assertNotEqual(result.returncode, 0, "the check is vacuous")

    def test_prometheus(self) -> None:
        """C{promtool check config} accepts prometheus.yml (and not a broken copy)."""
        promtool = requireTool("promtool", "prometheus")
        self.check(
            [promtool, "check", "config"], DEPLOY / "prometheus.yml", "  - job_name: sockservice\n"
        )

    def test_blackbox(self) -> None:
        """The exporter's C{--config.check} accepts blackbox.yml (and not a broken copy)."""
        exporter = requireTool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
        self.check(
            [exporter, "--config.check", "--config.file"],
            DEPLOY / "blackbox.yml",
            # (Not "prober: udp": the check accepts an unknown prober.)
            "  sockservice_typo:\n    prober: tcp\n    tcp:\n      query_responses: []\n",
        )

    def test_probeUnits(self) -> None:
        """C{systemd-analyze verify} passes the UDP probe's timer and service, without a warning."""
        analyze = requireTool("systemd-analyze", "systemd")
        directory = tempDirectory(self)
        for name in ("sockservice-udp-probe.service", "sockservice-udp-probe.timer"):
            text = (DEPLOY / name).read_text()
            # verify checks that the command exists: point it at this checkout's.
            text = text.replace(
                "/opt/sockservice/bin/sockservice-udp-probe", str(DEPLOY / "sockservice-udp-probe")
            )
            (directory / name).write_text(text)
        result = subprocess.run(
            [
                analyze,
                "verify",
                str(directory / "sockservice-udp-probe.timer"),
                str(directory / "sockservice-udp-probe.service"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))


class ProbeTests(SynchronousTestCase):
    """
    The probes of C{deploy/prometheus/} succeed against the uppercase service
    and fail against a plain echo server.
    """

    def setUp(self) -> None:
        self.server = startServer(self)
        self.echo = startProcess(self, [sys.executable, "-c", ECHO], None)
        match = self.echo.readUntil(rb"echo tcp (\d+) udp (\d+)")
        self.echoTCP, self.echoUDP = int(match.group(1)), int(match.group(2))

    def blackbox(self) -> Callable[[str, str], bytes]:
        """
        Start the real blackbox exporter with C{deploy/prometheus/blackbox.yml};
        return a function of a module and a target that probes it and returns
        the C{probe_success} line.
        """
        exporter = requireTool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
        config = str(DEPLOY / "blackbox.yml")
        _, port = startTool(
            self,
            lambda port: [exporter, "--config.file", config, f"--web.listen-address={HOST}:{port}"],
            rb'msg="Listening on"',
        )

        def probe(module: str, target: str) -> bytes:
            query = urllib.parse.urlencode({"module": module, "target": target})
            status, body = get(f"http://{HOST}:{port}/probe?{query}")
            self.assertEqual(status, 200, body)
            [line] = re.findall(rb"(?m)^probe_success .*$", body)
            return line

        return probe

    def test_blackboxTCP(self) -> None:
        """
        The real blackbox exporter's C{sockservice_tcp} module reports
        C{probe_success 1} against the service and C{0} against the echo.
        """
        probe = self.blackbox()
        self.assertEqual(
            probe("sockservice_tcp", f"{HOST}:{self.server.tcp[0]}"), b"probe_success 1"
        )
        self.assertEqual(probe("sockservice_tcp", f"{HOST}:{self.echoTCP}"), b"probe_success 0")

    def test_blackboxReady(self) -> None:
        """
        The C{sockservice_ready} module reports C{probe_success 1} for the
        C{/readyz} of a running service, and C{0} for a page that is not there.
        """
        probe = self.blackbox()
        _, metrics = metricsServer(self, "--tcp", "tcp:0:interface=127.0.0.1", tcp=1, udp=0)
        self.assertEqual(
            probe("sockservice_ready", f"http://{HOST}:{metrics}/readyz"), b"probe_success 1"
        )
        self.assertEqual(
            probe("sockservice_ready", f"http://{HOST}:{metrics}/nothing"), b"probe_success 0"
        )

    def test_udpProbe(self) -> None:
        """
        sockservice-udp-probe writes C{probe_success 1} against the service and
        C{0} against the echo, in a format C{promtool check metrics} accepts.
        """
        env = dict(os.environ, SOCKSERVICE_CLIENT=clientCommand()[0])
        results = {}
        for name, port in [("service", self.server.udp[0]), ("echo", self.echoUDP)]:
            result = subprocess.run(
                [str(DEPLOY / "sockservice-udp-probe"), HOST, str(port), "-"],
                capture_output=True,
                env=env,
                timeout=30,
            )
            self.assertEqual((result.returncode, result.stderr), (0, b""))
            [value] = re.findall(
                rb'(?m)^probe_success\{module="sockservice_udp",[^}]*\} (\d)$', result.stdout
            )
            results[name] = value
            promtool = shutil.which("promtool")
            if promtool is not None:
                check = subprocess.run(
                    [promtool, "check", "metrics"],
                    input=result.stdout,
                    capture_output=True,
                    timeout=60,
                )
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(results, {"service": b"1", "echo": b"0"})


def metricsServer(case: SynchronousTestCase, *args: str, tcp: int, udp: int) -> Tuple[Server, int]:
    """
    Start twistd with C{args} and C{--metrics} on loopback port 0; return it
    and its metrics port.  Skip where this sockservice has no C{--metrics}.
    """
    from sockservice.tap import Options

    if "metrics" not in Options().opts:
        raise SkipTest("this sockservice has no --metrics option")
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise SkipTest(
            "prometheus_client is not installed: pip install 'sockservice[metrics]'"
        ) from None
    server = startServer(
        case, *args, "--metrics", "tcp:0:interface=127.0.0.1", tcp=tcp + 1, udp=udp
    )
    # The HTTP listener's factory is sockservice.server.health's HealthSite.
    metrics = ports(server)["HealthSite"]
    return server, metrics


class PromtoolMetricsTests(SynchronousTestCase):
    """
    C{promtool check metrics} accepts what C{/metrics} serves.
    """

    def test_afterTrafficOnEveryService(self) -> None:
        """
        After TCP, UDP, time, chat and command traffic, a scrape passes
        C{promtool check metrics} without an error or a lint warning.
        """
        promtool = requireTool("promtool", "prometheus")
        allow = tempDirectory(self) / "commands.ini"
        allow.write_text(f"[hello]\nargv = {sys.executable} -c \"print('hi')\"\n")
        local = "tcp:0:interface=127.0.0.1"
        localUDP = "udp:0:interface=127.0.0.1"
        server, metrics = metricsServer(
            self,
            *("--tcp", local, "--udp", localUDP, "--time", localUDP, "--chat", localUDP),
            *("--command", local, "--command-allow", str(allow)),
            tcp=2,
            udp=3,
        )
        found = ports(server)
        tcpExchange(found["UppercaseFactory"], b"hello\n", b"HELLO\n")
        with udpSocket() as s:
            s.sendto(b"hello", (HOST, found["UppercaseDatagramProtocol"]))
            self.assertEqual(s.recvfrom(100)[0], b"HELLO")
            s.sendto(b"%Y", (HOST, found["TimeDatagramProtocol"]))
            self.assertRegex(s.recvfrom(100)[0], rb"^\d{4}$")
            chat = found["ChatProtocol"]
            s.sendto(b"JOIN alice".ljust(64), (HOST, chat))
            cookie = s.recvfrom(100)[0]
            s.sendto(b"JOIN alice " + cookie[7:].ljust(64), (HOST, chat))
            self.assertEqual(s.recvfrom(100)[0], b"JOINED alice")
            s.sendto(b"MSG hi", (HOST, chat))
        with socket.create_connection((HOST, found["CommandFactory"]), timeout=10) as s:
            s.sendall(frame(b"run", b"hello") + frame(b"run", b"nope"))
            self.assertEqual(readFrame(s), [b"exit 0", b"hi\n", b""])
            self.assertEqual(readFrame(s)[0], b"refused unknown command")
        status, body = get(f"http://{HOST}:{metrics}/metrics")
        self.assertEqual(status, 200, body)
        self.assertIn(b"sockservice_", body)
        check = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
        )
        self.assertEqual((check.returncode, check.stdout + check.stderr), (0, b""), body.decode())


class PrometheusScrapeTests(SynchronousTestCase):
    """
    A real Prometheus scrapes the service.
    """

    def test_upAndConnectionCount(self) -> None:
        """
        A Prometheus on loopback, scraping every second, reports the target
        C{up}, and a query returns the number of connections the service
        accepted.
        """
        prometheus = requireTool("prometheus", "prometheus")
        server, metrics = metricsServer(
            self,
            "--tcp",
            "tcp:0:interface=127.0.0.1",
            "--udp",
            "udp:0:interface=127.0.0.1",
            tcp=1,
            udp=1,
        )
        for n in range(3):
            tcpExchange(server.tcp[0], b"ping %d\n" % (n,), b"PING %d\n" % (n,))
        directory = tempDirectory(self)
        config = directory / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - {{job_name: sockservice, static_configs: [{{targets: ['{HOST}:{metrics}']}}]}}\n"
        )
        _, port = startTool(
            self,
            lambda port: [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={HOST}:{port}",
            ],
            rb"Server is ready to receive web requests",
        )
        api = f"http://{HOST}:{port}/api/v1/"

        def query(expression: str) -> Any:
            status, body = get(api + "query?" + urllib.parse.urlencode({"query": expression}))
            self.assertEqual(status, 200, body)
            return json.loads(body)["data"]["result"]

        def targetUp() -> bool:
            status, body = get(api + "targets")
            targets = json.loads(body)["data"]["activeTargets"]
            return [t["health"] for t in targets] == ["up"]

        pollUntil(targetUp, 30, "the target up")
        self.assertEqual(query('up{job="sockservice"}')[0]["value"][1], "1")
        accepted = 'sum(sockservice_connections_accepted_total{service="uppercase",protocol="tcp"})'
        [result] = pollUntil(lambda: query(accepted), 30, accepted)
        self.assertEqual(result["value"][1], "3")
