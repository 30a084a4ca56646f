# -*- test-case-name: tests.test_guard -*-
"""
Tests for L{sockservice.server.guard}: every TCP service of a process under
one set of connection caps, one idle sweep and one drain.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.command.allowlist import AllowList
from sockservice.command.factory import CommandFactory
from sockservice.command.tap import isLocalDescription
from sockservice.server.guard import DESCRIPTOR_RESERVE, ConnectionGuard, GuardedFactory
from sockservice.tap import Options
from sockservice.timeserver.protocol import TimeLineFactory
from sockservice.uppercase.tcp import UppercaseFactory


def _peer(host: str = "192.0.2.7", port: int = 40000) -> IPv4Address:
    return IPv4Address("TCP", host, port)


def _connect(factory: Any, addr: IPv4Address) -> Any:
    """Build and connect a protocol; L{None} if the factory refused."""
    protocol = factory.buildProtocol(addr)
    if protocol is not None:
        protocol.makeConnection(StringTransport(peerAddress=addr))
    return protocol


class _Refusing(Factory):
    def buildProtocol(self, addr: Any) -> None:
        return None


class SharedCapsTests(SynchronousTestCase):
    """
    The caps count the connections of every service together.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.guard = ConnectionGuard(self.clock, 0, maxConnections=3, maxPerAddress=2)
        self.uppercase = UppercaseFactory(guard=self.guard)
        self.time = GuardedFactory(TimeLineFactory(self.clock), self.guard, "time")

    def test_perAddressAcrossServices(self) -> None:
        """
        Two connections from one address, one to each service, reach the
        per-address cap of 2: a third, to either service, is refused.
        """
        self.assertIsNotNone(_connect(self.uppercase, _peer()))
        self.assertIsNotNone(_connect(self.time, _peer()))
        self.assertIsNone(_connect(self.time, _peer()))
        self.assertIsNone(_connect(self.uppercase, _peer()))
        self.assertIsNotNone(_connect(self.time, _peer("192.0.2.8")))

    def test_totalAcrossServices(self) -> None:
        """The total cap counts both services' connections."""
        for n, factory in enumerate([self.uppercase, self.time, self.time]):
            self.assertIsNotNone(_connect(factory, _peer(f"192.0.2.{n}")))
        self.assertIsNone(_connect(self.uppercase, _peer("192.0.2.99")))

    def test_closeReleases(self) -> None:
        """A closed connection of one service frees its place for another's."""
        self.assertIsNotNone(_connect(self.time, _peer()))
        second = _connect(self.time, _peer())
        second.connectionLost(None)
        self.assertIsNotNone(_connect(self.uppercase, _peer()))
        self.assertEqual(self.guard.connections.perAddress["192.0.2.7"], 2)

    def test_serviceRefusalReleases(self) -> None:
        """When the service itself refuses a connection, it is not counted."""
        refusing = GuardedFactory(_Refusing(), self.guard, "refusing")
        self.assertIsNone(_connect(refusing, _peer()))
        self.assertEqual(self.guard.connections.total, 0)

    def test_drainSeesEveryService(self) -> None:
        """The open connections that the drain closes on stop include every service's."""
        _connect(self.uppercase, _peer())
        _connect(self.time, _peer("192.0.2.8"))
        self.assertEqual(len(self.guard.openConnections), 2)


class IdleTests(SynchronousTestCase):
    """
    One idle sweep closes silent connections of every service.
    """

    def test_commandHalfFrame(self) -> None:
        """
        A command connection that sent half a netstring and then nothing is
        closed once the idle timeout has passed.
        """
        clock = Clock()
        guard = ConnectionGuard(clock, idleTimeout=2)
        commands = CommandFactory(AllowList([]), clock)
        factory = GuardedFactory(commands, guard, "command")
        protocol = _connect(factory, _peer("127.0.0.1"))
        protocol.dataReceived(b"10:run")
        clock.advance(2)
        self.assertFalse(protocol.transport.disconnecting)
        clock.advance(0.21)
        self.assertTrue(protocol.transport.disconnecting)
        protocol.connectionLost(None)
        self.assertEqual(len(guard.idle), 0)

    def test_outputIsActivity(self) -> None:
        """A connection the service keeps writing to is not idle."""
        clock = Clock()
        guard = ConnectionGuard(clock, idleTimeout=1)
        factory = GuardedFactory(Factory.forProtocol(Protocol), guard, "test")
        protocol = _connect(factory, _peer())
        for _ in range(30):
            clock.advance(0.5)
            protocol.write(b"x")
        self.assertFalse(protocol.transport.disconnecting)
        clock.advance(1.2)
        self.assertTrue(protocol.transport.disconnecting)


class DescriptionTests(SynchronousTestCase):
    """
    A repeated parameter cannot fool the checks of a listen description.
    """

    def test_repeatedInterface(self) -> None:
        """
        C{interface} given twice is refused: Twisted would listen on the
        last, a loopback check could read the first.
        """
        self.assertRaises(
            UsageError, isLocalDescription, "tcp:1:interface=127.0.0.1:interface=0.0.0.0"
        )
        options = Options()
        error = self.assertRaises(
            UsageError,
            options.parseOptions,
            ["--tcp", "tcp:0:interface=127.0.0.1:interface=0.0.0.0"],
        )
        self.assertEqual(
            str(error),
            "--tcp: repeated parameter 'interface' in "
            "'tcp:0:interface=127.0.0.1:interface=0.0.0.0:backlog=1024'",
        )

    def test_udpRepeated(self) -> None:
        """The same holds for UDP descriptions."""
        options = Options()
        self.assertRaises(
            UsageError, options.parseOptions, ["--udp", "udp:0:interface=::1:interface=::"]
        )


class RefusalLogTests(SynchronousTestCase):
    """
    A flood of refused clients is logged one line a second, with a count.
    """

    def test_oneLinePerSecond(self) -> None:
        """
        Refusals within a second of a logged one are counted, and the next
        line says how many there were.
        """
        from twisted.logger import globalLogPublisher

        events: List[dict] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        clock = Clock()
        guard = ConnectionGuard(clock, 0, maxConnections=1, maxPerAddress=0)
        self.assertEqual(guard.admit(_peer("192.0.2.1")), "192.0.2.1")
        for _ in range(10):
            self.assertIsNone(guard.admit(_peer("192.0.2.2")))
        clock.advance(0.5)
        self.assertIsNone(guard.admit(_peer("192.0.2.3")))
        clock.advance(0.5)
        self.assertIsNone(guard.admit(_peer("192.0.2.4")))
        refused = [e for e in events if "refused" in e.get("log_format", "")]
        self.assertEqual([e["peer"] for e in refused], ["192.0.2.2", "192.0.2.4"])
        self.assertEqual(refused[0]["more"], "")
        self.assertEqual(refused[1]["more"], " (10 more refused since the last line)")


class DescriptorTests(SynchronousTestCase):
    """
    The total cap fits the open-files limit.
    """

    def test_lowered(self) -> None:
        """A cap above what the open-files limit allows is lowered to fit it."""
        guard = ConnectionGuard(Clock(), 0, maxConnections=10000)
        guard.fitDescriptors(512)
        self.assertEqual(guard.connections.maxTotal, 512 - DESCRIPTOR_RESERVE)

    def test_noCap(self) -> None:
        """No cap (0) becomes the limit that fits."""
        guard = ConnectionGuard(Clock(), 0, maxConnections=0)
        guard.fitDescriptors(1024)
        self.assertEqual(guard.connections.maxTotal, 1024 - DESCRIPTOR_RESERVE)

    def test_kept(self) -> None:
        """A cap that fits is kept."""
        guard = ConnectionGuard(Clock(), 0, maxConnections=100)
        guard.fitDescriptors(1024)
        self.assertEqual(guard.connections.maxTotal, 100)

    def test_makeService(self) -> None:
        """The service tree fits the guard to the limit it obtains when it starts."""
        from sockservice.server.listeners import SockService

        guard = ConnectionGuard(Clock(), 0, maxConnections=10**9)
        SockService(10**9, guard).privilegedStartService()
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.assertEqual(guard.connections.maxTotal, soft - DESCRIPTOR_RESERVE)
