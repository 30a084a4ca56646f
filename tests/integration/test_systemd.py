# -*- test-case-name: tests.integration.test_systemd -*-
"""
Tests for L{sockservice.server.systemd} with real sockets: inherited
descriptors (unbound sockets passed as systemd would), C{AF_UNIX} readiness
datagrams, and an adopted UDP socket served by the real reactor on loopback.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from typing import Any

from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.testing import MemoryReactor
from twisted.python.filepath import FilePath
from twisted.python.systemd import ListenFDs
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.server.listeners import AdoptedUDPListener
from sockservice.server.systemd import (
    InheritedSocket,
    Notifier,
    checkInheritedStream,
    parseInheritedDatagram,
)
from sockservice.tap import Options, makeService
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.test_systemd import InheritedSocketsMixin, TapTestsMixin


def assertOpenSocket(testCase: TestCase, fd: int, family: int, kind: int) -> None:
    """
    Assert that C{fd} is still an open socket of C{family} and C{kind} (the
    code under test looked at it without closing or adopting it).
    """
    probe = socket.socket(fileno=fd)
    try:
        testCase.assertEqual((probe.family, probe.type), (family, kind))
    finally:
        probe.detach()


def _closeQuietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class ParseInheritedDatagramTests(InheritedSocketsMixin, TestCase):
    """
    Tests for L{parseInheritedDatagram}.
    """

    def test_index(self) -> None:
        """
        C{systemd:index=N} names the Nth inherited descriptor, with the
        address family read from the socket itself.
        """
        fds = self.inherit(
            socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),
        )
        self.assertEqual(
            parseInheritedDatagram("systemd:index=1"),
            InheritedSocket(fds[1], socket.AF_INET6),
        )

    def test_name(self) -> None:
        """
        C{systemd:name=NAME} names the inherited descriptor of that
        C{FileDescriptorName=}.
        """
        fds = self.inherit(
            socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
            names=("web", "echo"),
        )
        self.assertEqual(
            parseInheritedDatagram("systemd:name=echo"),
            InheritedSocket(fds[1], socket.AF_INET),
        )

    def test_missingIndex(self) -> None:
        """
        An index past the inherited descriptors is a usage error that says
        where the sockets should come from.
        """
        self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        error = self.assertRaises(UsageError, parseInheritedDatagram, "systemd:index=1")
        self.assertEqual(
            str(error),
            "--udp: no inherited socket with index 1 for 'systemd:index=1' "
            "(is the service started by its .socket unit?)",
        )

    def test_nothingInherited(self) -> None:
        """
        Without inherited descriptors, C{systemd:index=0} is a usage error.
        """
        self.inherit()
        self.assertRaises(UsageError, parseInheritedDatagram, "systemd:index=0")

    def test_missingName(self) -> None:
        """
        A name that no inherited descriptor has is a usage error.
        """
        self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), names=("udp",))
        error = self.assertRaises(UsageError, parseInheritedDatagram, "systemd:name=dns")
        self.assertIn("no inherited socket with name dns", str(error))

    def test_streamSocket(self) -> None:
        """
        An inherited stream socket is refused with a hint at
        C{ListenDatagram=}.
        """
        fds = self.inherit(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        error = self.assertRaises(UsageError, parseInheritedDatagram, "systemd:index=0")
        self.assertEqual(
            str(error),
            f"--udp: inherited descriptor {fds[0]} of 'systemd:index=0' is not a "
            "datagram socket (use ListenDatagram= in the .socket unit)",
        )

    def test_unixSocket(self) -> None:
        """
        An inherited C{AF_UNIX} datagram socket is refused: UDP needs IPv4
        or IPv6.
        """
        fds = self.inherit(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        error = self.assertRaises(UsageError, parseInheritedDatagram, "systemd:index=0")
        self.assertEqual(
            str(error),
            f"--udp: inherited descriptor {fds[0]} of 'systemd:index=0' is a UNIX "
            "socket, not an IPv4 or IPv6 one",
        )

    def test_notASocket(self) -> None:
        """
        An inherited descriptor that is not a socket at all is refused.
        """
        read, write = os.pipe()
        self.addCleanup(_closeQuietly, write)
        self.addCleanup(_closeQuietly, read)
        self.patch(endpoints._SystemdParser, "_sddaemon", ListenFDs([read], ("fd0",)))
        error = self.assertRaises(UsageError, parseInheritedDatagram, "systemd:index=0")
        self.assertTrue(
            str(error).startswith(
                f"--udp: inherited descriptor {read} of 'systemd:index=0' is not a socket ("
            ),
            str(error),
        )

    def test_probeKeepsDescriptorOpen(self) -> None:
        """
        Checking the descriptor leaves it open for adoption.
        """
        fds = self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        self.assertEqual(
            parseInheritedDatagram("systemd:index=0"),
            InheritedSocket(fds[0], socket.AF_INET),
        )
        assertOpenSocket(self, fds[0], socket.AF_INET, socket.SOCK_DGRAM)

    def test_malformed(self) -> None:
        """
        Descriptions other than C{systemd:index=N} or C{systemd:name=NAME} are
        usage errors that show the expected forms.
        """
        for description in [
            "systemd:",
            "systemd:index=",
            "systemd:index=one",
            "systemd:index=-1",
            "systemd:domain=INET:index=0",
            "systemd:port=3",
        ]:
            error = self.assertRaises(UsageError, parseInheritedDatagram, description)
            self.assertEqual(
                str(error),
                f"--udp: invalid description {description!r} "
                "(expected systemd:index=N or systemd:name=NAME)",
            )


class CheckInheritedStreamTests(InheritedSocketsMixin, TestCase):
    """
    Tests for L{checkInheritedStream}.
    """

    def test_matching(self) -> None:
        """
        An inherited stream socket of the named domain passes, by index or by
        name.
        """
        fds = self.inherit(
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
            socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            names=("web", "echo"),
        )
        self.assertIsNone(checkInheritedStream("systemd:domain=INET6:index=0"))
        self.assertIsNone(checkInheritedStream("systemd:domain=INET:name=echo"))
        self.assertIsNone(checkInheritedStream("systemd:domain=INET6:name=web"))
        # Checking leaves both open, for Twisted to adopt.
        assertOpenSocket(self, fds[0], socket.AF_INET6, socket.SOCK_STREAM)
        assertOpenSocket(self, fds[1], socket.AF_INET, socket.SOCK_STREAM)

    def test_wrongDomain(self) -> None:
        """
        A domain other than the socket's is a usage error naming the right
        one (Twisted would otherwise garble every address).
        """
        fds = self.inherit(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        error = self.assertRaises(UsageError, checkInheritedStream, "systemd:domain=INET:index=0")
        self.assertEqual(
            str(error),
            f"--tcp: inherited descriptor {fds[0]} of 'systemd:domain=INET:index=0' "
            "has address family INET6: use domain=INET6",
        )

    def test_datagramSocket(self) -> None:
        """
        An inherited datagram socket is refused with a hint at
        C{ListenStream=}.
        """
        fds = self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        error = self.assertRaises(UsageError, checkInheritedStream, "systemd:domain=INET:index=0")
        self.assertEqual(
            str(error),
            f"--tcp: inherited descriptor {fds[0]} of 'systemd:domain=INET:index=0' "
            "is not a stream socket (use ListenStream= in the .socket unit)",
        )

    def test_missing(self) -> None:
        """
        A missing inherited socket is a usage error that says where the
        sockets should come from.
        """
        self.inherit()
        error = self.assertRaises(UsageError, checkInheritedStream, "systemd:domain=INET6:index=0")
        self.assertEqual(
            str(error),
            "--tcp: no inherited socket with index 0 for 'systemd:domain=INET6:index=0' "
            "(is the service started by its .socket unit?)",
        )

    def test_leavesMalformedToTwisted(self) -> None:
        """
        Descriptions without exactly one of C{index} and C{name}, or without a
        domain, are left for Twisted's parser to reject: the check passes
        them, and C{--tcp} then fails with Twisted's own message, not with
        one about a missing inherited socket.
        """
        self.inherit()
        for description in [
            "systemd:index=0",
            "systemd:domain=INET",
            "systemd:domain=INET:index=0:name=x",
        ]:
            self.assertIsNone(checkInheritedStream(description))
            error = self.assertRaises(UsageError, Options().parseOptions, ["--tcp", description])
            self.assertTrue(
                str(error).startswith(f"--tcp: invalid endpoint {description!r}: "),
                str(error),
            )
            self.assertNotIn("inherited", str(error))

    def test_tapChecks(self) -> None:
        """
        C{--tcp systemd:...} with the wrong domain is a usage error of the
        C{twistd sockservice} command line.
        """
        self.inherit(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        options = Options()
        error = self.assertRaises(
            UsageError, options.parseOptions, ["--tcp", "systemd:domain=INET:index=0"]
        )
        self.assertIn("use domain=INET6", str(error))


class AdoptedUDPListenerTests(TestCase):
    """
    L{AdoptedUDPListener} serves the sockets that systemd passes.
    """

    def test_nonBlocking(self) -> None:
        """
        A blocking inherited socket (systemd's default) is made non-blocking
        before the reactor adopts it, with its own address family.
        """
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.assertTrue(sock.getblocking())
        fileno = sock.detach()
        reactor = MemoryReactor()
        flags: list[int] = []

        def adopt(fd: int, family: int, protocol: object, maxPacketSize: int) -> object:
            flags.append(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)
            return MemoryReactor.adoptDatagramPort(reactor, fd, family, protocol, maxPacketSize)

        self.patch(reactor, "adoptDatagramPort", adopt)
        listener = AdoptedUDPListener("UDP systemd:index=0", fileno, DatagramProtocol(), reactor)
        self.addCleanup(lambda: reactor.adoptedPorts or _closeQuietly(fileno))
        listener.privilegedStartService()
        self.assertEqual(flags, [os.O_NONBLOCK])
        self.assertEqual(reactor.adoptedPorts[0][1], socket.AF_INET6)


class NotifierSocketTests(TestCase):
    """
    L{Notifier} against real C{AF_UNIX} datagram sockets.
    """

    def receiver(self, address: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(address)
        sock.settimeout(5)
        return sock

    def test_path(self) -> None:
        """
        A message reaches a socket bound to a path.
        """
        # Not self.mktemp(): under pytest it is relative to the working
        # directory, and an AF_UNIX path must stay short.
        path = FilePath(tempfile.mkdtemp(prefix="sockservice-"))
        self.addCleanup(path.remove)
        receiver = self.receiver(path.child("notify").path)
        Notifier(path.child("notify").path).notify("READY=1")
        self.assertEqual(receiver.recv(4096), b"READY=1")

    def test_abstract(self) -> None:
        """
        A message reaches a socket in the abstract namespace named with C{@}.
        """
        name = f"sockservice-test-{os.getpid()}-{id(self)}"
        receiver = self.receiver("\0" + name)
        Notifier("@" + name).notify("STOPPING=1")
        self.assertEqual(receiver.recv(4096), b"STOPPING=1")


class Echo(DatagramProtocol):
    """
    Send every datagram back to its sender.
    """

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.transport.write(data.upper(), addr)


class Catch(DatagramProtocol):
    """
    Fire C{received} with the first datagram.
    """

    def __init__(self) -> None:
        self.received: Deferred[bytes] = Deferred()

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        if not self.received.called:
            self.received.callback(data)


class AdoptedUDPLoopbackTests(TestCase):
    """
    An inherited datagram socket served with the real reactor.
    """

    def test_serves(self) -> None:
        """
        Datagrams sent to a blocking inherited socket are answered through
        the adopted port, one after the other.
        """
        from twisted.internet import reactor

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        listener = AdoptedUDPListener("UDP systemd:index=0", sock.detach(), Echo(), reactor)
        listener.startService()
        self.addCleanup(listener.stopService)
        # A blocking socket would hang the reactor (and this test) for good.
        fileno = listener.port.fileno()  # type: ignore[union-attr]
        self.assertTrue(fcntl.fcntl(fileno, fcntl.F_GETFL) & os.O_NONBLOCK)
        client = Catch()
        clientPort = reactor.listenUDP(0, client, interface="127.0.0.1")
        self.addCleanup(clientPort.stopListening)

        def second(reply: bytes) -> Deferred[bytes]:
            self.assertEqual(reply, b"ADOPTED")
            client.received = Deferred()
            client.transport.write(b"again", ("127.0.0.1", port))
            return client.received.addTimeout(5, reactor)

        client.transport.write(b"adopted", ("127.0.0.1", port))
        d = client.received.addTimeout(5, reactor).addCallback(second)
        return d.addCallback(self.assertEqual, b"AGAIN")


class TapTests(TapTestsMixin, TestCase):
    """
    C{twistd sockservice} options and service tree for systemd: inherited
    UDP sockets, the drain period and readiness.
    """

    def test_udpSystemd(self) -> None:
        """
        C{--udp systemd:index=N} serves the inherited socket through an
        L{AdoptedUDPListener} with the upper-casing protocol.
        """
        [fd] = self.inherit(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        options = self.parse("--udp", "systemd:index=0")
        self.assertEqual(
            [a for _, a in options.config.uppercase.udp], [InheritedSocket(fd, socket.AF_INET6)]
        )
        reactor = MemoryReactor()
        [adopted] = [s for s in makeService(options, reactor) if isinstance(s, AdoptedUDPListener)]
        self.assertEqual(adopted.description, "UDP systemd:index=0")
        self.assertEqual(adopted.fileno, fd)
        self.assertIsInstance(adopted.protocol, UppercaseDatagramProtocol)
        self.assertIs(adopted.reactor, reactor)

    def test_readyAfterListening(self) -> None:
        """
        C{READY=1} is sent when the service tree starts, after every listener
        is listening.
        """
        os.environ["NOTIFY_SOCKET"] = "@sockservice-test"
        self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        reactor = MemoryReactor()
        top = makeService(
            self.parse("--tcp", "tcp:0", "--udp", "systemd:index=0", "--max-connections", "0"),
            reactor,
        )
        listening: list[tuple[int, int]] = []

        def notify(state: str) -> bool:
            listening.append((len(reactor.tcpServers), len(reactor.adoptedPorts)))
            return True

        readiness = list(top)[-1]
        self.patch(readiness.notifier, "notify", notify)  # type: ignore[attr-defined]
        top.privilegedStartService()
        top.startService()
        self.assertEqual(listening, [(1, 1)])
