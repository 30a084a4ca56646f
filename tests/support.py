"""
Helpers for end-to-end tests: run C{twistd -n sockservice} (or an example
program) as a subprocess on free ports, learn the ports it bound from its log,
and stop it by its PID.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from twisted.trial.unittest import SkipTest, TestCase

from sockservice.server.workers import twistdCommand

__all__ = [
    "assertUsageExit",
    "ROOT",
    "EXAMPLES",
    "Server",
    "startProcess",
    "startServer",
    "startExample",
    "twistdCommand",
]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_listening = re.compile(rb"listening on (TCP|UDP) (\S+):(\d+)")


def assertUsageExit(testCase: TestCase, status: int, output: bytes, error: bytes) -> None:
    """
    Assert that twistd stopped on a usage error whose message contains
    C{error}, and exited with the status of that Twisted's twistd.

    On a usage error twistd prints its usage text and then one line
    C{COMMAND: MESSAGE} on standard output.  It then exits with status 1 from
    Twisted 26.10 on; older Twisted (22.10 to 26.4; 26.4 is the last for
    Python 3.9, and PyPy) returns after printing, so the status is 0 there and
    the printed error is what shows the usage error.

    @param output: what twistd wrote (standard output, or both streams).
    @param error: a part of the usage error's message.
    """
    import twisted

    usage = output.find(b"Usage: twistd [options]")
    testCase.assertNotEqual(usage, -1, output)
    line = re.compile(rb"(?m)^\S[^\n]*: [^\n]*" + re.escape(error))
    testCase.assertIsNotNone(line.search(output, usage), output)
    version = tuple(int(part) for part in twisted.__version__.split(".")[:2])
    testCase.assertEqual(status, 1 if version >= (26, 10) else 0, output)


class Server:
    """
    A server subprocess and the ports it is listening on.

    @ivar tcp: the TCP ports, in the order they were announced.
    @ivar udp: the UDP ports, likewise.
    @ivar output: everything it wrote so far (stdout and stderr together).
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.tcp: list[int] = []
        self.udp: list[int] = []
        self.output = b""

    def _readMore(self, deadline: float, waitingFor: object) -> None:
        """
        Append the next chunk of output, or fail at C{deadline} or at its end.
        """
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            left = deadline - time.monotonic()
            chunk = b""
            if left > 0 and selector.select(left):
                chunk = os.read(self.process.stdout.fileno(), 65536)
        if not chunk:
            raise AssertionError(
                f"no {waitingFor!r} in the output (ended or timed out):\n"
                + self.output.decode(errors="replace")
            )
        self.output += chunk

    def readUntil(self, pattern: bytes, timeout: float = 15.0) -> re.Match[bytes]:
        """
        Read output until C{pattern} appears in it; fail after C{timeout}
        seconds or at the end of the output.
        """
        deadline = time.monotonic() + timeout
        while not (match := re.search(pattern, self.output)):
            self._readMore(deadline, pattern)
        return match

    def waitListening(self, tcp: int, udp: int, timeout: float = 15.0) -> None:
        """
        Wait until C{tcp} TCP and C{udp} UDP listeners have been announced,
        and record their ports.
        """
        deadline = time.monotonic() + timeout
        while True:
            found: dict[bytes, list[int]] = {b"TCP": [], b"UDP": []}
            for match in _listening.finditer(self.output):
                found[match.group(1)].append(int(match.group(3)))
            self.tcp, self.udp = found[b"TCP"], found[b"UDP"]
            if len(self.tcp) >= tcp and len(self.udp) >= udp:
                return
            self._readMore(deadline, "listening announcements")

    def stop(self, timeout: float = 15.0) -> int:
        """
        SIGTERM the process (if still running), wait for it, read the rest of
        its output, and return its exit status.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
            raise AssertionError("server did not stop within %s s" % (timeout,))
        self.output += rest or b""
        return self.process.returncode


def startProcess(testCase: TestCase, command: list[str], env: Optional[dict[str, str]]) -> Server:
    """
    Run C{command} with its output collected, and stop it at cleanup.
    """
    environment = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
        env=environment,
    )
    server = Server(process)
    testCase.addCleanup(_cleanup, server)
    return server


def _cleanup(server: Server) -> None:
    if server.process.poll() is None:
        server.stop()
    elif server.process.stdout is not None:
        server.process.communicate()


def startServer(
    testCase: TestCase,
    *args: str,
    tcp: int = 1,
    udp: int = 1,
    env: Optional[dict[str, str]] = None,
) -> Server:
    """
    Start C{twistd -n sockservice ARGS} (by default on TCP and UDP port 0 of
    127.0.0.1), wait until its listeners are up, and stop it at cleanup.

    @param tcp: how many TCP listeners to wait for.
    @param udp: how many UDP listeners to wait for.
    """
    if not args:
        args = ("--tcp", "tcp:0:interface=127.0.0.1", "--udp", "udp:0:interface=127.0.0.1")
    server = startProcess(testCase, twistdCommand(*args), env)
    server.waitListening(tcp, udp)
    return server


def startExample(testCase: TestCase, name: str) -> tuple[Server, int]:
    """
    Start one of the textbook example servers on a free port; return it and
    its port.
    """
    server = startProcess(testCase, [sys.executable, str(EXAMPLES / name), "0"], None)
    match = server.readUntil(rb"ready to receive on port (\d+)")
    return server, int(match.group(1))


def requireIPv6() -> None:
    """
    Skip the calling test when this machine has no IPv6 loopback.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        raise SkipTest("no IPv6 loopback (::1) on this machine")
