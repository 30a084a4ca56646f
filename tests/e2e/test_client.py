# -*- test-case-name: tests.e2e.test_client -*-
"""
End to end: the installed C{sockservice-client} as a subprocess, against
C{twistd -n sockservice}, the textbook servers in C{examples/}, a closed
port and a silent one.
"""

from __future__ import annotations

import hashlib
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

# Prints lines "line I ....", argv[1] of them with argv[2] dots each.
PRODUCER = (
    "import sys\n"
    "count, width = int(sys.argv[1]), int(sys.argv[2])\n"
    "for i in range(count):\n"
    "    print('line', i, '.' * width)\n"
)

# Runs argv[1:] and prints its peak resident memory (KiB) on stderr.  The
# client is started from this small process rather than from the test's:
# Linux counts the memory of the process that starts a program into the
# program's own peak, and the test process is large and grows.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "status = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


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
    def assertSucceeded(self, result: subprocess.CompletedProcess[bytes], out: bytes) -> None:
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(result.stdout, out)

    def assertFailedWith(self, result: subprocess.CompletedProcess[bytes], line: str) -> None:
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

    def streamLines(self, count: int, width: int) -> tuple[int, int, bytes]:
        """
        Pipe C{count} lines from another process through the client.

        @param width: How many dots pad each line.
        @return: The client's exit status, its peak resident memory (KiB)
            and the SHA-256 digest of its output.
        """
        producer = subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(count), str(width)],
            stdout=subprocess.PIPE,
        )
        assert producer.stdout is not None
        with tempfile.TemporaryFile() as out:
            client = subprocess.run(
                [sys.executable, "-c", PEAK_RSS, *clientCommand()] + ["tcp", "--port", self.tcp],
                stdin=producer.stdout,
                stdout=out,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT,
            )
            producer.stdout.close()
            producer.wait(timeout=TIMEOUT)
            out.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: out.read(1 << 16), b""):
                digest.update(chunk)
        *errors, peak = client.stderr.decode().splitlines()
        self.assertEqual(errors, [])
        return client.returncode, int(peak), digest.digest()

    def test_manyLines(self):
        """
        50 MB of piped lines stream through in memory no bigger than the
        same number of short lines needs: the client reads its input no
        faster than the server takes it.
        """
        count, width = 50_000, 1_000
        _, small, _ = self.streamLines(count, 0)
        status, big, digest = self.streamLines(count, width)
        self.assertEqual(status, 0)
        expected = hashlib.sha256()
        for i in range(count):
            expected.update(b"LINE %d %s\n" % (i, b"." * width))
        self.assertEqual(digest, expected.digest())
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
