# -*- test-case-name: tests.test_counters -*-
"""
Tests for L{sockservice.server.counters}: what each service counts after a
scripted exchange over in-memory transports, read as a scrape would.
"""

from __future__ import annotations

from typing import Dict, Tuple

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.chat.tap import _samples as chatSamples
from sockservice.command.factory import runStatus
from sockservice.server.counters import (
    Metrics,
    ServiceCounters,
    Snapshot,
    snapshotFromJSON,
    snapshotToJSON,
)
from sockservice.server.guard import ConnectionGuard, GuardedFactory
from sockservice.timeserver.protocol import TimeDatagramProtocol, TimeLineFactory
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.servicefakes import FakeDatagramTransport

Key = Tuple[str, Tuple[Tuple[str, str], ...]]


def _values(snapshot: Snapshot) -> Dict[Key, float]:
    return {(name, tuple(sorted(labels.items()))): value for name, labels, value in snapshot}


def _value(snapshot: Snapshot, name: str, **labels: str) -> float:
    return _values(snapshot)[(name, tuple(sorted(labels.items())))]


def _tcp(host: str = "192.0.2.7", port: int = 40000) -> IPv4Address:
    return IPv4Address("TCP", host, port)


class UppercaseTCPCountTests(SynchronousTestCase):
    """
    The uppercase TCP service counts connections, reads, writes and bytes.
    """

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.guard = ConnectionGuard(self.clock, maxConnections=2, maxPerAddress=0)
        self.factory = UppercaseFactory(guard=self.guard)
        self.metrics = Metrics()
        self.metrics.track("uppercase", "tcp", self.factory.counters)

    def connect(self):
        protocol = self.factory.buildProtocol(_tcp())
        transport = StringTransport(peerAddress=_tcp())
        protocol.makeConnection(transport)
        return protocol, transport

    def test_exchange(self) -> None:
        """
        After two reads (one holding back half a UTF-8 character) and a
        clean close, every count is exact.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"hello \xc3")
        protocol.dataReceived(b"\xa9t\xc3\xa9")
        protocol.connectionLost(Failure(ConnectionDone()))
        snapshot = self.metrics.snapshot()
        labels = {"service": "uppercase", "protocol": "tcp"}
        self.assertEqual(_value(snapshot, "sockservice_connections_accepted_total", **labels), 1)
        self.assertEqual(_value(snapshot, "sockservice_connections_open", **labels), 0)
        self.assertEqual(
            _value(snapshot, "sockservice_connections_closed_total", reason="client", **labels), 1
        )
        self.assertEqual(_value(snapshot, "sockservice_requests_received_total", **labels), 2)
        self.assertEqual(_value(snapshot, "sockservice_requests_answered_total", **labels), 2)
        self.assertEqual(_value(snapshot, "sockservice_received_bytes_total", **labels), 11)
        self.assertEqual(
            _value(snapshot, "sockservice_sent_bytes_total", **labels), len(transport.value())
        )

    def test_openAndCap(self) -> None:
        """
        Connections past the cap count as accepted and closed by C{cap};
        the open gauge counts the others.
        """
        self.connect()
        self.connect()
        self.assertIsNone(self.factory.buildProtocol(_tcp()))
        snapshot = self.metrics.snapshot()
        labels = {"service": "uppercase", "protocol": "tcp"}
        self.assertEqual(_value(snapshot, "sockservice_connections_accepted_total", **labels), 3)
        self.assertEqual(_value(snapshot, "sockservice_connections_open", **labels), 2)
        self.assertEqual(
            _value(snapshot, "sockservice_connections_closed_total", reason="cap", **labels), 1
        )

    def test_idleDrainError(self) -> None:
        """
        A connection closed by the idle sweep counts as C{idle}, one asked
        to close by the drain as C{drain}, a reset as C{error}.
        """
        idle, _ = self.connect()
        idle.timeoutConnection()
        idle.connectionLost(Failure(ConnectionLost()))
        draining, _ = self.connect()
        self.guard.openConnections.drain()
        draining.connectionLost(Failure(ConnectionDone()))
        reset, _ = self.connect()
        reset.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(dict(self.factory.counters.closed), {"idle": 1, "drain": 1, "error": 1})


class GuardedCountTests(SynchronousTestCase):
    """
    A service under L{GuardedFactory} (the time service over TCP) counts its
    bytes in the wrapper and its requests itself, in the same counters.
    """

    def test_timeLines(self) -> None:
        """
        Two lines in, two lines out: exact requests and bytes.
        """
        clock = Clock()
        guard = ConnectionGuard(clock)
        factory = GuardedFactory(TimeLineFactory(clock, utc=True), guard, "time")
        protocol = factory.buildProtocol(_tcp())
        transport = StringTransport(peerAddress=_tcp())
        protocol.makeConnection(transport)
        protocol.dataReceived(b"%Y\n%H:%M\n")
        protocol.connectionLost(Failure(ConnectionDone()))
        counters = factory.counters
        self.assertEqual((counters.received, counters.answered), (2, 2))
        self.assertEqual(counters.receivedBytes, 9)
        self.assertEqual(counters.sentBytes, len(transport.value()))
        self.assertEqual((counters.accepted, dict(counters.closed)), (1, {"client": 1}))


class DatagramCountTests(SynchronousTestCase):
    """
    The UDP services count datagrams, replies, bytes and drops by reason.
    """

    def test_uppercase(self) -> None:
        """
        Two answered, one from a privileged port dropped, one oversize.
        """
        protocol = UppercaseDatagramProtocol(reactor=Clock())
        protocol.makeConnection(FakeDatagramTransport())
        protocol.datagramReceived(b"abc", ("127.0.0.1", 40000))
        protocol.datagramReceived(b"de", ("127.0.0.1", 40000))
        protocol.datagramReceived(b"x", ("127.0.0.1", 53))
        protocol.datagramReceived(b"\xc3\x9f" * 40000, ("127.0.0.1", 40000))
        c = protocol.counters
        self.assertEqual((c.received, c.answered, c.sentBytes), (4, 2, 5))
        self.assertEqual(c.receivedBytes, 6 + 80000)
        self.assertEqual(dict(c.dropped), {"source-port": 1, "oversize": 1})
        self.assertEqual(protocol.answered, 2)

    def test_time(self) -> None:
        """
        One answered, one from port 0 dropped.
        """
        protocol = TimeDatagramProtocol(Clock(), utc=True)
        transport = FakeDatagramTransport()
        protocol.makeConnection(transport)
        protocol.datagramReceived(b"%Y", ("127.0.0.1", 40000))
        protocol.datagramReceived(b"%Y", ("127.0.0.1", 0))
        c = protocol.counters
        self.assertEqual((c.received, c.answered, c.receivedBytes), (2, 1, 4))
        self.assertEqual(c.sentBytes, len(transport.written[0][0]))
        self.assertEqual((dict(c.dropped), protocol.dropped), ({"source-port": 1}, 1))

    def test_chat(self) -> None:
        """
        Two joins and one message: members, joins, relayed, and the stranger
        dropped as C{invalid}.
        """
        clock = Clock()
        clock.advance(1000)
        chat = ChatProtocol(clock, secret=b"k" * 32)
        transport = FakeDatagramTransport()
        chat.makeConnection(transport)
        for name, addr in ((b"alice", ("127.0.0.1", 40001)), (b"bob", ("127.0.0.1", 40002))):
            chat.datagramReceived(b"JOIN %s" % name + b" " * 40, addr)
            cookie = transport.written[-1][0][7:]
            chat.datagramReceived(b"JOIN %s %s" % (name, cookie), addr)
        chat.datagramReceived(b"MSG hi", ("127.0.0.1", 40001))
        chat.datagramReceived(b"WHO", ("127.0.0.1", 40009))
        samples = _values(list(chatSamples(chat)))
        self.assertEqual(samples[("sockservice_chat_members", ())], 2)
        self.assertEqual(samples[("sockservice_chat_joins_total", ())], 2)
        self.assertEqual(samples[("sockservice_chat_messages_relayed_total", ())], 1)
        self.assertEqual(dict(chat.counters.dropped), {"invalid": 1})
        self.assertEqual(chat.counters.received, 6)
        self.assertEqual(chat.counters.answered, len(transport.written))


class CommandStatusTests(SynchronousTestCase):
    """
    L{runStatus} maps a reply's status to a bounded label.
    """

    def test_statuses(self) -> None:
        """
        Exit, signal, the first flag, known refusals; anything else is
        C{refused-other}; C{ok} is no run.
        """
        cases = {
            b"exit 0": "exit",
            b"signal 9": "signal",
            b"signal 9 timeout": "timeout",
            b"exit 0 truncated": "truncated",
            b"refused busy": "refused-busy",
            b"refused unknown command": "refused-unknown-command",
            b"refused argument not UTF-8": "refused-argument-not-utf-8",
            b"refused /etc/passwd": "refused-other",
            b"ok": None,
        }
        self.assertEqual({k: runStatus(k) for k in cases}, cases)


class MetricsTests(SynchronousTestCase):
    """
    L{Metrics} adds up what it tracks; snapshots go over a pipe as JSON.
    """

    def test_sameLabelsAddUp(self) -> None:
        """
        Two UDP listeners of one service are one series.
        """
        metrics = Metrics()
        for received in (3, 4):
            counters = ServiceCounters()
            counters.received = received
            metrics.track("time", "udp", counters)
        snapshot = metrics.snapshot()
        labels = {"service": "time", "protocol": "udp"}
        self.assertEqual(_value(snapshot, "sockservice_requests_received_total", **labels), 7)
        self.assertNotIn("sockservice_connections_open", {name for name, _, _ in snapshot})

    def test_json(self) -> None:
        """
        A snapshot survives L{snapshotToJSON} and L{snapshotFromJSON}, on one
        line.
        """
        snapshot: Snapshot = [("sockservice_x_total", {"service": "ä"}, 3.0)]
        line = snapshotToJSON(snapshot)
        self.assertEqual(line.count(b"\n"), 1)
        self.assertEqual(snapshotFromJSON(line), snapshot)
        self.assertRaises(ValueError, snapshotFromJSON, b'{"a": 1}')
