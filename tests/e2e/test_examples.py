# -*- test-case-name: tests.e2e.test_examples -*-
"""
The learner's path (docs/learning.md), run: every example server in
C{examples/}, textbook and Twisted, as a subprocess on a free port of
127.0.0.1, talked to by its matching clients, textbook and Twisted.

Every process is stopped by its PID (SIGTERM) at cleanup, every wait is
bounded, and every socket is closed.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from twisted.trial.unittest import TestCase

__all__ = [
    "ChatTests",
    "CommandTests",
    "CommunicationLoopTests",
    "ConnectionLoopTests",
    "SingleExchangeTests",
    "TimeTests",
]

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
HOST = "127.0.0.1"
TIMEOUT = 20.0


class Program:
    """
    A running example program: its standard input, and its output so far
    (stdout and stderr together).
    """

    def __init__(self, testCase: TestCase, name: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.output = b""
        testCase.addCleanup(self.stop)

    def write(self, data: bytes) -> None:
        """
        Type C{data} on its standard input.
        """
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def readUntil(self, pattern: bytes, timeout: float = TIMEOUT) -> re.Match[bytes]:
        """
        Read its output until C{pattern} appears; fail at its end or after
        C{timeout} seconds.
        """
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while not (match := re.search(pattern, self.output)):
            chunk = b""
            with selectors.DefaultSelector() as selector:
                selector.register(self.process.stdout, selectors.EVENT_READ)
                left = deadline - time.monotonic()
                if left > 0 and selector.select(left):
                    chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(
                    "no %r in the output:\n%s" % (pattern, self.output.decode(errors="replace"))
                )
            self.output += chunk
        return match

    def wait(self, timeout: float = TIMEOUT) -> int:
        """
        Close its standard input, wait for it to exit by itself, and return
        its exit status.
        """
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise AssertionError("still running after %s s" % (timeout,)) from None
        self.output += rest
        return self.process.returncode

    def stop(self) -> None:
        """
        SIGTERM it (if still running) and wait for it.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.wait()


def startServer(testCase: TestCase, name: str) -> tuple[Program, int]:
    """
    Start the example server C{name} on a free port; return it and its port.
    """
    server = Program(testCase, name, "0")
    return server, int(server.readUntil(rb"ready to receive on port (\d+)").group(1))


def runClient(name: str, *args: object, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """
    Run the example client C{name} to its end, with C{stdin} as its input.
    """
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=str(ROOT),
        timeout=TIMEOUT,
    )


def connect(port: int) -> socket.socket:
    """
    @return: a TCP connection to C{port} on loopback, with a timeout.
    """
    return socket.create_connection((HOST, port), timeout=TIMEOUT)


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """
    Send C{data}; read as many bytes back.
    """
    sock.sendall(data)
    reply = b""
    while len(reply) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def frame(*fields: bytes) -> bytes:
    """
    @return: a command request or reply: a netstring of netstrings.
    """
    payload = b"".join(b"%d:%s," % (len(f), f) for f in fields)
    return b"%d:%s," % (len(payload), payload)


class SingleExchangeTests(TestCase):
    """
    Step 1: one sentence, one upper-cased reply (Kurose & Ross 2.7).
    """

    def checkPairs(self, servers: tuple[str, ...], clients: tuple[str, ...]) -> None:
        for serverName in servers:
            server, port = startServer(self, serverName)
            for client in clients:
                result = runClient(client, HOST, port, stdin=b"hello %s\n" % client.encode())
                self.assertEqual(result.returncode, 0, (serverName, client, result))
                self.assertIn(b"From Server: HELLO " + client.upper().encode(), result.stdout)
            server.stop()

    def test_udp(self) -> None:
        """Both UDP servers answer both UDP clients with the sentence upper-cased."""
        self.checkPairs(
            ("udp_server.py", "twisted_udp_server.py"),
            ("udp_client.py", "twisted_udp_client.py"),
        )

    def test_tcp(self) -> None:
        """Both TCP servers answer both TCP clients with the sentence upper-cased."""
        self.checkPairs(
            ("tcp_server.py", "twisted_tcp_server.py"),
            ("tcp_client.py", "twisted_tcp_client.py"),
        )

    def test_oneReplyPerConnection(self) -> None:
        """Like the textbook server, the Twisted one closes after its one reply."""
        server, port = startServer(self, "twisted_tcp_server.py")
        with connect(port) as s:
            self.assertEqual(exchange(s, b"first"), b"FIRST")
            self.assertEqual(s.recv(1024), b"")


class CommunicationLoopTests(TestCase):
    """
    Step 2: many sentences on one connection.
    """

    sentences = b"one\ntwo\nthree\n"

    def assertReplies(self, result: subprocess.CompletedProcess[bytes]) -> None:
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(
            re.findall(rb"From Server: (\w+)", result.stdout), [b"ONE", b"TWO", b"THREE"]
        )

    def test_textbookServer(self) -> None:
        """The textbook loop server serves one client, every sentence, then exits."""
        for client in ("tcp_loop_client.py", "twisted_tcp_loop_client.py"):
            server, port = startServer(self, "tcp_loop_server.py")
            self.assertReplies(runClient(client, HOST, port, stdin=self.sentences))
            self.assertEqual(server.wait(), 0)

    def test_twistedServer(self) -> None:
        """The Twisted loop server serves client after client, every sentence."""
        server, port = startServer(self, "twisted_tcp_loop_server.py")
        for client in ("tcp_loop_client.py", "twisted_tcp_loop_client.py"):
            self.assertReplies(runClient(client, HOST, port, stdin=self.sentences))

    def test_wholeLines(self) -> None:
        """The Twisted loop client prints a reply longer than one recv() as one line."""
        server, port = startServer(self, "twisted_tcp_loop_server.py")
        result = runClient("twisted_tcp_loop_client.py", HOST, port, stdin=b"ab" * 5000 + b"\nc\n")
        self.assertEqual(result.returncode, 0, result)
        self.assertIn(b"From Server: " + b"AB" * 5000 + b"\nFrom Server: C\n", result.stdout)


class ConnectionLoopTests(TestCase):
    """
    Step 3: many clients, one after another (textbook) or at once (Twisted).
    """

    def test_textbookOneAtATime(self) -> None:
        """The textbook server leaves a second client unanswered until the first leaves."""
        server, port = startServer(self, "tcp_connection_loop_server.py")
        with connect(port) as first, connect(port) as second:
            self.assertEqual(exchange(first, b"first"), b"FIRST")
            second.sendall(b"second")
            second.settimeout(0.5)
            self.assertRaises(socket.timeout, second.recv, 1024)
            first.close()
            second.settimeout(TIMEOUT)
            self.assertEqual(second.recv(1024), b"SECOND")
        for client in ("tcp_loop_client.py", "twisted_tcp_loop_client.py"):
            result = runClient(client, HOST, port, stdin=b"again\n")
            self.assertIn(b"From Server: AGAIN", result.stdout)

    def test_twistedAtOnce(self) -> None:
        """The Twisted server answers a second client while the first stays connected."""
        server, port = startServer(self, "twisted_tcp_connection_loop_server.py")
        with connect(port) as first, connect(port) as second:
            self.assertEqual(exchange(first, b"first"), b"FIRST")
            self.assertEqual(exchange(second, b"second"), b"SECOND")
            self.assertEqual(exchange(first, b"first again"), b"FIRST AGAIN")
            server.readUntil(rb"\(2 connected\)")
        for client in ("tcp_loop_client.py", "twisted_tcp_loop_client.py"):
            result = runClient(client, HOST, port, stdin=b"again\n")
            self.assertIn(b"From Server: AGAIN", result.stdout)


class TimeTests(TestCase):
    """
    Step 4: the UDP time server.
    """

    def test_pairs(self) -> None:
        """Both time servers answer both time clients with the time in their format."""
        for serverName in ("time_server.py", "twisted_time_server.py"):
            server, port = startServer(self, serverName)
            for client in ("time_client.py", "twisted_time_client.py"):
                result = runClient(client, HOST, port, stdin=b"year %Y\n%H:%M\n")
                self.assertEqual(result.returncode, 0, (serverName, result))
                self.assertRegex(result.stdout, rb"From Server: year \d{4}\n")
                self.assertRegex(result.stdout, rb"From Server: \d\d:\d\d\n")
            server.stop()

    def sendFormat(self, port: int, data: bytes) -> Optional[bytes]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(data, (HOST, port))
            try:
                return s.recv(2048)
            except socket.timeout:
                return None

    def test_textbookDies(self) -> None:
        """One datagram that is not UTF-8 kills the textbook time server."""
        server, port = startServer(self, "time_server.py")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\xff", (HOST, port))
        self.assertNotEqual(server.wait(), 0)
        self.assertIn(b"UnicodeDecodeError", server.output)

    def test_twistedAnswersErrors(self) -> None:
        """The Twisted time server answers bad formats with an error, and carries on."""
        server, port = startServer(self, "twisted_time_server.py")
        for bad in (b"\xff", b"%Y\x00", b"%Y" * 200, b"%c" * 100):
            reply = self.sendFormat(port, bad)
            self.assertTrue(reply and reply.startswith(b"error: "), (bad, reply))
        self.assertRegex(self.sendFormat(port, b"%Y") or b"", rb"^\d{4}$")


class ChatTests(TestCase):
    """
    Step 5: the UDP chat, an operator at the server answering clients.
    """

    def test_pairs(self) -> None:
        """Each chat client's message reaches each server's operator, and the answer comes back."""
        for serverName in ("chat_server.py", "twisted_chat_server.py"):
            server, port = startServer(self, serverName)
            for clientName in ("chat_client.py", "twisted_chat_client.py"):
                tag = clientName.split(".")[0].encode()
                client = Program(self, clientName, HOST, str(port))
                client.write(b"alice\nhello from %s\n" % tag)
                server.readUntil(rb"From 127\.0\.0\.1:\d+: to alice: hello from %s\n" % tag)
                server.write(b"hi %s\n" % tag)
                client.readUntil(rb"From 127\.0\.0\.1:%d: hi %s\n" % (port, tag))
                client.write(b"q\n")
                self.assertEqual(client.wait(), 0, client.output)
            server.stop()

    def test_twistedControlCharacters(self) -> None:
        """The Twisted chat server shows control characters escaped, never raw."""
        server, port = startServer(self, "twisted_chat_server.py")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x1b[2Jboo", (HOST, port))
            server.readUntil(rb": \\x1b\[2Jboo\n")
        self.assertNotIn(b"\x1b", server.output)


class CommandTests(TestCase):
    """
    Step 6: the remote-command server, with a fixed table instead of a shell.
    """

    servers = ("command_server.py", "twisted_command_server.py")
    clients = ("command_client.py", "twisted_command_client.py")

    def test_pairs(self) -> None:
        """Both command servers run a listed command for both clients, and refuse the rest."""
        for serverName in self.servers:
            server, port = startServer(self, serverName)
            for client, args, out, status in [
                ("command_client.py", ["hello"], b"hello\n", b"exit 0"),
                ("twisted_command_client.py", ["hello"], b"hello\n", b"exit 0"),
                ("twisted_command_client.py", ["hello; rm -rf ~"], b"", b"refused unknown command"),
            ]:
                result = runClient(client, HOST, port, *args)
                self.assertEqual((result.stdout, result.stderr), (out, b"status: %s\n" % status))
            server.stop()

    def test_noStickyPackets(self) -> None:
        """Requests sent together get whole replies, one each, in order."""
        for serverName in self.servers:
            server, port = startServer(self, serverName)
            requests = (
                frame(b"run", b"hello") + frame(b"run", b"rm") + frame(b"run", b"hello", b"x")
            )
            requests += frame(b"run", b"hello")
            replies = frame(b"exit 0", b"hello\n", b"") + frame(
                b"refused unknown command", b"", b""
            )
            replies += frame(b"refused arguments not allowed", b"", b"")
            replies += frame(b"exit 0", b"hello\n", b"")
            with connect(port) as s:
                s.sendall(requests)
                received = b""
                while len(received) < len(replies):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            self.assertEqual(received, replies)
            server.stop()
