# -*- test-case-name: tests.e2e.test_activation -*-
"""
End to end under systemd's protocols, without systemd: C{twistd sockservice}
started through C{systemd-socket-activate} (socket activation), with a
C{NOTIFY_SOCKET} (readiness), and stopped with SIGTERM while connections are
open (drain).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import time

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.support import Server, assertUsageExit, startProcess, startServer, twistdCommand

HOST = "127.0.0.1"
CLEAN_EXITS = (0, -signal.SIGTERM)


def freePort(kind: int) -> int:
    """
    A port that was free a moment ago (systemd-socket-activate cannot bind
    port 0 and report it).
    """
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def connect(port: int) -> socket.socket:
    client = socket.create_connection((HOST, port), timeout=10)
    return client


def exchange(client: socket.socket, message: bytes) -> bytes:
    """
    Send C{message} and read back as many bytes.
    """
    client.sendall(message)
    reply = b""
    while len(reply) < len(message):
        chunk = client.recv(len(message) - len(reply))
        if not chunk:
            break
        reply += chunk
    return reply


def refusedSoon(port: int, within: float = 2.0) -> bool:
    """
    Whether connecting to C{port} is refused within C{within} seconds (the
    listening socket closes a reactor turn after the service starts stopping:
    a connection may still land in its backlog just before, and is then
    reset when the listener closes: not accepted either).
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=within).close()
        except (ConnectionRefusedError, ConnectionResetError):
            return True
        time.sleep(0.02)
    return False


def udpExchange(port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(10)
        client.sendto(message, (HOST, port))
        return client.recv(65535)


class SocketActivationTests(SynchronousTestCase):
    """
    C{twistd sockservice} serves sockets that C{systemd-socket-activate}
    bound and passed to it, as systemd does for C{sockservice.socket}.
    """

    def setUp(self) -> None:
        self.activate = shutil.which("systemd-socket-activate")
        if self.activate is None:
            raise SkipTest("systemd-socket-activate not found (Debian: apt-get install systemd)")

    def activated(self, sockets: list[str], *args: str) -> tuple[Server, list[int]]:
        """
        Start C{twistd sockservice ARGS} behind one C{systemd-socket-activate}
        per socket (C{"stream"} or C{"datagram"}), chained in that order so
        that the descriptors are passed with indexes 0, 1, ..., each named
        (Twisted ignores unnamed inherited descriptors).  Wait until the first
        socket is bound: activity on it starts the next call of the chain,
        and at the end of the chain, twistd.

        @return: the process and the ports, in the order of C{sockets}.
        """
        assert self.activate is not None
        for attempt in range(3):
            ports = [
                freePort(socket.SOCK_DGRAM if kind == "datagram" else socket.SOCK_STREAM)
                for kind in sockets
            ]
            command: list[str] = []
            names: list[str] = []
            for kind, port in zip(sockets, ports):
                names.append(kind)
                command += [self.activate, "--listen", f"{HOST}:{port}"]
                command += ["--datagram"] if kind == "datagram" else []
                command += ["--fdname", ":".join(names)]
            server = startProcess(self, command + twistdCommand(*args), None)
            first = f"Listening on {HOST}:{ports[0]} as 3."
            try:
                server.readUntil(re.escape(first.encode()))
            except AssertionError:
                if b"Address already in use" in server.output and attempt < 2:
                    continue
                raise
            return server, ports
        raise AssertionError("unreachable")

    def assertStopsCleanly(self, server: Server) -> None:
        self.assertIn(server.stop(), CLEAN_EXITS, server.output)
        self.assertNotIn(b"Traceback", server.output)

    def test_tcp(self) -> None:
        """
        With C{--tcp systemd:domain=INET:index=0}, the client whose
        connection started the service is served through the inherited
        socket, and so is the next one.
        """
        server, [port] = self.activated(["stream"], "--tcp", "systemd:domain=INET:index=0")
        with connect(port) as first:
            self.assertEqual(exchange(first, b"hello, systemd\n"), b"HELLO, SYSTEMD\n")
        server.waitListening(tcp=1, udp=0)
        self.assertEqual(server.tcp, [port])
        with connect(port) as second:
            self.assertEqual(exchange(second, b"again"), b"AGAIN")
        self.assertStopsCleanly(server)

    def test_udp(self) -> None:
        """
        With C{--udp systemd:index=0}, the datagram that started the service
        is answered through the inherited socket, and so is the next one.
        """
        server, [port] = self.activated(["datagram"], "--udp", "systemd:index=0")
        self.assertEqual(udpExchange(port, b"hello, datagram"), b"HELLO, DATAGRAM")
        server.waitListening(tcp=0, udp=1)
        self.assertEqual(server.udp, [port])
        self.assertEqual(udpExchange(port, b"stra\xc3\x9fe"), b"STRASSE")
        self.assertStopsCleanly(server)

    def test_tcpAndUDP(self) -> None:
        """
        As with C{sockservice.socket}: the stream socket at index 0 serves
        TCP and the datagram socket at index 1 serves UDP, in one process.
        """
        server, [tcp, udp] = self.activated(
            ["stream", "datagram"],
            "--tcp",
            "systemd:domain=INET:index=0",
            "--udp",
            "systemd:index=1",
        )
        with connect(tcp) as client:
            self.assertEqual(exchange(client, b"both"), b"BOTH")
            self.assertEqual(udpExchange(udp, b"ways"), b"WAYS")
        server.waitListening(tcp=1, udp=1)
        self.assertEqual((server.tcp, server.udp), ([tcp], [udp]))
        self.assertStopsCleanly(server)

    def test_wrongSocketType(self) -> None:
        """
        C{--udp systemd:index=0} given a stream socket exits with a usage
        error that says so, and no traceback.
        """
        server, [port] = self.activated(["stream"], "--udp", "systemd:index=0")
        with connect(port):
            status = server.process.wait(timeout=15)
        server.stop()
        assertUsageExit(
            self,
            status,
            server.output,
            b"is not a datagram socket (use ListenDatagram= in the .socket unit)",
        )
        self.assertNotIn(b"Traceback", server.output)


class ReadinessTests(SynchronousTestCase):
    """
    Started with C{NOTIFY_SOCKET} (C{Type=notify}), the service reports
    C{READY=1} once it is serving and C{STOPPING=1} when it stops.
    """

    def notifySocket(self) -> tuple[socket.socket, str]:
        """
        A datagram socket in the abstract namespace, as systemd's own is.
        """
        name = f"sockservice-test-notify-{os.getpid()}-{id(self)}"
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(receiver.close)
        receiver.bind("\0" + name)
        receiver.settimeout(15)
        return receiver, "@" + name

    def test_readyThenStopping(self) -> None:
        """
        C{READY=1} arrives when the listeners already accept clients;
        C{STOPPING=1} arrives on SIGTERM, and the process exits cleanly.
        """
        receiver, address = self.notifySocket()
        server = startProcess(
            self,
            twistdCommand("--tcp", f"tcp:0:interface={HOST}", "--udp", f"udp:0:interface={HOST}"),
            {"NOTIFY_SOCKET": address},
        )
        self.assertEqual(receiver.recv(4096), b"READY=1")
        server.waitListening(tcp=1, udp=1)
        with connect(server.tcp[0]) as client:
            self.assertEqual(exchange(client, b"ready"), b"READY")
        self.assertEqual(udpExchange(server.udp[0], b"set"), b"SET")
        server.process.send_signal(signal.SIGTERM)
        self.assertEqual(receiver.recv(4096), b"STOPPING=1")
        self.assertIn(server.stop(), CLEAN_EXITS)

    def test_noReadyWhenListenFails(self) -> None:
        """
        A service that cannot listen never reports C{READY=1}.
        """
        receiver, address = self.notifySocket()
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = startProcess(
                self,
                twistdCommand("--tcp", f"tcp:{port}:interface={HOST}"),
                {"NOTIFY_SOCKET": address},
            )
            self.assertNotEqual(server.process.wait(timeout=15), 0)
        receiver.settimeout(0)
        self.assertRaises(BlockingIOError, receiver.recv, 4096)


class DrainTests(SynchronousTestCase):
    """
    SIGTERM with connections open: stop accepting, close the idle ones at
    once, and exit cleanly.
    """

    def startDraining(self, drain: float) -> tuple[Server, socket.socket, float]:
        """
        Start a TCP-only service with C{--drain DRAIN}, open a connection,
        SIGTERM the service, and wait until it says it is draining.

        @return: the service, the open connection, and when SIGTERM was sent.
        """
        server = startServer(
            self, "--tcp", f"tcp:0:interface={HOST}", "--drain", str(drain), tcp=1, udp=0
        )
        client = connect(server.tcp[0])
        self.addCleanup(client.close)
        self.assertEqual(exchange(client, b"before"), b"BEFORE")
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.readUntil(rb"closing 1 connection\(s\) gracefully")
        return server, client, sent

    def test_drainThenClose(self) -> None:
        """
        An idle connection is closed at once (its client reads the end of the
        stream) and new connections are refused; the process exits cleanly
        without waiting for the drain period.
        """
        server, client, sent = self.startDraining(30)
        self.assertEqual(client.recv(100), b"")
        self.assertTrue(refusedSoon(server.tcp[0]), "still accepting while draining")
        status = server.stop()
        elapsed = time.monotonic() - sent
        self.assertIn(status, CLEAN_EXITS, server.output)
        self.assertNotIn(b"Traceback", server.output)
        self.assertLess(elapsed, 10)

    def test_drainEndsEarly(self) -> None:
        """
        When the last open connection closes during the drain, the process
        exits at once rather than at the end of the drain period.
        """
        server, client, sent = self.startDraining(30)
        client.close()
        status = server.stop(timeout=10)
        self.assertIn(status, CLEAN_EXITS, server.output)
        self.assertLess(time.monotonic() - sent, 10)
