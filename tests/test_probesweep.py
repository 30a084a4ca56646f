# -*- test-case-name: tests.test_probesweep -*-
"""
Tests for the size sweep of C{sockservice-client probe --sizes}:
L{sockservice.probe.sweep} (the sizes, the plan that finds a UDP limit to
the byte, the rows and the table), its gates and C{--json} document, and
its options.
"""

from __future__ import annotations

import json
from typing import Callable, List, Optional

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from sockservice.cli.probe import ProbeOptions
from sockservice.probe.accounting import Accounting, Counts
from sockservice.probe.document import sweepDocument
from sockservice.probe.latency import Latency
from sockservice.probe.modes import Settings
from sockservice.probe.pacing import Pacer, Schedule
from sockservice.probe.report import sweepGates
from sockservice.probe.sweep import (
    MAX_TCP,
    MAX_UDP,
    MILESTONES,
    SizeRow,
    Sizes,
    parseSizes,
    sweepFindings,
    sweepTable,
    windowFor,
)
from sockservice.probe.sweeper import SweepOutcome
from tests.support import ROOT

SCHEMA = ROOT / "docs" / "probe-schema.json"


def _tried(sizes: Sizes, protocol: str, roundTrips: Callable[[int], bool]) -> List[int]:
    """
    The sizes a sweep tries when C{roundTrips} says which pass.
    """
    plan = sizes.plan(protocol)
    tried = []
    size = plan.next()
    while size is not None:
        assert size not in tried, (size, tried)
        tried.append(size)
        plan.record(size, roundTrips(size))
        size = plan.next()
    return tried


class ParseSizesTests(SynchronousTestCase):
    """
    C{--sizes} is a list or a range of sizes from 28 to the largest.
    """

    def test_list(self) -> None:
        """
        A list keeps its order and drops duplicates.
        """
        self.assertEqual(parseSizes("1472, 64,512,64"), Sizes((1472, 64, 512), False))

    def test_range(self) -> None:
        """
        A range is its two ends.
        """
        self.assertEqual(parseSizes("64..65507", MAX_UDP), Sizes((64, 65507), True))

    def test_refused(self) -> None:
        """
        Sizes under 28, non-numbers, empty items and malformed ranges are
        refused with one line naming the bounds.
        """
        for text in ("0", "-5", "27", "64,,512", "abc", "64..", "1..2..3", "", "1e3", "٣٢"):
            with self.assertRaises(ValueError) as caught:
                parseSizes(text, MAX_UDP)
            self.assertEqual(
                str(caught.exception),
                "--sizes must be sizes from 28 to 65507, comma-separated (64,512,1472) "
                f"or a range (64..65507), not {text!r}",
            )

    def test_tooLarge(self) -> None:
        """
        A size over the largest UDP payload (or the largest TCP size) is
        refused by name.
        """
        with self.assertRaises(ValueError) as caught:
            parseSizes("64,65508", MAX_UDP)
        self.assertEqual(
            str(caught.exception), "--sizes: 65508 is over 65507, the largest UDP payload"
        )
        with self.assertRaises(ValueError):
            parseSizes(f"64..{MAX_TCP + 1}")

    def test_backwards(self) -> None:
        """
        A range must go up.
        """
        for text in ("512..64", "64..64"):
            with self.assertRaises(ValueError) as caught:
                parseSizes(text)
            self.assertIn("must go from a smaller size to a larger", str(caught.exception))


class PlanTests(SynchronousTestCase):
    """
    The order of the sizes: a list as given; a UDP range up its milestones,
    then bisected to the byte; a TCP range every step.
    """

    def test_list(self) -> None:
        """
        A list is tried in full, as given, whatever fails.
        """
        sizes = Sizes((9000, 64, 1472), False)
        self.assertEqual(_tried(sizes, "udp", lambda n: n < 1000), [9000, 64, 1472])

    def test_udpRangeAllPass(self) -> None:
        """
        When every size passes, a UDP range is its ends and the milestones
        between.
        """
        tried = _tried(Sizes((64, 65507), True), "udp", lambda n: True)
        self.assertEqual(tried, [64, *MILESTONES["udp"], 65507])

    def test_tcpRange(self) -> None:
        """
        A TCP range is its ends and the powers of two between, all tried
        even when some fail.
        """
        tried = _tried(Sizes((100, 5000), True), "tcp", lambda n: n < 1000)
        self.assertEqual(tried, [100, 128, 256, 512, 1024, 2048, 4096, 5000])

    def test_lowerEndFails(self) -> None:
        """
        When the range's first size fails, nothing else is tried.
        """
        self.assertEqual(_tried(Sizes((64, 65507), True), "udp", lambda n: False), [64])

    @given(st.integers(28, 65507), st.integers(28, 65507), st.integers(0, 70000))
    def test_limitFound(self, low: int, high: int, limit: int) -> None:
        """
        On a path that carries datagrams up to C{limit} bytes, the largest
        size that round-trips is C{limit} (when inside the range), found in
        at most the milestones plus a bisection's steps.
        """
        low, high = min(low, high), max(low, high) + 1
        rows = []
        for size in _tried(Sizes((low, high), True), "udp", lambda n: n <= limit):
            passed = size <= limit
            rows.append(SizeRow.of(size, Counts(1, int(passed), 1 - passed), Latency(), 1.0))
        largest, lossFrom = sweepFindings(rows)
        self.assertEqual(largest, None if limit < low else min(limit, high))
        self.assertEqual(lossFrom, None if limit >= high else max(limit + 1, low))
        self.assertLessEqual(len(rows), len(MILESTONES["udp"]) + 2 + (high - low).bit_length())

    def test_window(self) -> None:
        """
        Without --window, 64 KiB of requests in flight, one at least, the
        count at most.
        """
        self.assertEqual(
            [windowFor(n, 5) for n in (64, 13107, 13108, 40000, 65507)], [5, 5, 4, 1, 1]
        )


def _row(size: int, path: Callable[[int, bytes], Optional[bytes]]) -> SizeRow:
    """
    The row of 10 requests of C{size} over an in-memory C{path} on a clock
    (replies 2 ms later; a request without one is lost after 1 s).
    """
    clock = Clock()
    accounting = Accounting(size, 10**9, lambda: int(clock.seconds() * 1e9))
    sent: List[int] = []

    def send(request: bytes) -> None:
        reply = path(len(sent), request)
        sent.append(1)
        if reply is not None:
            clock.callLater(0.002, pacer.replied, reply)

    pacer = Pacer(clock, accounting, Schedule(0, 1, 10, None), [send], accounting._clock)
    pacer.start()
    while not pacer.done.called:
        clock.advance(0.001)
    return SizeRow.of(size, accounting.counts, accounting.latency, pacer.elapsedS)


def _sweep(rows: List[SizeRow], isRange: bool = False) -> SweepOutcome:
    counts = Counts()
    for row in rows:
        counts.sent += row.sent
        counts.answered += row.answered
        counts.lost += row.lost
        counts.corrupted += row.corrupted
    settings = Settings("udp", "127.0.0.1", 12000, 64, Schedule(0, 1, None, None), 1.0)
    sizes = Sizes(tuple(r.size for r in rows), isRange)
    return SweepOutcome(settings, sizes, 10, None, rows, counts, Latency(), 1.5)


class RowTests(SynchronousTestCase):
    """
    What a size's requests found, its gates, table and document.
    """

    def setUp(self) -> None:
        self.rows = [
            _row(64, lambda n, r: r.upper()),
            _row(1472, lambda n, r: None if n < 3 else r.upper()),
            _row(9000, lambda n, r: r.upper()[:-1] + b"?" if n == 4 else None),
        ]

    def test_counts(self) -> None:
        """
        Each size counts its answered, lost and corrupted replies, its p50
        and its verified throughput.
        """
        ok, lossy, bad = self.rows
        self.assertEqual((ok.sent, ok.answered, ok.lost, ok.lossPct), (10, 10, 0, 0.0))
        self.assertEqual((lossy.answered, lossy.lost, lossy.lossPct), (7, 3, 30.0))
        self.assertEqual((bad.answered, bad.lost, bad.corrupted), (0, 9, 1))
        assert ok.p50Us is not None
        self.assertTrue(1990 <= ok.p50Us <= 2010, ok.p50Us)
        self.assertEqual(ok.mbytesPerS, round(10 * 64 / ok.elapsedS / 1e6, 3))
        self.assertEqual(bad.p50Us, None)
        self.assertEqual(sweepFindings(self.rows), (1472, 1472))

    def test_table(self) -> None:
        """
        The table has a line per size, in ascending order, and the findings.
        """
        table = sweepTable(list(reversed(self.rows)), "127.0.0.1:12000", "udp", 1.5)
        lines = table.splitlines()
        self.assertEqual(lines[0], "--- 127.0.0.1:12000 udp size sweep ---")
        self.assertEqual([line.split()[0] for line in lines[2:5]], ["64", "1472", "9000"])
        self.assertEqual(lines[3].split()[1:6], ["10", "7", "3", "0", "30.0"])
        self.assertEqual(
            lines[5], "largest that round-trips: 1472 B; loss from: 1472 B (3 sizes, time 1500 ms)"
        )

    def test_gates(self) -> None:
        """
        The loss gate takes the worst size, the p99 gate the worst size
        answered, the corruption gate every size.
        """
        checked = sweepGates(_sweep(self.rows), 10.0, 1000.0, 0)
        self.assertEqual(
            [(g.name, g.value, g.ok) for g in checked],
            [
                ("max-loss", 90.0, False),
                ("max-p99", max(r.p99Us for r in self.rows if r.p99Us) / 1000, True),
                ("max-corrupt", 1, False),
            ],
        )

    def test_document(self) -> None:
        """
        The --json document of a sweep has each size's row and the
        findings, and is valid against docs/probe-schema.json.
        """
        import jsonschema

        sweep = _sweep(self.rows)
        doc = sweepDocument(sweep, sweepGates(sweep, None, None, 0), 3)
        jsonschema.validate(doc, json.loads(SCHEMA.read_text(encoding="utf-8")))
        self.assertEqual(doc["mode"], "sweep")
        self.assertEqual(doc["parameters"]["size"], None)
        self.assertEqual(doc["parameters"]["count"], 10)
        self.assertEqual(
            {k: doc["sweep"][k] for k in ("range", "asked", "largest_ok", "loss_from")},
            {"range": False, "asked": [64, 1472, 9000], "largest_ok": 1472, "loss_from": 1472},
        )
        self.assertEqual([r["size"] for r in doc["sweep"]["sizes"]], [64, 1472, 9000])
        self.assertEqual(doc["sweep"]["sizes"][1]["lost"], 3)
        self.assertEqual(doc["summary"]["sent"], 30)


class OptionsTests(SynchronousTestCase):
    """
    What --sizes and --stream take, and what they refuse (usage errors).
    """

    def parse(self, *argv: str) -> ProbeOptions:
        options = ProbeOptions()
        options.parseOptions(list(argv))
        return options

    def assertRefused(self, message: str, *argv: str) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            self.parse(*argv)
        self.assertEqual(str(caught.exception), message)

    def test_nulInFileNames(self) -> None:
        """
        A file name with a NUL byte, which no file can have, is refused as
        the options are parsed, naming the option.
        """
        self.assertRefused("--hgrm: not a file name: 'a\\x00b'", "--hgrm", "a\x00b")
        self.assertRefused("--plot: not a file name: 'a\\x00b.svg'", "--plot", "a\x00b.svg")

    def test_sweepDefaults(self) -> None:
        """
        A sweep sends as fast as its window allows, unless told a rate.
        """
        options = self.parse("udp", "--sizes", "64..1500")
        self.assertEqual(options["sizes"], Sizes((64, 1500), True))
        self.assertEqual(options.settings().schedule.rate, 0.0)
        self.assertEqual(self.parse("udp").settings().schedule.rate, 10.0)
        self.assertEqual(
            self.parse("udp", "--sizes", "64", "--rate", "5").settings().schedule.rate, 5
        )

    def test_refused(self) -> None:
        """
        Each mode refuses what it cannot honour, with one line.
        """
        for message, argv in [
            ("--sizes: 70000 is over 65507, the largest UDP payload", "udp --sizes 64,70000"),
            ("--stream is for tcp only", "udp --stream"),
            ("--sizes and --stream cannot be combined", "tcp --stream --sizes 64"),
            ("--connect and --sizes cannot be combined", "tcp --connect --sizes 64"),
            ("--size is not for --sizes", "udp --sizes 64 --size 100"),
            ("--duration is not for --sizes", "udp --sizes 64 --duration 3"),
            ("--plot is not for --sizes", "udp --sizes 64 --plot x.svg"),
            (
                "--max-loss needs --sizes as a list: a range looks for where loss starts",
                "udp --sizes 64..1500 --max-loss 1",
            ),
            ("--rate is not for --stream", "tcp --stream --rate 5"),
            ("--max-loss is not for --stream", "tcp --stream --max-loss 1"),
            ("--max-p99 is not for --stream", "tcp --stream --max-p99 1"),
            ("--hgrm is not for --stream", "tcp --stream --hgrm x"),
            ("--connections is not for --stream", "tcp --stream --connections 2"),
        ]:
            self.assertRefused(message, *argv.split())

    def test_tcpLarge(self) -> None:
        """
        Over TCP, sizes go up to 1 MiB.
        """
        self.assertEqual(self.parse("tcp", "--sizes", "70000")["sizes"].sizes, (70000,))
        self.assertRefused(
            "--sizes: 1048577 is over 1048576, the largest size", "tcp", "--sizes", "1048577"
        )


class OutputFileTests(SynchronousTestCase):
    """
    The files the probe writes (C{--hgrm}) fail with one line.
    """

    def test_unwritable(self) -> None:
        """
        A file in a missing directory is a L{ClientError} naming it.
        """
        from sockservice.cli.probe import _write
        from sockservice.client.errors import ClientError

        missing = self.mktemp() + "/none/x.hgrm"
        error = self.assertRaises(ClientError, _write, missing, "")
        self.assertEqual(str(error), f"cannot write {missing}: No such file or directory")
