# -*- test-case-name: tests.test_probepacing -*-
"""
Tests for L{sockservice.probe.pacing}, L{sockservice.probe.report} and the
exit statuses of C{sockservice-client probe}: the schedule on a
L{task.Clock}, with an in-memory path that answers, drops or corrupts.
"""

from __future__ import annotations

import io
import sys
from typing import Callable, List, Optional

from twisted.internet.error import MessageLengthError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice.cli.console import Console
from sockservice.cli.probe import ProbeOptions, _report
from sockservice.probe.accounting import Accounting
from sockservice.probe.document import document
from sockservice.probe.modes import Outcome, Probe, Settings
from sockservice.probe.pacing import Pacer, Schedule
from sockservice.probe.report import gates, summaryText
from sockservice.probe.transports import ProbeDatagramProtocol, ProbeLineProtocol


def _run(
    schedule: Schedule,
    path: Callable[[int, bytes], Optional[bytes]],
    delay: float = 0.002,
    timeout: float = 1.0,
) -> Pacer:
    """
    Run a pacer on a clock through C{path} (request number, request) ->
    reply or None; replies arrive C{delay} seconds later.
    """
    clock = Clock()
    accounting = Accounting(64, int(timeout * 1e9), lambda: int(clock.seconds() * 1e9))
    sent: List[int] = []

    def send(request: bytes) -> None:
        reply = path(len(sent), request)
        sent.append(1)
        if reply is not None:
            clock.callLater(delay, pacer.replied, reply)

    pacer = Pacer(clock, accounting, schedule, [send], lambda: int(clock.seconds() * 1e9))
    pacer.start()
    for _ in range(100000):
        if pacer.done.called:
            break
        clock.advance(0.001)
    return pacer


class PacerTests(SynchronousTestCase):
    """
    The schedule: rate, window, count, duration, timeouts and intervals.
    """

    def test_rateAndCount(self) -> None:
        """
        At 10 a second, 20 requests take 2 s; each is answered with the
        path's delay.
        """
        pacer = _run(Schedule(10, 1, 20, None), lambda n, r: r.upper())
        counts = pacer.accounting.counts
        self.assertEqual((counts.sent, counts.answered), (20, 20))
        self.assertTrue(1.9 <= pacer.elapsedS <= 1.91, pacer.elapsedS)
        p50 = pacer.accounting.latency.percentileUs(50)
        assert p50 is not None
        self.assertTrue(1990 <= p50 <= 2010, p50)
        self.assertEqual([row.sent for row in pacer.intervals], [10, 10])

    def test_window(self) -> None:
        """
        At rate 0 the window bounds what waits: 8 in flight, 2 ms each, so
        800 requests take about 200 ms.
        """
        pacer = _run(Schedule(0, 8, 800, None), lambda n, r: r.upper())
        self.assertEqual(pacer.accounting.counts.answered, 800)
        self.assertTrue(0.19 <= pacer.elapsedS <= 0.21, pacer.elapsedS)

    def test_duration(self) -> None:
        """
        With a duration, sending stops then; the run ends when the last
        reply comes.
        """
        pacer = _run(Schedule(100, 1, None, 1.0), lambda n, r: r.upper())
        self.assertEqual(pacer.accounting.counts.sent, 100)
        self.assertEqual(pacer.accounting.counts.answered, 100)

    def test_badPath(self) -> None:
        """
        Every third request dropped, every fifth corrupted, every seventh
        answered twice: each counted exactly.
        """

        def path(n: int, request: bytes) -> Optional[bytes]:
            if n % 3 == 0:
                return None
            if n % 5 == 0:
                return request.upper()[:-1] + b"?"
            return request.upper()

        pacer = _run(Schedule(0, 4, 105, None), path)
        c = pacer.accounting.counts
        self.assertEqual((c.sent, c.lost, c.corrupted), (105, 35, 14))
        self.assertEqual(c.answered, 105 - 35 - 14)

    def test_lastRequestLost(self) -> None:
        """
        When the count is reached with the window not full, the last
        requests still time out: a run whose every request is lost ends
        after its timeout (it once waited for ever when the last send
        filled a window only in part).
        """
        pacer = _run(Schedule(0, 2, 5, None), lambda n, r: None, timeout=0.2)
        self.assertTrue(pacer.done.called)
        self.assertEqual((pacer.accounting.counts.sent, pacer.accounting.counts.lost), (5, 5))
        self.assertTrue(0.6 <= pacer.elapsedS <= 0.61, pacer.elapsedS)

    def test_stop(self) -> None:
        """
        Stopping (Ctrl-C) ends the run at once; what waits is lost.
        """
        clock = Clock()
        accounting = Accounting(64, 10**9, lambda: int(clock.seconds() * 1e9))
        pacer = Pacer(clock, accounting, Schedule(10, 1, None, None), [lambda r: None], lambda: 0)
        pacer.start()
        clock.advance(0.5)
        pacer.stop()
        self.assertEqual((accounting.counts.sent, accounting.counts.lost), (1, 1))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.successResultOf(pacer.done)


class InterruptTests(SynchronousTestCase):
    """
    Ctrl-C (L{Probe.interrupt}) ends a run as if it had ended.
    """

    def test_inFlightAnswered(self) -> None:
        """
        A request sent just before Ctrl-C whose reply comes after it is
        answered, not lost; nothing more is sent, and the run then ends.
        """
        clock = Clock()
        sent: List[bytes] = []
        settings = Settings("udp", "127.0.0.1", 9, 64, Schedule(10, 1, None, None), 1.0)
        probe = Probe(clock, settings, clock=lambda: int(clock.seconds() * 1e9))
        pacer = probe._pacer([sent.append])
        pacer.start()
        clock.advance(0.5)
        probe.interrupt()
        self.assertTrue(probe.interrupted)
        self.assertNoResult(pacer.done)
        pacer.replied(sent[-1].upper())
        self.successResultOf(pacer.done)
        counts = probe.accounting.counts
        self.assertEqual((counts.sent, counts.answered, counts.lost), (len(sent), len(sent), 0))
        clock.advance(5)
        self.assertEqual(counts.sent, len(sent))

    def test_inFlightLostAfterTimeout(self) -> None:
        """
        A request in flight at Ctrl-C that gets no reply is lost once its
        timeout has passed, as at the end of any run.
        """
        clock = Clock()
        settings = Settings("udp", "127.0.0.1", 9, 64, Schedule(10, 1, None, None), 1.0)
        probe = Probe(clock, settings, clock=lambda: int(clock.seconds() * 1e9))
        pacer = probe._pacer([lambda request: None])
        pacer.start()
        clock.advance(0.05)
        probe.interrupt()
        self.assertNoResult(pacer.done)
        clock.advance(1.0)
        self.successResultOf(pacer.done)
        self.assertEqual((probe.accounting.counts.sent, probe.accounting.counts.lost), (1, 1))


class _TooLong:
    """
    A connected UDP port whose system refuses every datagram as too long.
    """

    def __init__(self) -> None:
        self.tried: List[bytes] = []

    def write(self, datagram: bytes, addr: object = None) -> None:
        self.tried.append(datagram)
        raise MessageLengthError("message too long")


class DatagramProtocolTests(SynchronousTestCase):
    """
    L{ProbeDatagramProtocol} sends each request as one datagram.
    """

    def test_tooLong(self) -> None:
        """
        A datagram the system will not send (C{EMSGSIZE}) is tried once and
        goes unanswered: no exception reaches the pacer, no refusal is
        reported, so the request counts as lost.
        """
        refused: List[bool] = []
        protocol = ProbeDatagramProtocol(("127.0.0.1", 9), lambda reply: None, refused.append)
        transport = _TooLong()
        protocol.transport = transport  # type: ignore[assignment]
        protocol.send(b"x" * 9000)
        self.assertEqual(transport.tried, [b"x" * 9000])
        self.assertEqual(refused, [])


class LineProtocolTests(SynchronousTestCase):
    """
    L{ProbeLineProtocol} splits replies at newlines however they arrive.
    """

    def test_split(self) -> None:
        """
        Lines split at every index give the same replies.
        """
        data = b"ABC\nDEFG\n\nH\n"
        for index in range(len(data) + 1):
            got: List[bytes] = []
            protocol = ProbeLineProtocol(got.append, 100)
            protocol.dataReceived(data[:index])
            protocol.dataReceived(data[index:])
            self.assertEqual(got, [b"ABC", b"DEFG", b"", b"H"])

    def test_sendsTogether(self) -> None:
        """
        A request sent outside a read is written at once; the requests sent
        while one read's replies are handed over are written together, in
        order, once they all are; the next read starts afresh.
        """
        writes: List[bytes] = []
        transport = StringTransport()
        transport.write = writes.append  # type: ignore[method-assign]
        protocol = ProbeLineProtocol(lambda reply: protocol.send(reply.lower()), 100)
        protocol.makeConnection(transport)
        protocol.send(b"first")
        protocol.dataReceived(b"A\nB\nC")
        protocol.dataReceived(b"\n")
        self.assertEqual(writes, [b"first\n", b"a\nb\n", b"c\n"])

    def test_prepare(self) -> None:
        """
        L{ProbeLineProtocol.prepare} imports the switch (and so runs its
        self-test) before a run times anything.
        """
        import sockservice._fast
        from sockservice._fast import switch

        del sys.modules["sockservice._fast.switch"]
        self.addCleanup(setattr, sockservice._fast, "switch", switch)
        self.addCleanup(sys.modules.__setitem__, "sockservice._fast.switch", switch)
        ProbeLineProtocol.prepare()
        self.assertIsNot(sys.modules.get("sockservice._fast.switch", switch), switch)


def _outcome(path: Callable[[int, bytes], Optional[bytes]], count: int = 10) -> Outcome:
    pacer = _run(Schedule(0, 1, count, None), path)
    settings = Settings("udp", "127.0.0.1", 12000, 64, pacer.schedule, 1.0)
    return Outcome(settings, pacer.accounting, pacer.intervals, pacer.elapsedS)


class ReportTests(SynchronousTestCase):
    """
    Gates, exit statuses and what is written.
    """

    def report(
        self, outcome: Outcome, *argv: str, interrupted: bool = False
    ) -> tuple[int, bytes, str]:
        options = ProbeOptions()
        options.parseOptions(["udp", *argv])
        out, err = io.BytesIO(), io.StringIO()
        probe = Probe(Clock(), outcome.settings)
        probe.interrupted = interrupted
        status = _report(outcome, options, Console(out, err, False, lambda p: None), probe)
        return status, out.getvalue(), err.getvalue()

    def test_gatesHold(self) -> None:
        """
        When every gate holds the status is 0 and the summary is printed.
        """
        outcome = _outcome(lambda n, r: r.upper())
        status, out, err = self.report(
            outcome, "--max-loss", "0", "--max-p99", "50", "--max-corrupt", "0"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertIn(b"10 sent, 10 answered, 0% loss", out)

    def test_gateFails(self) -> None:
        """
        A failed gate gives 3 and one line naming it.
        """
        outcome = _outcome(lambda n, r: None if n == 3 else r.upper())
        status, out, err = self.report(outcome, "--max-loss", "5", "--max-corrupt", "0")
        self.assertEqual(status, 3)
        self.assertEqual(err, "sockservice-client: gate failed: max-loss: loss 10% > 5\n")

    def test_interruptedBeforeReply(self) -> None:
        """
        Ctrl-C before any reply gives 130.
        """
        outcome = _outcome(lambda n, r: None, count=1)
        self.assertEqual(self.report(outcome, interrupted=True)[0], 130)

    def test_document(self) -> None:
        """
        The document names the corrupted replies and the gates.
        """
        outcome = _outcome(lambda n, r: r if n == 2 else r.upper())
        checked = gates(outcome, None, None, 0)
        doc = document(outcome, "latency", checked, 3)
        self.assertEqual(doc["summary"]["corrupted"], 1)
        self.assertEqual(
            doc["gates"], [{"name": "max-corrupt", "limit": 0, "value": 1, "ok": False}]
        )
        self.assertIn(
            "first corrupted reply: to request 2, first differing offset 0",
            summaryText(outcome, "x"),
        )
