# -*- test-case-name: tests.e2e.test_services -*-
"""
End to end: the time, chat and command services in C{twistd -n sockservice}
as a subprocess, driven with plain blocking sockets as the textbook clients
would drive them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import Any, List

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice.command.netstrings import decodeFields, encodeFields
from tests.e2e.test_client import clientCommand, runClient
from tests.servicefakes import tempPath
from tests.support import EXAMPLES, assertUsageExit, startServer, twistdCommand

HOST = "127.0.0.1"


def udpSocket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    s.bind((HOST, 0))
    return s


def frame(*fields: bytes) -> bytes:
    payload = encodeFields(fields)
    return b"%d:%s," % (len(payload), payload)


def readFrame(s: socket.socket) -> List[bytes]:
    """Read one netstring from C{s} and decode its fields."""
    head = b""
    while not head.endswith(b":"):
        head += s.recv(1)
    size = int(head[:-1])
    body = b""
    while len(body) < size + 1:
        chunk = s.recv(size + 1 - len(body))
        if not chunk:
            raise AssertionError("connection closed mid-frame")
        body += chunk
    return decodeFields(body[:-1])


def startCommandServer(case: SynchronousTestCase, allow: str, *extra: str) -> Any:
    """
    Start twistd with the command service alone on a loopback TCP port.
    """
    return startServer(
        case,
        "--command",
        "tcp:0:interface=127.0.0.1",
        "--command-allow",
        allow,
        *extra,
        tcp=1,
        udp=0,
    )


class TimeEndToEndTests(SynchronousTestCase):
    """
    C{--time} over UDP and TCP.
    """

    def test_udpAndTcp(self) -> None:
        """A datagram gets the time in its format; a TCP line gets a line; --utc applies."""
        server = startServer(
            self,
            "--time",
            "udp:0:interface=127.0.0.1",
            "--time",
            "tcp:0:interface=127.0.0.1",
            "--utc",
            tcp=1,
            udp=1,
        )
        with udpSocket() as s:
            s.sendto(b"%Y|%Z", (HOST, server.udp[0]))
            reply, addr = s.recvfrom(65535)
        self.assertRegex(reply.decode(), r"^\d{4}\|(UTC|GMT)$")
        self.assertEqual(addr, (HOST, server.udp[0]))
        with socket.create_connection((HOST, server.tcp[0]), timeout=10) as s:
            s.sendall(b"%H:%M\r\n" + b"%" * 1000 + b"\n")
            data = b""
            while data.count(b"\n") < 2:
                data += s.recv(1000)
        first, second = data.splitlines()[:2]
        self.assertRegex(first.decode(), r"^\d\d:\d\d$")
        self.assertEqual(second, b"error: format longer than 256 bytes")

    def test_textbookClient(self) -> None:
        """The textbook-style client in examples/ gets the time for each format it types."""
        server = startServer(self, "--time", "udp:0:interface=127.0.0.1", tcp=0, udp=1)
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "time_client.py"), HOST, str(server.udp[0])],
            input=b"%Y\n\n",
            capture_output=True,
            timeout=30,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(
            result.stdout.decode(), r"From Server: \d{4}\n.*From Server: \d{4}-\d\d-\d\d "
        )


class ChatEndToEndTests(SynchronousTestCase):
    """
    C{--chat} with two members on blocking sockets.
    """

    def join(self, s: socket.socket, port: int, name: bytes) -> None:
        s.sendto((b"JOIN " + name).ljust(64), (HOST, port))
        cookie = s.recvfrom(100)[0]
        self.assertTrue(cookie.startswith(b"COOKIE "), cookie)
        s.sendto((b"JOIN %s %s" % (name, cookie[7:])).ljust(64), (HOST, port))

    def test_relay(self) -> None:
        """Members join with the cookie round trip and get each other's messages."""
        server = startServer(self, "--chat", "udp:0:interface=127.0.0.1", tcp=0, udp=1)
        port = server.udp[0]
        with udpSocket() as alice, udpSocket() as bob, udpSocket() as stranger:
            self.join(alice, port, b"alice")
            self.assertEqual(alice.recvfrom(100)[0], b"JOINED alice")
            self.join(bob, port, b"bob")
            self.assertEqual(bob.recvfrom(100)[0], b"JOINED bob")
            self.assertEqual(alice.recvfrom(100)[0], b"JOINED bob")
            stranger.sendto(b"MSG let me in", (HOST, port))
            bob.sendto("MSG 你好".encode(), (HOST, port))
            self.assertEqual(alice.recvfrom(100)[0], "FROM bob 你好".encode())
            alice.sendto(b"WHO", (HOST, port))
            self.assertEqual(alice.recvfrom(100)[0], b"MEMBERS alice bob")
            stranger.settimeout(0.2)
            self.assertRaises(socket.timeout, stranger.recvfrom, 100)


class CommandEndToEndTests(SynchronousTestCase):
    """
    C{--command} with a real allow-list and real processes.
    """

    def allowFile(self) -> str:
        path = tempPath(self)
        with open(path, "w") as f:
            f.write(f"[hello]\nargv = {sys.executable} -c \"print('hi')\"\n")
        return path

    def test_run(self) -> None:
        """An allowed command runs and is logged with peer, name and status; others are refused."""
        server = startCommandServer(self, self.allowFile())
        with socket.create_connection((HOST, server.tcp[0]), timeout=10) as s:
            s.sendall(frame(b"run", b"hello") + frame(b"run", b"hello; rm -rf /"))
            self.assertEqual(readFrame(s), [b"exit 0", b"hi\n", b""])
            self.assertEqual(readFrame(s), [b"refused unknown command", b"", b""])
            local = s.getsockname()
        server.readUntil(rb"command: .*ran hello: exit 0")
        self.assertIn(str(local[1]).encode(), re.search(rb".*ran hello.*", server.output).group(0))

    def test_textbookClient(self) -> None:
        """The blocking netstring client in examples/ gets a whole reply."""
        server = startCommandServer(self, self.allowFile())
        result = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "command_client.py"),
                HOST,
                str(server.tcp[0]),
                "hello",
            ],
            capture_output=True,
            timeout=30,
        )
        self.assertEqual((result.stdout, result.stderr), (b"hi\n", b"status: exit 0\n"))

    def test_token(self) -> None:
        """With a token file, a run without the token is refused and nothing runs."""
        token = tempPath(self)
        with open(token, "w") as f:
            f.write("a-long-enough-secret\n")
        os.chmod(token, 0o600)
        server = startCommandServer(self, self.allowFile(), "--command-token-file", token)
        with socket.create_connection((HOST, server.tcp[0]), timeout=10) as s:
            s.sendall(frame(b"run", b"hello"))
            self.assertEqual(readFrame(s)[0], b"refused unauthorized")
        with socket.create_connection((HOST, server.tcp[0]), timeout=10) as s:
            s.sendall(frame(b"auth", b"a-long-enough-secret") + frame(b"run", b"hello"))
            self.assertEqual(readFrame(s)[0], b"ok")
            self.assertEqual(readFrame(s)[0], b"exit 0")

    def test_notLoopbackWithoutToken(self) -> None:
        """Asking to listen beyond loopback without a token stops start-up with one line."""
        result = subprocess.run(
            twistdCommand("--command", "tcp:0", "--command-allow", self.allowFile()),
            capture_output=True,
            timeout=30,
        )
        assertUsageExit(
            self,
            result.returncode,
            result.stdout,
            b"--command tcp:0: listening beyond loopback requires --command-token-file",
        )
        self.assertNotIn(b"Traceback", result.stdout + result.stderr)


class ClientEndToEndTests(SynchronousTestCase):
    """
    C{sockservice-client time|chat|command} as subprocesses against twistd.
    """

    def test_time(self) -> None:
        """time prints the time over UDP or TCP; an error reply is one line and status 1."""
        server = startServer(
            self,
            "--time",
            "udp:0:interface=127.0.0.1",
            "--time",
            "tcp:0:interface=127.0.0.1",
            tcp=1,
            udp=1,
        )
        udp = runClient("time", "-p", str(server.udp[0]), "%Y", "year")
        self.assertEqual(udp.returncode, 0, udp.stderr)
        self.assertRegex(udp.stdout.decode(), r"^\d{4} year\n$")
        tcp = runClient("time", "--tcp", "-p", str(server.tcp[0]))
        self.assertRegex(tcp.stdout.decode(), r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$")
        bad = runClient("time", "-p", str(server.udp[0]), "%600Y")
        self.assertEqual((bad.returncode, bad.stdout), (1, b""))
        self.assertEqual(
            bad.stderr.decode(),
            f"sockservice-client: {HOST}:{server.udp[0]} says error: reply longer than 512 bytes\n",
        )

    def test_command(self) -> None:
        """command copies stdout and stderr and exits with the remote status; refusals exit 1."""
        allow = tempPath(self)
        with open(allow, "w") as f:
            f.write(
                f"[three]\nargv = {sys.executable} -c "
                "\"import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)\"\n"
            )
        server = startCommandServer(self, allow)
        port = str(server.tcp[0])
        result = runClient("command", "-p", port, "three")
        self.assertEqual((result.returncode, result.stdout, result.stderr), (3, b"out\n", b"err\n"))
        refused = runClient("command", "-p", port, "three; id")
        self.assertEqual((refused.returncode, refused.stdout), (1, b""))
        self.assertEqual(
            refused.stderr.decode(),
            f"sockservice-client: {HOST}:{port} refused to run 'three; id': unknown command\n",
        )

    def test_chat(self) -> None:
        """Two chat clients: messages arrive while one waits for input; end of input leaves."""
        server = startServer(self, "--chat", "udp:0:interface=127.0.0.1", tcp=0, udp=1)
        port = str(server.udp[0])
        bob = subprocess.Popen(
            clientCommand() + ["chat", "-p", port, "-n", "bob"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.addCleanup(lambda: bob.poll() is None and bob.kill())
        assert bob.stdout is not None and bob.stdin is not None
        self.assertTrue(bob.stdout.readline().startswith(b"* joined as bob."))
        alice = runClient("chat", "-p", port, "-n", "alice", stdin=b"hello bob\n@bob psst\n")
        self.assertEqual(alice.returncode, 0, alice.stderr)
        lines = [bob.stdout.readline() for _ in range(4)]
        self.assertEqual(
            lines,
            [
                b"* alice joined\n",
                b"<alice> hello bob\n",
                b"<alice to you> psst\n",
                b"* alice left\n",
            ],
        )
        out, err = bob.communicate(b"", timeout=30)
        self.assertEqual((bob.returncode, out, err), (0, b"* bob left\n", b""))

    def test_chatTerminal(self) -> None:
        """On a terminal, a message arrives and is shown while the user is typing a line."""
        try:
            import pexpect
        except ImportError:
            raise SkipTest("pexpect is not installed") from None

        server = startServer(self, "--chat", "udp:0:interface=127.0.0.1", tcp=0, udp=1)
        port = str(server.udp[0])
        command = clientCommand()
        bob = pexpect.spawn(command[0], ["chat", "-p", port, "-n", "bob"], timeout=20)
        self.addCleanup(lambda: bob.isalive() and bob.terminate(force=True))
        bob.expect_exact("* joined as bob.")
        bob.send("half a li")
        alice = subprocess.Popen(
            command + ["chat", "-p", port, "-n", "alice"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.addCleanup(lambda: alice.poll() is None and alice.kill())
        bob.expect_exact("* alice joined")
        assert alice.stdin is not None
        alice.stdin.write(b"hello while you type\n")
        alice.stdin.flush()
        bob.expect_exact("<alice> hello while you type")
        bob.send("ne\n")
        alice.stdin.close()
        self.assertEqual(alice.wait(timeout=20), 0)
        bob.expect_exact("* alice left")
        bob.sendeof()
        bob.expect_exact("* bob left")
        bob.expect(pexpect.EOF)
        bob.close()
        self.assertEqual(bob.exitstatus, 0)
