# -*- test-case-name: tests.e2e.test_server -*-
"""
End to end: C{twistd -n sockservice} as a subprocess, driven the way the
textbook clients drive a server (plain blocking sockets), and the textbook
example programs themselves.
"""

import signal
import socket
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.support import (
    EXAMPLES,
    assertUsageExit,
    requireIPv6,
    startProcess,
    startServer,
    twistdCommand,
)

HOST = "127.0.0.1"


def _connect(port, family=socket.AF_INET, host=HOST):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((host, port))
    return s


def _recvExactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _recvAll(s):
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


class TextbookClientTests(SynchronousTestCase):
    """
    The programs learners already have work against sockservice.
    """

    def setUp(self):
        self.server = startServer(self)

    def runExample(self, name, port, stdin):
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / name), HOST, str(port)],
            input=stdin,
            capture_output=True,
            timeout=30,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_tcpClient(self):
        """
        The textbook TCP client sends a sentence without a newline and gets
        it back in upper case.
        """
        out = self.runExample("tcp_client.py", self.server.tcp[0], b"hello textbook\n")
        self.assertIn(b"From Server: HELLO TEXTBOOK", out)

    def test_udpClient(self):
        """
        The textbook UDP client gets its sentence back in upper case.
        """
        out = self.runExample("udp_client.py", self.server.udp[0], b"hello datagram\n")
        self.assertIn(b"From Server: HELLO DATAGRAM", out)

    def test_loopClient(self):
        """
        The communication-loop client gets a reply to every sentence over one
        connection.
        """
        out = self.runExample("tcp_loop_client.py", self.server.tcp[0], b"one\ntwo\nthree\n")
        self.assertEqual(out.count(b"From Server: "), 3)
        for word in (b"ONE", b"TWO", b"THREE"):
            self.assertIn(b"From Server: " + word, out)


class BlockingSocketTests(SynchronousTestCase):
    """
    Blocking sockets, as the textbook uses them, against the real service.
    """

    def setUp(self):
        self.server = startServer(self)
        self.tcpPort = self.server.tcp[0]
        self.udpPort = self.server.udp[0]

    def test_sentenceWithoutNewline(self):
        """
        A sentence sent without a newline comes back upper-cased at once.
        """
        with _connect(self.tcpPort) as s:
            s.send(b"hello")
            self.assertEqual(_recvExactly(s, 5), b"HELLO")

    def test_manyMessagesOneConnection(self):
        """
        Many messages on one connection are each answered.
        """
        with _connect(self.tcpPort) as s:
            for i in range(50):
                message = b"message number %d\n" % (i,)
                s.sendall(message)
                self.assertEqual(_recvExactly(s, len(message)), message.upper())

    def test_unicode(self):
        """
        UTF-8 text is upper-cased the Unicode way, even when a character is
        split between two sends.
        """
        data = "straße".encode()
        with _connect(self.tcpPort) as s:
            s.sendall(data[:5])
            self.assertEqual(_recvExactly(s, 4), b"STRA")
            s.sendall(data[5:])
            self.assertEqual(_recvExactly(s, 3), b"SSE")

    def test_halfClose(self):
        """
        A client that shuts down its sending side receives everything due
        (including a held-back incomplete sequence), then end of file.
        """
        with _connect(self.tcpPort) as s:
            s.sendall(b"x" * 100000 + b"\xe2\x82")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(_recvAll(s), b"X" * 100000 + b"\xe2\x82")

    def test_200Concurrent(self):
        """
        200 clients connected at once are all served (the textbook server
        serves one at a time).
        """
        sockets = [_connect(self.tcpPort) for _ in range(200)]
        try:
            for i, s in enumerate(sockets):
                s.sendall(b"client %03d" % (i,))
            for i, s in enumerate(sockets):
                self.assertEqual(_recvExactly(s, 10), b"CLIENT %03d" % (i,))
        finally:
            for s in sockets:
                s.close()

    def test_udp(self):
        """
        Each datagram gets one upper-cased reply; an empty one gets an empty
        reply.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            for payload in [b"hello", "ça va".encode(), b""]:
                s.sendto(payload, (HOST, self.udpPort))
                reply, addr = s.recvfrom(65535)
                self.assertEqual(reply, payload.decode().upper().encode())
                self.assertEqual(addr, (HOST, self.udpPort))


class IPv6Tests(SynchronousTestCase):
    """
    The service listens on IPv6 when asked.
    """

    def test_ipv6(self):
        """
        tcp6 and udp on ::1 serve IPv6 clients.
        """
        requireIPv6()
        server = startServer(
            self, "--tcp", "tcp6:0:interface=\\:\\:1", "--udp", "udp:0:interface=::1"
        )
        with _connect(server.tcp[0], socket.AF_INET6, "::1") as s:
            s.sendall(b"six")
            self.assertEqual(_recvExactly(s, 3), b"SIX")
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.settimeout(10)
            s.sendto(b"six", ("::1", server.udp[0]))
            self.assertEqual(s.recvfrom(100)[0], b"SIX")


class LifecycleTests(SynchronousTestCase):
    """
    Starting and stopping behave as an operator expects.
    """

    def test_sigterm(self):
        """
        SIGTERM with a client connected stops the service cleanly: exit
        status 0 or death by SIGTERM (twistd's convention), no traceback.
        """
        server = startServer(self)
        with _connect(server.tcp[0]) as s:
            s.sendall(b"hi")
            self.assertEqual(_recvExactly(s, 2), b"HI")
            status = server.stop()
            self.assertEqual(_recvAll(s), b"")
        self.assertIn(status, (0, -signal.SIGTERM))
        self.assertNotIn(b"Traceback", server.output)
        self.assertIn(b"Server Shut Down", server.output)

    def test_reactor(self):
        """
        twistd sockservice runs on sockservice's epoll reactor by default, and
        on the one named with twistd -r when there is one.
        """
        server = startServer(self)
        server.readUntil(rb"reactor class: sockservice\._fast\.reactor\.DirectEPollReactor")
        command = twistdCommand("--tcp", "tcp:0:interface=127.0.0.1")
        command[3:3] = ["--reactor", "poll"]
        chosen = startProcess(self, command, None)
        chosen.waitListening(1, 0)
        chosen.readUntil(rb"reactor class: twisted\.internet\.pollreactor\.PollReactor")
        with _connect(chosen.tcp[0]) as s:
            s.sendall(b"poll")
            self.assertEqual(_recvExactly(s, 4), b"POLL")

    def test_portInUse(self):
        """
        A port already in use gives one line naming it, a non-zero exit and
        no traceback.
        """
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = subprocess.run(
                twistdCommand("--tcp", f"tcp:{port}:interface={HOST}"),
                capture_output=True,
                timeout=30,
            )
        output = result.stdout + result.stderr
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn(b"Traceback", output)
        lines = [line for line in output.splitlines() if b"cannot listen" in line]
        self.assertEqual(len(lines), 1, output)
        self.assertIn(b"TCP tcp:%d:interface=%s" % (port, HOST.encode()), lines[0])

    def test_badOption(self):
        """
        A bad option prints the usage error and exits non-zero without a
        traceback.
        """
        result = subprocess.run(
            twistdCommand("--case", "shouting"), capture_output=True, timeout=30
        )
        assertUsageExit(
            self,
            result.returncode,
            result.stdout,
            b"--case: expected one of unicode, ascii, got 'shouting'",
        )
        self.assertNotIn(b"Traceback", result.stdout + result.stderr)

    def test_pluginListed(self):
        """
        twistd lists the installed sockservice plugin.
        """
        command = twistdCommand()[:3] + ["--help"]
        result = subprocess.run(command, capture_output=True, timeout=30)
        self.assertIn(b"sockservice", result.stdout)
