# -*- test-case-name: tests.test_probestream -*-
"""
Tests for the stream of C{sockservice-client probe tcp --stream}:
L{sockservice.probe.stream} (every byte checked however the stream is
split), L{sockservice.probe.streamer} over in-memory transports on a
L{Clock} (backpressure, the ends of a run), its gate and document.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport, StringTransportWithDisconnection
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from sockservice.client.errors import ConnectionClosed, NoReply
from sockservice.probe.document import streamDocument
from sockservice.probe.report import streamGates
from sockservice.probe.stream import CHUNK, StreamCheck, streamLine, streamSummary
from sockservice.probe.streamer import Streamer, StreamOutcome, StreamProtocol
from tests.support import ROOT

SCHEMA = ROOT / "docs" / "probe-schema.json"


def _expected(size: int) -> bytes:
    """
    The first C{size} bytes expected back: the alphabet upper-cased, repeated.
    """
    return (b"ABCDEFGHIJKLMNOPQRSTUVWXYZ" * (size // 26 + 1))[:size]


def _sent(check: StreamCheck, size: int) -> bytes:
    """
    Send C{size} bytes through C{check}; return them.
    """
    out = b""
    while len(out) < size:
        out += check.nextChunk(size)
    return out


class StreamCheckTests(SynchronousTestCase):
    """
    Every byte that comes back is checked against the stream sent,
    upper-cased.
    """

    def test_sent(self) -> None:
        """
        The stream is the alphabet repeated, each full write the same bytes;
        it stops at the limit.
        """
        check = StreamCheck(lambda: 0)
        first, second = check.nextChunk(), check.nextChunk()
        self.assertIs(first, second)
        self.assertEqual(len(first), CHUNK)
        self.assertEqual(first[:28], b"abcdefghijklmnopqrstuvwxyzab")
        self.assertEqual(check.nextChunk(2 * CHUNK + 5), first[:5])
        self.assertEqual(check.nextChunk(2 * CHUNK + 5), b"")
        self.assertEqual(check.sent, 2 * CHUNK + 5)

    def test_verified(self) -> None:
        """
        The stream upper-cased is verified, byte for byte.
        """
        check = StreamCheck(lambda: 0)
        data = _sent(check, 300_000)
        check.receive(data.upper())
        self.assertEqual((check.received, check.verified, check.corrupted), (300_000, 300_000, 0))
        self.assertIsNone(check.firstCorruption)

    def test_corrupted(self) -> None:
        """
        Bytes that differ are counted corrupted, the others verified; the
        first one's offset is kept.
        """
        check = StreamCheck(lambda: 0)
        data = bytearray(_sent(check, 1000).upper())
        for offset in (700, 701, 999):
            data[offset] ^= 0x20
        check.receive(bytes(data[:600]))
        check.receive(bytes(data[600:]))
        self.assertEqual((check.verified, check.corrupted, check.firstCorruption), (997, 3, 700))

    def test_echo(self) -> None:
        """
        An echo (the stream not upper-cased) is corrupted from offset 0.
        """
        check = StreamCheck(lambda: 0)
        check.receive(_sent(check, 100))
        self.assertEqual((check.verified, check.corrupted, check.firstCorruption), (0, 100, 0))

    def test_beyondSent(self) -> None:
        """
        Bytes beyond what was sent are corrupted, even letters in step.
        """
        check = StreamCheck(lambda: 0)
        _sent(check, 10)
        check.receive(_expected(15))
        self.assertEqual((check.verified, check.corrupted, check.firstCorruption), (10, 5, 10))

    @given(
        st.integers(1, 3000),
        st.lists(st.integers(0, 2999), max_size=5),
        st.lists(st.integers(1, 3000), max_size=20),
    )
    def test_anySplit(self, size: int, flips: List[int], cuts: List[int]) -> None:
        """
        However the stream back is split into chunks, the bytes verified,
        the bytes corrupted and the first corrupted offset are the same.
        """
        whole = StreamCheck(lambda: 0)
        data = bytearray(_sent(whole, size).upper())
        flipped = sorted({f for f in flips if f < size})
        for offset in flipped:
            data[offset] ^= 0x20
        whole.receive(bytes(data))
        split = StreamCheck(lambda: 0)
        _sent(split, size)
        start = 0
        for cut in sorted({c for c in cuts if c < size}) + [size]:
            split.receive(bytes(data[start:cut]))
            start = cut
        facts = (size - len(flipped), len(flipped), flipped[0] if flipped else None)
        for check in (whole, split):
            self.assertEqual((check.verified, check.corrupted, check.firstCorruption), facts)

    def test_interval(self) -> None:
        """
        Each interval gives the bytes verified since the last, and their
        rate in MB a second.
        """
        now = [0]
        check = StreamCheck(lambda: now[0])
        check.receive(b"")
        _sent(check, 3_000_000)
        check.receive(_expected(2_000_000))
        now[0] = 500_000_000
        row = check.interval()
        self.assertEqual((row.tS, row.verified, row.mbytesPerS), (0.5, 2_000_000, 4.0))
        self.assertEqual(check.interval().verified, 0)
        self.assertEqual(
            streamLine(row, 2_000_000, 50.0),
            "t=0s verified=4.000 MB/s total=2.000 MB [##########..........] 50%",
        )


class _PausingTransport(StringTransport):
    """
    A transport whose buffer holds C{room} writes: then it pauses its
    producer, as Twisted's do.
    """

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self.writes = 0

    def write(self, data: bytes) -> None:
        super().write(data)
        self.writes += 1
        if self.writes >= self.room and self.producer is not None:
            self.producer.pauseProducing()


class StreamProtocolTests(SynchronousTestCase):
    """
    The protocol writes while the transport takes it, no further.
    """

    def test_backpressure(self) -> None:
        """
        It writes until paused, and again when resumed: never more than the
        transport's buffer holds.
        """
        protocol = StreamProtocol(lambda: 0, None, lambda: None, lambda reason: None)
        transport = _PausingTransport(2)
        protocol.makeConnection(transport)
        verifyObject(IPushProducer, protocol)
        self.assertIs(transport.producer, protocol)
        self.assertTrue(transport.streaming)
        self.assertEqual((transport.writes, protocol.check.sent), (2, 2 * CHUNK))
        transport.writes = 0
        protocol.resumeProducing()
        self.assertEqual(protocol.check.sent, 4 * CHUNK)

    def test_limit(self) -> None:
        """
        With a limit it sends exactly that many bytes.
        """
        protocol = StreamProtocol(lambda: 0, 100_000, lambda: None, lambda reason: None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(len(transport.value()), 100_000)
        self.assertFalse(protocol.sending)


class _Transport(StringTransportWithDisconnection):
    """
    An in-memory transport that closes like a socket and whose buffer holds
    two writes: then it pauses its producer, and resumes it once emptied.
    """

    paused = False

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) >= 2 * CHUNK and self.producer is not None:
            self.paused = True
            self.producer.pauseProducing()

    def drain(self) -> bytes:
        """
        Take what was written; resume the producer.
        """
        data = self.value()
        self.clear()
        if self.paused and self.producer is not None:
            self.paused = False
            self.producer.resumeProducing()
        return data


class _Endpoint:
    """
    Connects to a L{_Transport}.
    """

    def __init__(self) -> None:
        self.transport = _Transport()

    def connect(self, factory: Any) -> Any:
        protocol = factory.buildProtocol(None)
        self.transport.protocol = protocol
        protocol.makeConnection(self.transport)
        return succeed(protocol)


class StreamerTests(SynchronousTestCase):
    """
    A stream's end: its count, its duration, a stall, a lost connection.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = _Endpoint()

    def streamer(self, count: Optional[int] = None, duration: Optional[float] = None) -> Streamer:
        return Streamer(
            self.clock,
            "127.0.0.1",
            12000,
            1.0,
            count,
            duration,
            clock=lambda: int(self.clock.seconds() * 1e9),
            endpoint=self.endpoint,  # type: ignore[arg-type]
        )

    def echo(self, upper: bool = True) -> None:
        """
        The server answers what was written.
        """
        transport = self.endpoint.transport
        data = transport.drain()
        transport.protocol.dataReceived(data.upper() if upper else data)

    def test_count(self) -> None:
        """
        With --count the stream ends once every byte is back, verified, and
        closes its connection.
        """
        done = _start(self.streamer(count=150_000))
        self.clock.advance(0.5)
        self.echo()
        self.assertNoResult(done)
        self.echo()
        outcome = self.successResultOf(done)
        self.assertEqual(outcome.check.verified, 150_000)
        self.assertIsNone(outcome.error)
        self.assertEqual(outcome.elapsedS, 0.5)
        self.assertFalse(self.endpoint.transport.connected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_duration(self) -> None:
        """
        With --duration sending stops then, and the stream ends when what
        was sent is back; an interval closes each second.
        """
        done = _start(self.streamer(duration=2.5))
        for _ in range(5):
            self.clock.advance(0.5)
            self.echo()
        outcome = self.successResultOf(done)
        self.assertIsNone(outcome.error)
        self.assertEqual([row.tS for row in outcome.intervals], [1.0, 2.0, 2.5])
        self.assertEqual(outcome.elapsedS, 2.5)
        self.assertEqual(outcome.check.verified, outcome.check.sent)

    def test_stall(self) -> None:
        """
        Nothing back for --timeout seconds ends the stream with one line.
        """
        done = _start(self.streamer())
        self.clock.advance(0.6)
        self.echo()
        self.clock.advance(0.6)
        self.assertNoResult(done)
        self.clock.advance(0.5)
        outcome = self.successResultOf(done)
        self.assertIsInstance(outcome.error, NoReply)
        self.assertEqual(str(outcome.error), "no data from 127.0.0.1:12000 for 1 s")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_lost(self) -> None:
        """
        A connection closed by the server ends the stream with one line.
        """
        done = _start(self.streamer())
        self.echo()
        self.endpoint.transport.loseConnection()
        outcome = self.successResultOf(done)
        self.assertIsInstance(outcome.error, ConnectionClosed)
        self.assertEqual(str(outcome.error), "connection to 127.0.0.1:12000 lost during the stream")

    def test_interrupt(self) -> None:
        """
        Interrupting ends the stream at once, with what was verified.
        """
        streamer = self.streamer()
        done = _start(streamer)
        self.echo()
        streamer.interrupt()
        outcome = self.successResultOf(done)
        self.assertIsNone(outcome.error)
        self.assertEqual(outcome.check.verified, 2 * CHUNK)

    def test_corruptionGate(self) -> None:
        """
        Corrupted bytes fail the gate; the summary and the document name
        the first one's offset, and the document is valid.
        """
        import jsonschema

        streamer = self.streamer(count=1000)
        done = _start(streamer)
        self.echo(upper=False)
        outcome = self.successResultOf(done)
        checked = streamGates(outcome, 0)
        self.assertEqual([(g.name, g.value, g.ok) for g in checked], [("max-corrupt", 1000, False)])
        doc = streamDocument(outcome, checked, 3)
        jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))
        self.assertEqual(doc["stream"]["first_corrupt_offset"], 0)
        self.assertEqual(doc["summary"]["corrupted"], 1000)
        self.assertEqual(doc["parameters"]["count"], 1000)
        self.assertIn(
            "first corrupted byte at stream offset 0", streamSummary(outcome.check, 1, "x")
        )


def _start(streamer: Streamer) -> Deferred[StreamOutcome]:
    """
    Run C{streamer}; its outcome when it ends.
    """
    return Deferred.fromCoroutine(streamer.run())
