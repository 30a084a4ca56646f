# -*- test-case-name: tests.test_systemd -*-
"""
Tests for L{sockservice.server.systemd}: adopting inherited datagram sockets and
notifying readiness, without a service manager.
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
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.filepath import FilePath
from twisted.python.systemd import ListenFDs
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.server.drain import DrainService
from sockservice.server.listeners import AdoptedUDPListener, TCPListener
from sockservice.server.systemd import (
    InheritedSocket,
    Notifier,
    ReadinessService,
    checkInheritedStream,
    parseInheritedDatagram,
)
from sockservice.tap import Options, makeService
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from sockservice.server.workers import WorkerPool


class InheritedSocketsMixin:
    """
    Make real, unbound sockets and pretend that systemd passed them.
    """

    def inherit(self: Any, *sockets: socket.socket, names: tuple[str, ...] = ()) -> list[int]:
        """
        Detach C{sockets} into bare descriptors that the C{systemd:} endpoint
        parser will find, in that order; close them at cleanup.
        """
        descriptors = [s.detach() for s in sockets]
        names = names or tuple(f"fd{i}" for i in range(len(descriptors)))
        self.patch(endpoints._SystemdParser, "_sddaemon", ListenFDs(descriptors, names))
        for fd in descriptors:
            self.addCleanup(_closeIfSame, fd, os.fstat(fd))
        return descriptors


def _closeQuietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _closeIfSame(fd: int, stat: os.stat_result) -> None:
    """
    Close C{fd} unless the code under test closed it already (its number may
    have been reused since: only close it if it is still the same file).
    """
    try:
        now = os.fstat(fd)
    except OSError:
        return
    if (now.st_dev, now.st_ino) == (stat.st_dev, stat.st_ino):
        os.close(fd)


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
                f"--udp: inherited descriptor {read} of 'systemd:index=0' is not a "
                "socket ("
            ),
            str(error),
        )

    def test_probeKeepsDescriptorOpen(self) -> None:
        """
        Checking the descriptor leaves it open for adoption.
        """
        fds = self.inherit(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        parseInheritedDatagram("systemd:index=0")
        os.fstat(fds[0])

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
        self.inherit(
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
            socket.socket(socket.AF_INET, socket.SOCK_STREAM),
            names=("web", "echo"),
        )
        checkInheritedStream("systemd:domain=INET6:index=0")
        checkInheritedStream("systemd:domain=INET:name=echo")

    def test_wrongDomain(self) -> None:
        """
        A domain other than the socket's is a usage error naming the right
        one (Twisted would otherwise garble every address).
        """
        fds = self.inherit(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        error = self.assertRaises(
            UsageError, checkInheritedStream, "systemd:domain=INET:index=0"
        )
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
        error = self.assertRaises(
            UsageError, checkInheritedStream, "systemd:domain=INET:index=0"
        )
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
        error = self.assertRaises(
            UsageError, checkInheritedStream, "systemd:domain=INET6:index=0"
        )
        self.assertEqual(
            str(error),
            "--tcp: no inherited socket with index 0 for 'systemd:domain=INET6:index=0' "
            "(is the service started by its .socket unit?)",
        )

    def test_leavesMalformedToTwisted(self) -> None:
        """
        Descriptions without exactly one of C{index} and C{name}, or without a
        domain, are left for Twisted's parser to reject.
        """
        self.inherit()
        for description in [
            "systemd:index=0",
            "systemd:domain=INET",
            "systemd:domain=INET:index=0:name=x",
        ]:
            checkInheritedStream(description)

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
            return MemoryReactor.adoptDatagramPort(
                reactor, fd, family, protocol, maxPacketSize
            )

        self.patch(reactor, "adoptDatagramPort", adopt)
        listener = AdoptedUDPListener("UDP systemd:index=0", fileno, DatagramProtocol(), reactor)
        self.addCleanup(lambda: reactor.adoptedPorts or _closeQuietly(fileno))
        listener.privilegedStartService()
        self.assertEqual(flags, [os.O_NONBLOCK])
        self.assertEqual(reactor.adoptedPorts[0][1], socket.AF_INET6)


class FakeSocket:
    """
    Records what L{Notifier} does with a socket; optionally fails to send.
    """

    def __init__(self, family: int, kind: int, failWith: OSError | None = None) -> None:
        self.family = family
        self.type = kind
        self.failWith = failWith
        self.blocking = True
        self.sent: list[tuple[bytes, str]] = []
        self.closed = False

    def setblocking(self, flag: bool) -> None:
        self.blocking = flag

    def sendto(self, data: bytes, address: str) -> int:
        if self.failWith is not None:
            raise self.failWith
        self.sent.append((data, address))
        return len(data)

    def close(self) -> None:
        self.closed = True


class NotifierTests(TestCase):
    """
    Tests for L{Notifier}.
    """

    def setUp(self) -> None:
        self.sockets: list[FakeSocket] = []
        self.failWith: OSError | None = None
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def socketFactory(self, family: int, kind: int) -> FakeSocket:
        sock = FakeSocket(family, kind, self.failWith)
        self.sockets.append(sock)
        return sock

    def test_unset(self) -> None:
        """
        Without C{NOTIFY_SOCKET} (or with an empty one) there is no notifier.
        """
        self.assertIsNone(Notifier.fromEnvironment({}))
        self.assertIsNone(Notifier.fromEnvironment({"NOTIFY_SOCKET": ""}))

    def test_path(self) -> None:
        """
        A C{NOTIFY_SOCKET} path is used as it is.
        """
        notifier = Notifier.fromEnvironment({"NOTIFY_SOCKET": "/run/systemd/notify"})
        assert notifier is not None
        self.assertEqual(notifier.address, "/run/systemd/notify")

    def test_abstract(self) -> None:
        """
        A C{NOTIFY_SOCKET} starting with C{@} names a socket in the abstract
        namespace: the C{@} becomes a NUL byte.
        """
        notifier = Notifier.fromEnvironment({"NOTIFY_SOCKET": "@sd-notify/1"})
        assert notifier is not None
        self.assertEqual(notifier.address, "\0sd-notify/1")

    def test_unsupportedFamily(self) -> None:
        """
        A C{NOTIFY_SOCKET} that is neither a path nor abstract (such as
        C{vsock:}) is ignored with a warning.
        """
        self.assertIsNone(Notifier.fromEnvironment({"NOTIFY_SOCKET": "vsock:2:1234"}))
        [event] = self.events
        self.assertEqual(event["address"], "vsock:2:1234")

    def test_unsetEnvironment(self) -> None:
        """
        With C{unset}, C{NOTIFY_SOCKET} is taken out of the environment, so
        that child processes do not notify too.
        """
        environ = {"NOTIFY_SOCKET": "/run/systemd/notify", "PATH": "/bin"}
        notifier = Notifier.fromEnvironment(environ, unset=True)
        assert notifier is not None
        self.assertEqual(notifier.address, "/run/systemd/notify")
        self.assertEqual(environ, {"PATH": "/bin"})

    def test_sends(self) -> None:
        """
        C{notify} sends the state as one datagram from a new, non-blocking,
        close-on-exec C{AF_UNIX} datagram socket, and closes it.
        """
        notifier = Notifier("@notify", socketFactory=self.socketFactory)
        self.assertTrue(notifier.notify("READY=1"))
        [sock] = self.sockets
        self.assertEqual(sock.family, socket.AF_UNIX)
        self.assertEqual(sock.type, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.assertFalse(sock.blocking)
        self.assertEqual(sock.sent, [(b"READY=1", "\0notify")])
        self.assertTrue(sock.closed)

    def test_sendFails(self) -> None:
        """
        A failure to send is logged and reported, never raised, and the
        socket is closed.
        """
        self.failWith = ConnectionRefusedError(111, "Connection refused")
        notifier = Notifier("/run/nothing", socketFactory=self.socketFactory)
        self.assertFalse(notifier.notify("READY=1"))
        self.assertTrue(self.sockets[0].closed)
        [event] = self.events
        self.assertEqual(event["state"], "READY=1")

    def test_socketFails(self) -> None:
        """
        A failure to make the socket is logged and reported, never raised.
        """

        def noSocket(*args: object) -> socket.socket:
            raise OSError(24, "Too many open files")

        self.assertFalse(Notifier("/run/x", socketFactory=noSocket).notify("READY=1"))
        self.assertEqual(len(self.events), 1)


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


class RecordingNotifier(Notifier):
    """
    A L{Notifier} that records the states instead of sending them.
    """

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.states: list[str] = []

    def notify(self, state: str) -> bool:
        self.states.append(state)
        return True


class ReadinessServiceTests(TestCase):
    """
    Tests for L{ReadinessService}.
    """

    def test_readyOnStart(self) -> None:
        """
        Starting the service sends C{READY=1}, once.
        """
        notifier = RecordingNotifier()
        ReadinessService(notifier).startService()
        self.assertEqual(notifier.states, ["READY=1"])

    def test_stoppingOnStop(self) -> None:
        """
        Stopping the service sends C{STOPPING=1} and does not delay the stop.
        """
        notifier = RecordingNotifier()
        service = ReadinessService(notifier)
        service.startService()
        d: Deferred[None] = service.stopService()
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(notifier.states, ["READY=1", "STOPPING=1"])


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


class TapTests(InheritedSocketsMixin, TestCase):
    """
    C{twistd sockservice} options and service tree for systemd: inherited
    UDP sockets, the drain period and readiness.
    """

    def setUp(self) -> None:
        self.patch(os, "environ", {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

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
        [adopted] = [
            s for s in makeService(options, reactor) if isinstance(s, AdoptedUDPListener)
        ]
        self.assertEqual(adopted.description, "UDP systemd:index=0")
        self.assertEqual(adopted.fileno, fd)
        self.assertIsInstance(adopted.protocol, UppercaseDatagramProtocol)
        self.assertIs(adopted.reactor, reactor)

    def test_udpSystemdMissing(self) -> None:
        """
        C{--udp systemd:index=N} without that inherited socket is a usage
        error.
        """
        self.inherit()
        self.assertRaises(UsageError, self.parse, "--udp", "systemd:index=0")

    def test_drainDefault(self) -> None:
        """
        By default open connections get five seconds to finish, tracked
        through the TCP factory.
        """
        top = makeService(self.parse(), MemoryReactor())
        [drain] = [s for s in top if isinstance(s, DrainService)]
        [tcp] = [s for s in top if isinstance(s, TCPListener)]
        self.assertEqual(drain.period, 5.0)
        self.assertIs(drain.connections, tcp.factory.openConnections)

    def test_drainOption(self) -> None:
        """
        C{--drain SECONDS} sets the drain period; a negative one is a usage
        error.
        """
        self.assertEqual(self.parse("--drain", "0.5")["drain"], 0.5)
        error = self.assertRaises(UsageError, self.parse, "--drain", "-1")
        self.assertEqual(str(error), "--drain: expected a non-negative number, got '-1'")

    def test_noReadinessWithoutNotifySocket(self) -> None:
        """
        Without C{NOTIFY_SOCKET} there is no readiness service.
        """
        top = makeService(self.parse(), MemoryReactor())
        self.assertEqual([s for s in top if isinstance(s, ReadinessService)], [])

    def test_readinessLast(self) -> None:
        """
        With C{NOTIFY_SOCKET}, a readiness service for it is the last child,
        so it starts after every listener and stops before them.
        """
        os.environ["NOTIFY_SOCKET"] = "@sockservice-test"
        top = makeService(self.parse(), MemoryReactor())
        last = list(top)[-1]
        assert isinstance(last, ReadinessService)
        self.assertEqual(last.notifier.address, "\0sockservice-test")

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

    def test_workers(self) -> None:
        """
        With C{--workers}, each worker gets the drain period, the pool waits
        for it before killing them, and only the parent notifies systemd:
        C{NOTIFY_SOCKET} is taken out of the environment the workers inherit.
        """
        os.environ["NOTIFY_SOCKET"] = "@sockservice-test"
        options = self.parse("--workers", "2", "--drain", "20")
        top = makeService(options, MemoryReactor())
        pool, drain, readiness = list(top)
        assert isinstance(pool, WorkerPool)
        self.assertIn("--drain=20.0", pool.workerArgs)
        self.assertEqual(pool.killAfter, 25)
        self.assertIsInstance(readiness, ReadinessService)
        self.assertNotIn("NOTIFY_SOCKET", os.environ)
