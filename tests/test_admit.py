# -*- test-case-name: tests.test_admit -*-
"""
Tests for L{sockservice.server.guard}'s part of the one table of open
connections: admissions counted in line, and the drain of guarded services.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import IDrainable
from sockservice.server.guard import (
    ConnectionGuard,
    DrainableGuardedProtocol,
    GuardedFactory,
    GuardedProtocol,
)
from sockservice.server.limits import ConnectionCounter
from tests.test_table import RecordingConnection


def _peer(host: str) -> IPv4Address:
    return IPv4Address("TCP", host, 40000)


class AdmitTests(SynchronousTestCase):
    """
    L{ConnectionGuard.admit} counts a connection in the table's caps as
    L{ConnectionCounter.refusal} does, and L{ConnectionTable.lost} gives it
    back as L{ConnectionCounter.closed} does.
    """

    @settings(max_examples=200, deadline=None)
    @given(
        maxTotal=st.integers(0, 4),
        maxPerAddress=st.integers(0, 3),
        limitLoopback=st.booleans(),
        steps=st.lists(
            st.tuples(st.booleans(), st.sampled_from(["192.0.2.1", "192.0.2.2", "127.0.0.1"])),
            max_size=30,
        ),
    )
    def test_asConnectionCounter(
        self,
        maxTotal: int,
        maxPerAddress: int,
        limitLoopback: bool,
        steps: List[Tuple[bool, str]],
    ) -> None:
        """
        Through any sequence of connections opened and lost, the guard
        admits and refuses what a L{ConnectionCounter} would, and keeps the
        same counts.
        """
        guard = ConnectionGuard(Clock(), 0, maxTotal, maxPerAddress, limitLoopback)
        reference = ConnectionCounter(maxTotal, maxPerAddress)
        counters = ServiceCounters()
        open: List[Tuple[RecordingConnection, str]] = []
        for opening, host in steps:
            if opening or not open:
                exempt = host == "127.0.0.1" and not limitLoopback
                expected = reference.refusal(host, exempt=exempt)
                peer = guard.admit(_peer(host), "", counters)
                self.assertEqual(peer is None, expected is not None)
                if peer is not None:
                    connection = RecordingConnection()
                    guard.made(connection, connection.transport)
                    open.append((connection, peer))
            else:
                connection, peer = open.pop(0)
                reference.closed(peer)
                guard.lost(connection.transport, peer, None, False, counters)
            self.assertEqual(
                (guard.connections.total, guard.connections.perAddress),
                (reference.total, reference.perAddress),
            )
            self.assertEqual(len(guard), len(open))


@implementer(IDrainable)
class _DrainableProtocol(Protocol):
    closed = 0

    def closeGracefully(self) -> None:
        self.closed += 1


class GuardedDrainTests(SynchronousTestCase):
    """
    A L{GuardedFactory}'s connection is drained if its service's protocol
    can be.
    """

    def connect(self, guard: ConnectionGuard, protocol: type) -> Any:
        factory = GuardedFactory(Factory.forProtocol(protocol), guard, "test")
        wrapper = factory.buildProtocol(_peer("192.0.2.7"))
        assert wrapper is not None
        wrapper.makeConnection(StringTransport())
        return wrapper

    def test_drainable(self) -> None:
        """
        Around a drainable protocol, the wrapper provides L{IDrainable} and
        the drain's request reaches the service's protocol.
        """
        guard = ConnectionGuard(Clock(), 0)
        wrapper = self.connect(guard, _DrainableProtocol)
        self.assertIsInstance(wrapper, DrainableGuardedProtocol)
        self.assertTrue(IDrainable.providedBy(wrapper))
        self.assertEqual(guard.drain(), 1)
        self.assertEqual(wrapper.wrappedProtocol.closed, 1)

    def test_notDrainable(self) -> None:
        """
        Around any other protocol, the wrapper does not provide
        L{IDrainable}: the drain leaves it open until its deadline.
        """
        guard = ConnectionGuard(Clock(), 0)
        wrapper = self.connect(guard, Protocol)
        self.assertIs(type(wrapper), GuardedProtocol)
        self.assertFalse(IDrainable.providedBy(wrapper))
        self.assertEqual(guard.drain(), 0)
        self.assertFalse(wrapper.transport.disconnecting)
        guard.closeAll()
        self.assertTrue(wrapper.transport.disconnecting)
