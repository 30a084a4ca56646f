# -*- test-case-name: tests.test_client_e2e -*-
"""
End to end: the installed C{sockservice-client} as a subprocess, against
C{twistd -n sockservice}, the textbook servers in C{examples/}, a closed
port and a silent one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import List, Optional

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.support import EXAMPLES, ROOT, requireIPv6, startExample, startServer

HOST = "127.0.0.1"
TIMEOUT = 30


def clientCommand() -> List[str]:
    """
    The installed C{sockservice-client}, next to this interpreter.
    """
    found = shutil.which("sockservice-client", path=os.path.dirname(sys.executable))
    if found is None:
        raise SkipTest("sockservice-client is not installed next to " + sys.executable)
    return [found]


def runClient(
    *args: str, stdin: bytes = b"", command: Optional[List[str]] = None
) -> subprocess.CompletedProcess[bytes]:
    """
    Run the client to completion with C{stdin} piped in.
    """
    return subprocess.run(
        (command or clientCommand()) + list(args),
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        cwd=str(ROOT),
    )


class _Checks(SynchronousTestCase):
    def assertSucceeded(
        self, result: subprocess.CompletedProcess[bytes], out: bytes
    ) -> None:
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(result.stdout, out)

    def assertFailedWith(
        self, result: subprocess.CompletedProcess[bytes], line: str
    ) -> None:
        """
        Status 1, nothing on standard output, one line on standard error.
        """
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr.decode(), f"sockservice-client: {line}\n")


class AgainstServiceTests(_Checks):
    """
    The client and C{twistd -n sockservice}.
    """

    def setUp(self) -> None:
        self.server = startServer(self)
        self.tcp = str(self.server.tcp[0])
        self.udp = str(self.server.udp[0])

    def test_oneShotTCP(self):
        """
        MESSAGE words over TCP: the reply is printed, status 0.
        """
        result = runClient("tcp", "--port", self.tcp, "hello", "straße")
        self.assertSucceeded(result, b"HELLO STRASSE\n")

    def test_oneShotUDP(self):
        """
        MESSAGE words over UDP, through C{python -m sockservice}.
        """
        result = runClient(
            "udp",
            "-p",
            self.udp,
            "hello",
            "world",
            command=[sys.executable, "-m", "sockservice"],
        )
        self.assertSucceeded(result, b"HELLO WORLD\n")

    def test_pipedTCP(self):
        """
        Piped lines over TCP: one reply line per input line, in order, the
        last one even without a final newline.
        """
        lines = b"one\n\nstra\xc3\x9fe\nnot utf-8 \xff\nlast"
        result = runClient("tcp", "--port", self.tcp, stdin=lines)
        self.assertSucceeded(result, b"ONE\n\nSTRASSE\nNOT UTF-8 \xff\nLAST\n")

    def test_pipedUDP(self):
        """
        Piped lines over UDP: each line is one datagram, each reply a line.
        """
        result = runClient("udp", "--port", self.udp, stdin=b"one\ntwo\n\nthree\n")
        self.assertSucceeded(result, b"ONE\nTWO\n\nTHREE\n")

    def streamLines(self, count: int) -> tuple[int, int, bytes]:
        """
        Pipe C{count} lines from another process through the client.

        @return: The client's exit status, its peak resident memory (KiB)
            and its output.
        """
        producer = subprocess.Popen(
            [sys.executable, "-c", f"for i in range({count}): print('line', i)"],
            stdout=subprocess.PIPE,
        )
        assert producer.stdout is not None
        with tempfile.TemporaryFile() as out:
            client = subprocess.Popen(
                clientCommand() + ["tcp", "--port", self.tcp],
                stdin=producer.stdout,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
            producer.stdout.close()
            _, status, usage = os.wait4(client.pid, 0)
            client.returncode = os.waitstatus_to_exitcode(status)
            producer.wait(timeout=TIMEOUT)
            out.seek(0)
            return client.returncode, usage.ru_maxrss, out.read()

    def test_manyLines(self):
        """
        100,000 piped lines stream through, in memory no bigger than for
        1,000 lines.
        """
        count = 100_000
        _, small, _ = self.streamLines(1_000)
        status, big, out = self.streamLines(count)
        self.assertEqual(status, 0)
        replies = out.split(b"\n")
        self.assertEqual(len(replies), count + 1)
        self.assertEqual(replies[-2], b"LINE %d" % (count - 1,))
        self.assertLess(big, small + 16 * 1024, "peak memory grew with the input")


class ExampleClientTests(SynchronousTestCase):
    """
    The reactor-driven example clients work against the service.
    """

    def runExample(self, name: str, port: int) -> bytes:
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / name), HOST, str(port)],
            input=b"hello twisted\n",
            capture_output=True,
            timeout=TIMEOUT,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_tcp(self):
        """
        C{examples/twisted_tcp_client.py} prints the upper-cased sentence.
        """
        server = startServer(self)
        out = self.runExample("twisted_tcp_client.py", server.tcp[0])
        self.assertEqual(out, b"Input lowercase sentence: From Server: HELLO TWISTED\n")

    def test_udp(self):
        """
        C{examples/twisted_udp_client.py} prints the upper-cased sentence.
        """
        server = startServer(self)
        out = self.runExample("twisted_udp_client.py", server.udp[0])
        self.assertEqual(out, b"Input lowercase sentence: From Server: HELLO TWISTED\n")


class IPv6Tests(_Checks):
    """
    The client reaches a server on the IPv6 loopback.
    """

    def setUp(self) -> None:
        requireIPv6()
        self.server = startServer(
            self, "--tcp", r"tcp6:0:interface=\:\:1", "--udp", "udp:0:interface=::1"
        )

    def test_tcp(self):
        """
        C{--host ::1} over TCP.
        """
        result = runClient("tcp", "--host", "::1", "-p", str(self.server.tcp[0]), "six")
        self.assertSucceeded(result, b"SIX\n")

    def test_udp(self):
        """
        C{--host ::1} over UDP.
        """
        result = runClient("udp", "--host", "::1", "-p", str(self.server.udp[0]), "six")
        self.assertSucceeded(result, b"SIX\n")


class AgainstTextbookTests(_Checks):
    """
    The client and the textbook servers in C{examples/}.
    """

    def test_tcpServerClosesAfterEachReply(self):
        """
        The textbook TCP server closes after one reply; the client reconnects
        for every line.
        """
        _, port = startExample(self, "tcp_server.py")
        result = runClient("tcp", "--port", str(port), stdin=b"one\ntwo\nthree\n")
        self.assertSucceeded(result, b"ONE\nTWO\nTHREE\n")

    def test_udpServer(self):
        """
        The textbook UDP server answers each datagram.
        """
        _, port = startExample(self, "udp_server.py")
        result = runClient("udp", "--port", str(port), stdin=b"one\ntwo\n")
        self.assertSucceeded(result, b"ONE\nTWO\n")


class FailureTests(_Checks):
    """
    Network failures exit 1 with one line; usage errors exit 2; never a
    traceback.
    """

    def test_closedPort(self):
        """
        A closed TCP port: C{connection refused by HOST:PORT}.
        """
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        result = runClient("tcp", "--port", str(port), "hello")
        self.assertFailedWith(result, f"connection refused by {HOST}:{port}")

    def test_silentUDPPort(self):
        """
        A UDP port that never answers: C{no reply from HOST:PORT after N
        tries}.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind((HOST, 0))
            port = silent.getsockname()[1]
            result = runClient(
                "udp",
                "--port",
                str(port),
                "--timeout",
                "0.2",
                "--retries",
                "2",
                stdin=b"hello\nworld\nagain\n",
            )
        self.assertFailedWith(result, f"no reply from {HOST}:{port} after 3 tries")

    def test_badArguments(self):
        """
        Bad arguments: status 2 and the usage text.
        """
        for args in (["udp", "--port", "nope"], [], ["tcp", "--bogus"]):
            result = runClient(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(b"Usage: sockservice-client", result.stderr)
            self.assertNotIn(b"Traceback", result.stderr)


class InteractiveTests(SynchronousTestCase):
    """
    On a terminal the client prompts like the textbook one, until Ctrl-D.
    """

    def test_prompts(self):
        """
        Under a pseudo-terminal: prompt, reply, prompt again; Ctrl-D ends it
        with status 0.
        """
        try:
            import pexpect
        except ImportError:
            raise SkipTest("pexpect is not installed") from None
        server = startServer(self)
        command = clientCommand()
        child = pexpect.spawn(
            command[0],
            ["tcp", "--port", str(server.tcp[0])],
            timeout=TIMEOUT,
            cwd=str(ROOT),
        )
        self.addCleanup(child.close, force=True)
        child.expect_exact("Input lowercase sentence: ")
        child.sendline("hello terminal")
        child.expect_exact("HELLO TERMINAL\r\n")
        child.expect_exact("Input lowercase sentence: ")
        child.sendline("again")
        child.expect_exact("AGAIN\r\nInput lowercase sentence: ")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
        self.assertEqual(child.exitstatus, 0)
        self.assertNotIn(b"Traceback", child.before)
