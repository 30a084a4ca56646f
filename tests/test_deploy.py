# -*- test-case-name: tests.test_deploy -*-
"""
Tests for the systemd unit files in C{deploy/systemd/}: what they say, and
that their C{twistd sockservice} arguments parse.  C{systemd-analyze} checks
them in L{tests.e2e.test_deploy}, and the socket-activated arguments are parsed
against real sockets in L{tests.integration.test_deploy}.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from twisted.trial.unittest import SkipTest, TestCase

from sockservice.tap import Options

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
SERVICE = "sockservice.service"
SOCKET = "sockservice.socket"
STANDALONE = "sockservice-standalone.service"
INSTALLED_TWISTD = "/opt/sockservice/bin/twistd"

#: The highest acceptable "overall exposure level" (0 to 10, lower is safer).
MAX_EXPOSURE = {SERVICE: 1.0, STANDALONE: 1.5}


#: The opt-in lines (commented out): C{--metrics} on 127.0.0.1:9812.
METRICS_LINES = ("#ExecStart=", "#ListenStream=127.0.0.1:")


def optIn(text: str) -> str:
    """
    A unit's text with its opt-in metrics lines uncommented; a commented
    C{ExecStart=} replaces the unit's own.
    """
    lines = text.replace("\\\n", " ").splitlines(keepends=True)
    if any(line.startswith("#ExecStart=") for line in lines):
        lines = [line for line in lines if not line.startswith("ExecStart=")]
    return "".join(line[1:] if line.startswith(METRICS_LINES) else line for line in lines)


def readUnit(name: str, metrics: bool = False) -> dict[str, list[tuple[str, str]]]:
    """
    Parse a unit file into its sections' C{(key, value)} pairs, in order,
    joining continued lines.

    @param metrics: read it with its opt-in metrics lines uncommented.
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    text = (UNITS / name).read_text()
    text = (optIn(text) if metrics else text).replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def values(name: str, section: str, key: str, metrics: bool = False) -> list[str]:
    """
    All the values of C{key} in C{section} of unit C{name}.
    """
    return [v for k, v in readUnit(name, metrics)[section] if k == key]


def command(name: str, metrics: bool = False) -> list[str]:
    """
    The C{ExecStart=} of unit C{name}, split into words.
    """
    [execStart] = values(name, "Service", "ExecStart", metrics)
    return shlex.split(execStart)


def sockserviceArguments(name: str, metrics: bool = False) -> list[str]:
    """
    The arguments after C{sockservice} in the C{ExecStart=} of unit C{name}.
    """
    words = command(name, metrics)
    return words[words.index("sockservice") + 1 :]


class UnitContentTests(TestCase):
    """
    The unit files say what the deployment needs.
    """

    def test_socketPorts(self) -> None:
        """
        The socket unit listens on TCP 12000 and then UDP 12000.
        """
        listen = [(k, v) for k, v in readUnit(SOCKET)["Socket"] if k.startswith("Listen")]
        self.assertEqual(listen, [("ListenStream", "12000"), ("ListenDatagram", "12000")])

    def test_twistdCommand(self) -> None:
        """
        Both services run C{twistd --nodaemon --pidfile= sockservice} in the
        foreground, logging to stdout for the journal, each line with its
        syslog priority, with a drain period.
        """
        for name in (SERVICE, STANDALONE):
            words = command(name)
            self.assertEqual(
                words[: words.index("sockservice") + 1],
                [
                    INSTALLED_TWISTD,
                    "--nodaemon",
                    "--pidfile=",
                    "--logger",
                    "sockservice.logs.journal",
                    "sockservice",
                ],
            )
            self.assertIn("--drain", words)
            self.assertEqual(values(name, "Service", "Type"), ["notify"])

    def test_socketActivatedCommand(self) -> None:
        """
        The socket-activated service takes the stream socket (index 0, an
        IPv6 dual-stack socket) for TCP and the datagram socket (index 1)
        for UDP, in the order the socket unit lists them.
        """
        words = sockserviceArguments(SERVICE)
        self.assertEqual(
            words[:4],
            ["--tcp", "systemd:domain=INET6:index=0", "--udp", "systemd:index=1"],
        )
        self.assertEqual(values(SERVICE, "Unit", "Requires"), [SOCKET])

    def test_standaloneDefaults(self) -> None:
        """
        The standalone service names no listener, so it serves the defaults
        (TCP and UDP 12000), and conflicts with the socket-activated pair.
        """
        words = command(STANDALONE)
        self.assertNotIn("--tcp", words)
        self.assertNotIn("--udp", words)
        [conflicts] = values(STANDALONE, "Unit", "Conflicts")
        self.assertEqual(set(conflicts.split()), {SOCKET, SERVICE})

    def test_sandbox(self) -> None:
        """
        Both services run as a dynamic user with no capabilities, a read-only
        system, no home directories and the system-service call filter.
        """
        for name in (SERVICE, STANDALONE):
            service = dict(readUnit(name)["Service"])
            for key, value in [
                ("DynamicUser", "yes"),
                ("CapabilityBoundingSet", ""),
                ("AmbientCapabilities", ""),
                ("NoNewPrivileges", "yes"),
                ("ProtectSystem", "strict"),
                ("ProtectHome", "yes"),
                ("PrivateTmp", "yes"),
            ]:
                self.assertEqual((name, key, service.get(key)), (name, key, value))
            self.assertEqual(values(name, "Service", "SystemCallFilter")[0], "@system-service")
            self.assertEqual(
                set(service["RestrictAddressFamilies"].split()),
                {"AF_UNIX", "AF_INET", "AF_INET6"},
            )

    def test_privateNetworkOnlyWhenActivated(self) -> None:
        """
        Only the socket-activated service, which binds nothing itself, has no
        network of its own.
        """
        self.assertEqual(values(SERVICE, "Service", "PrivateNetwork"), ["yes"])
        self.assertEqual(values(STANDALONE, "Service", "PrivateNetwork"), [])

    def test_drainWithinStopTimeout(self) -> None:
        """
        The drain period (plus a second's grace) ends well before systemd
        would kill the service.
        """
        for name in (SERVICE, STANDALONE):
            words = command(name)
            drain = float(words[words.index("--drain") + 1])
            [timeout] = values(name, "Service", "TimeoutStopSec")
            self.assertLess(drain + 1, float(timeout))


class CommandLineTests(TestCase):
    """
    The units' C{twistd sockservice} arguments are valid options.
    """

    def test_standalone(self) -> None:
        """
        The standalone service's arguments parse, with the default listeners.
        """
        options = Options()
        options.parseOptions(sockserviceArguments(STANDALONE))
        uppercase = options.config.uppercase
        self.assertEqual(
            ([d for d, _ in uppercase.tcp], [d for d, _ in uppercase.udp]), (["12000"], ["12000"])
        )

    def test_openFilesLimit(self) -> None:
        """
        C{LimitNOFILE=} leaves room for the default connection cap, so the
        service never needs to raise its limit (C{setrlimit}) in the sandbox.
        """
        options = Options()
        options.parseOptions([])
        for name in (SERVICE, STANDALONE):
            [limit] = values(name, "Service", "LimitNOFILE")
            self.assertGreaterEqual(int(limit), options["max-connections"] + 256)


class MetricsOptInTests(TestCase):
    """
    Each unit has an opt-in, commented C{--metrics} line on loopback port
    9812, the port that C{deploy/prometheus/prometheus.yml} scrapes.
    """

    def test_standalone(self) -> None:
        """
        Uncommented, the standalone service's line is its usual command with
        C{--metrics 9812} (a bare port: 127.0.0.1 only).
        """
        self.assertEqual(
            command(STANDALONE, metrics=True), command(STANDALONE) + ["--metrics", "9812"]
        )

    def test_socketActivated(self) -> None:
        """
        The socket-activated service, which has no network of its own, takes
        its metrics socket from systemd: the socket unit's third socket, on
        127.0.0.1:9812.
        """
        self.assertEqual(
            command(SERVICE, metrics=True),
            command(SERVICE) + ["--metrics", "systemd:domain=INET:index=2"],
        )
        listen = [
            k + "=" + v
            for k, v in readUnit(SOCKET, metrics=True)["Socket"]
            if k.startswith("Listen")
        ]
        self.assertEqual(
            listen, ["ListenStream=12000", "ListenDatagram=12000", "ListenStream=127.0.0.1:9812"]
        )

    def test_scrapedPort(self) -> None:
        """
        The scrape configuration's sockservice job scrapes 127.0.0.1:9812.
        """
        text = (UNITS.parent / "prometheus" / "prometheus.yml").read_text()
        job = re.search(r"job_name: sockservice\n.*?targets: \[(.*?)\]", text, re.S)
        assert job is not None
        self.assertEqual(job.group(1), '"127.0.0.1:9812"')

    def test_arguments(self) -> None:
        """
        The standalone service's opt-in arguments parse, when this
        sockservice has C{--metrics}.
        """
        options = Options()
        if "metrics" not in options.opts:
            raise SkipTest("this sockservice has no --metrics option")
        # The socket-activated service's need its sockets: tests.integration.test_deploy.
        options.parseOptions(sockserviceArguments(STANDALONE, metrics=True))
        self.assertEqual(options["metrics"], "9812")
