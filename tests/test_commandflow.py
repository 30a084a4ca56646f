# -*- test-case-name: tests.test_commandflow -*-
"""
Tests for the command service's flow control and process handling, in
memory: backpressure from a client that does not read its replies
(L{sockservice.command.protocol}), runs in sessions of their own
(L{sockservice.command.session}) and output collection
(L{sockservice.command.process}).
"""

from __future__ import annotations

import sys
from typing import Any, List, Tuple

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from sockservice.command.allowlist import AllowedCommand, AllowList
from sockservice.command.factory import CommandFactory
from sockservice.command.netstrings import encodeFields
from sockservice.command.process import CommandProcess
from sockservice.command.protocol import CommandProtocol
from sockservice.command.session import inSession
from tests.servicefakes import FakeProcessReactor

__all__ = ["BackpressureTests", "SessionTests", "OutputTests"]

LOCAL = IPv4Address("TCP", "127.0.0.1", 40000)
ALLOWED = AllowList(
    [
        AllowedCommand("hello", ["/bin/echo", "hello"], timeout=5, maxOutput=1 << 20),
        AllowedCommand("gone", ["/nonexistent/program"], timeout=5),
    ]
)


def frame(*fields: bytes) -> bytes:
    """@return: One request frame: a netstring of netstrings."""
    payload = encodeFields(fields)
    return b"%d:%s," % (len(payload), payload)


class BufferedTransport(StringTransport):
    """
    A L{StringTransport} with a write buffer of C{bufferSize} bytes that,
    like Twisted's TCP transport, pauses its streaming producer when a write
    fills the buffer and resumes it once the buffer has drained.
    """

    bufferSize = 1000

    def write(self, data: bytes) -> None:
        """Buffer C{data}; pause the producer when the buffer is full."""
        super().write(data)
        if (
            self.producer is not None
            and self.streaming
            and not self.producerPaused
            and len(self.value()) > self.bufferSize
        ):
            self.producerPaused = True
            self.producer.pauseProducing()

    producerPaused = False

    def drain(self) -> bytes:
        """The client reads everything: empty the buffer, resume the producer."""
        data = self.value()
        self.clear()
        if self.producer is not None and self.producerPaused:
            self.producerPaused = False
            self.producer.resumeProducing()
        return data


class FlowTestCase(TestCase):
    """
    A command factory on a fake process reactor, killing fake groups.
    """

    sessions = False

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.factory = CommandFactory(ALLOWED, self.reactor, sessions=self.sessions)
        self.factory.log = Logger(observer=lambda event: None)
        self.killed: List[int] = []
        self.factory.killGroup = self.killed.append

    def connect(self) -> Tuple[CommandProtocol, BufferedTransport]:
        proto = self.factory.buildProtocol(LOCAL)
        transport = BufferedTransport(peerAddress=LOCAL)
        proto.makeConnection(transport)
        return proto, transport


class BackpressureTests(FlowTestCase):
    """
    A client that does not read its replies is not read from.
    """

    def test_registered(self) -> None:
        """The protocol is its transport's streaming producer."""
        proto, transport = self.connect()
        self.assertTrue(verifyObject(IPushProducer, proto))
        self.assertIs(transport.producer, proto)
        self.assertTrue(transport.streaming)

    def test_pausedWhileRepliesWait(self) -> None:
        """
        Once a reply fills the write buffer, the connection is not read and
        queued requests do not start; when the client has read its replies,
        reading and running resume.
        """
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello") * 2)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.reactor.spawned[0].protocol.childDataReceived(1, b"x" * 5000)
        self.reactor.spawned[0].exit(0)
        self.assertTrue(transport.producerPaused)
        self.assertEqual(transport.producerState, "paused")
        self.assertEqual(len(self.reactor.spawned), 1)

        transport.drain()
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(transport.producerState, "paused")  # the second one runs
        self.reactor.spawned[1].exit(0)
        self.assertEqual(transport.producerState, "producing")

    def test_smallRepliesKeepReading(self) -> None:
        """Replies that fit in the buffer do not stop reading."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        self.reactor.spawned[0].exit(0)
        self.assertFalse(transport.producerPaused)
        self.assertEqual(transport.producerState, "producing")

    def test_pauseWhileIdle(self) -> None:
        """Paused by its transport while nothing runs, the protocol stops reading until resumed."""
        proto, transport = self.connect()
        proto.pauseProducing()
        self.assertEqual(transport.producerState, "paused")
        proto.resumeProducing()
        self.assertEqual(transport.producerState, "producing")

    def test_runEndsWhilePaused(self) -> None:
        """A run that ends while the client is behind on its replies does not resume reading."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        proto.pauseProducing()
        self.reactor.spawned[0].exit(0)
        self.assertEqual(transport.producerState, "paused")
        proto.resumeProducing()
        self.assertEqual(transport.producerState, "producing")

    def test_closesUnregister(self) -> None:
        """
        Closing the connection (bad framing, too much pipelining) first
        unregisters the producer, so a paused transport still closes.
        """
        for data in [b"x", frame(b"run", b"hello") * 20]:
            proto, transport = self.connect()
            proto.pauseProducing()
            proto.dataReceived(data)
            self.assertTrue(transport.disconnecting)
            self.assertIsNone(transport.producer)

    def test_unauthenticatedCloseUnregisters(self) -> None:
        """A client refused for lack of a token is closed with its producer unregistered."""
        self.factory.token = b"s" * 16
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer)


class SessionTests(FlowTestCase):
    """
    With sessions, each run leads a process group of its own, and every kill
    reaches the whole group.
    """

    sessions = True

    def run_(self) -> Any:
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        [spawned] = self.reactor.spawned
        return spawned, transport

    def test_wrapped(self) -> None:
        """The command runs through the session leader, with its own argv unchanged at the end."""
        spawned, _ = self.run_()
        self.assertEqual(spawned.executable, sys.executable)
        self.assertEqual(spawned.args, inSession(["/bin/echo", "hello"]))
        self.assertEqual(spawned.args[-2:], ["/bin/echo", "hello"])

    def test_timeoutKillsGroup(self) -> None:
        """At the timeout the whole group is killed, and whatever is left when the run ends."""
        spawned, transport = self.run_()
        self.reactor.advance(5)
        self.assertEqual(self.killed, [spawned.transport.pid])
        self.assertEqual(spawned.transport.signals, ["KILL"])
        spawned.exit(signal=9)
        self.assertEqual(self.killed, [spawned.transport.pid] * 2)
        self.assertIn(b"signal 9 timeout", transport.value())

    def test_outputCapKillsGroup(self) -> None:
        """Output beyond the cap kills the whole group."""
        spawned, _ = self.run_()
        spawned.protocol.childDataReceived(1, b"x" * ((1 << 20) + 1))
        self.assertEqual(self.killed, [spawned.transport.pid])

    def test_endKillsLeftovers(self) -> None:
        """When a run ends normally, what is left of its group is killed."""
        spawned, transport = self.run_()
        self.assertEqual(self.killed, [])
        spawned.exit(0)
        self.assertEqual(self.killed, [spawned.transport.pid])
        self.assertIn(b"exit 0", transport.value())

    def test_shutdownKillsRuns(self) -> None:
        """When the service stops listening, every run in progress is killed as a group."""
        spawned, transport = self.run_()
        self.factory.stopFactory()
        self.assertEqual(self.killed, [spawned.transport.pid])
        spawned.exit(signal=9)
        self.assertIn(b"signal 9 shutdown", transport.value())
        self.assertEqual(self.factory.runs, set())
        self.factory.stopFactory()
        self.assertEqual(self.killed, [spawned.transport.pid] * 2)

    def test_cannotStart(self) -> None:
        """A program that is no longer executable is refused before anything is spawned."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"gone"))
        self.assertEqual(self.reactor.spawned, [])
        self.assertIn(b"refused cannot start", transport.value())
        self.assertEqual((self.factory.running, self.reactor.getDelayedCalls()), (0, []))


class OutputTests(TestCase):
    """
    Output collection is linear in its size and keeps the cap.
    """

    def collect(self, maxOutput: int, chunks: List[Tuple[int, bytes]]) -> List[bytes]:
        run = CommandProcess(AllowedCommand("x", ["/bin/true"], maxOutput=maxOutput), Clock())

        class Transport:
            pid = 1
            signals: List[str] = []

            def signalProcess(self, signal: str) -> None:
                self.signals.append(signal)

        run.transport = Transport()
        for fd, data in chunks:
            run.childDataReceived(fd, data)
        from twisted.internet.error import ProcessDone
        from twisted.python.failure import Failure

        results: List[List[bytes]] = []
        run.finished.addCallback(results.append)
        run.processEnded(Failure(ProcessDone(0)))
        return results[0]

    def test_sixteenMebibytes(self) -> None:
        """16 MiB of output in 8 KiB chunks is collected whole, in order."""
        chunks = [(1, bytes([i % 251]) * 8192) for i in range(2048)]
        status, out, err = self.collect(16 << 20, chunks)
        self.assertEqual((status, len(out), err), (b"exit 0", 16 << 20, b""))
        self.assertEqual(out, b"".join(data for _, data in chunks))

    def test_capAcrossStreams(self) -> None:
        """The cap counts stdout and stderr together and cuts mid-chunk."""
        status, out, err = self.collect(
            20000, [(1, b"o" * 8192), (2, b"e" * 8192), (1, b"O" * 8192), (2, b"E" * 8192)]
        )
        self.assertEqual(status, b"exit 0 truncated")
        self.assertEqual((out, err), (b"o" * 8192 + b"O" * (20000 - 16384), b"e" * 8192))
