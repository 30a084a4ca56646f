# -*- test-case-name: tests.test_systemd -*-
"""
Tests for L{sockservice.server.systemd} without real sockets: readiness
notification (over a fake socket) and the C{twistd sockservice} options and
service tree for systemd.  Inherited sockets and real C{AF_UNIX} datagrams are
tested in L{tests.integration.test_systemd}.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactor
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.systemd import ListenFDs
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.server.drain import DrainService
from sockservice.server.listeners import TCPListener
from sockservice.server.systemd import (
    Notifier,
    ReadinessService,
)
from sockservice.server.workers import WorkerPool
from sockservice.tap import Options, makeService


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


class TapTestsMixin(InheritedSocketsMixin):
    """
    Helpers of the C{twistd sockservice} tests for systemd: an environment
    without C{NOTIFY_SOCKET}, and parsing.
    """

    def setUp(self) -> None:
        self.patch(os, "environ", {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})  # type: ignore[attr-defined]

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options


class TapTests(TapTestsMixin, TestCase):
    """
    C{twistd sockservice} options and service tree for systemd: inherited
    UDP sockets, the drain period and readiness.
    """

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
        self.assertIs(drain.connections, tcp.factory.guard.openConnections)

    def test_drainOption(self) -> None:
        """
        C{--drain SECONDS} sets the drain period; a negative one is a usage
        error.
        """
        self.assertEqual(self.parse("--drain", "0.5").config.server.drain, 0.5)
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
