# -*- test-case-name: tests.test_bench -*-
"""
Tests for the benchmark harness's pure parts: L{bench.results},
L{bench.checks}, L{bench.report} and L{bench.scaling}.  The benchmark itself never runs in the test suite.
"""

import json
import os
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from bench import checks, report, results, scaling, servers
from bench.results import Stat

# A line as bench/loadgen.c prints it (tcp-rr, 50 connections).
RR_LINE = (
    '{"mode": "tcp-rr", "duration_s": 2.0001, "ok": 122000, "errors": 0, '
    '"conn_errors": 0, "rate": 60996.9, "p50_us": 737.4, "p99_us": 1077.5, '
    '"cpu_user_s": 0.0277, "cpu_sys_s": 0.9691, "cpu_pct": 49.8, "conns": 50, '
    '"size": 64}'
)
STREAM_LINE = (
    '{"mode": "tcp-stream", "duration_s": 1.5, "ok": 600000000, "errors": 3, '
    '"conn_errors": 0, "rate": 400000000.0, "p50_us": -1.0, "p99_us": -1.0, '
    '"cpu_user_s": 0.01, "cpu_sys_s": 0.3, "cpu_pct": 20.7, "bytes": 600000000, '
    '"mb_per_s": 400.0, "drained": true}'
)
UDP_LINE = (
    '{"mode": "udp-rr", "duration_s": 1.5, "ok": 180000, "errors": 0, '
    '"conn_errors": 0, "rate": 120000.0, "p50_us": 244.3, "p99_us": 315.1, '
    '"cpu_user_s": 0.06, "cpu_sys_s": 0.9, "cpu_pct": 64.0, "outstanding": 32, '
    '"size": 64, "sent": 180010, "lost": 9, "late": 1, "loss_pct": 0.005}'
)
IDLE_LINE = (
    '{"mode": "idle", "duration_s": 0.2, "ok": 4990, "errors": 0, '
    '"conn_errors": 2, "rate": 24950.0, "p50_us": -1.0, "p99_us": -1.0, '
    '"cpu_user_s": 0.0, "cpu_sys_s": 0.2, "cpu_pct": 98.5, "conns": 5000, '
    '"established": 4990}'
)


def _measurement(key):
    return next(m for m in results.MEASUREMENTS if m.key == key)


def _summary():
    """
    A small summary: three peers and sockservice on CPython and PyPy.
    """

    def entry(value, gen=50.0, server=100.0):
        us = server * 1e4 / value
        return {
            "value": Stat(value, value * 0.9, value * 1.1, 3),
            "gen_cpu_pct": Stat(gen, gen - 1, gen + 1, 3),
            "server_cpu_pct": Stat(server, server, server, 3),
            "server_us_per_op": Stat(us, us * 0.9, us * 1.1, 3),
            "p50_us": Stat(700.0, 690.0, 710.0, 3),
            "p99_us": Stat(1100.0, 1000.0, 1200.0, 3),
            "errors_total": Stat(0.0, 0.0, 0.0, 3),
            "conn_errors_total": Stat(0.0, 0.0, 0.0, 3),
        }

    return {
        "asyncio": {
            "tcp-rr-50": entry(128000.0),
            "idle": {"value": Stat(2048.0, 2000.0, 2100.0, 3)},
        },
        "uvloop": {"tcp-rr-50": entry(115000.0, gen=95.0, server=70.0)},
        "twisted": {"tcp-rr-50": entry(61000.0)},
        "sockservice": {
            "tcp-rr-50": entry(60000.0),
            "idle": {"value": Stat(9216.0, 9000.0, 9300.0, 3)},
        },
        "sockservice-pypy": {"tcp-rr-50": entry(90000.0)},
    }


class ParseGeneratorLineTests(SynchronousTestCase):
    """
    L{results.parseGeneratorLine} reads the generator's one JSON line.
    """

    def test_sampleLine(self):
        """
        A tcp-rr line gives its fields as numbers.
        """
        result = results.parseGeneratorLine(RR_LINE + "\n")
        self.assertEqual(result["mode"], "tcp-rr")
        self.assertEqual(result["ok"], 122000)
        self.assertEqual(result["rate"], 60996.9)
        self.assertEqual(result["cpu_pct"], 49.8)

    def test_lastJSONLineWins(self):
        """
        Other output before the result line is ignored.
        """
        result = results.parseGeneratorLine("warming up\n" + UDP_LINE + "\n\n")
        self.assertEqual(result["lost"], 9)

    def test_noResultLine(self):
        """
        Output without a JSON object is an error.
        """
        self.assertRaises(
            results.GeneratorOutputError, results.parseGeneratorLine, "oops\n"
        )

    def test_badJSON(self):
        """
        A truncated JSON line is an error.
        """
        self.assertRaises(
            results.GeneratorOutputError, results.parseGeneratorLine, RR_LINE[:40]
        )

    def test_missingKey(self):
        """
        A result without a required key (here C{rate}) is an error naming it.
        """
        line = json.dumps({k: v for k, v in json.loads(RR_LINE).items() if k != "rate"})
        e = self.assertRaises(
            results.GeneratorOutputError, results.parseGeneratorLine, line
        )
        self.assertIn("rate", str(e))


class SampleValuesTests(SynchronousTestCase):
    """
    L{results.sampleValues} picks each measurement's headline value.
    """

    def test_requestResponse(self):
        """
        tcp-rr gives the request rate, latency and both CPU figures.
        """
        values = results.sampleValues(
            _measurement("tcp-rr-50"),
            results.parseGeneratorLine(RR_LINE),
            serverCpuPct=99.0,
        )
        self.assertEqual(values["value"], 60996.9)
        self.assertEqual((values["p50_us"], values["p99_us"]), (737.4, 1077.5))
        self.assertEqual(values["gen_cpu_pct"], 49.8)
        self.assertEqual(values["server_cpu_pct"], 99.0)
        self.assertAlmostEqual(values["server_us_per_op"], 0.99e6 / 60996.9)
        self.assertEqual(values["errors"], 0)

    def test_noServerCpu(self):
        """
        Without the server's CPU use there is no cost per request.
        """
        values = results.sampleValues(
            _measurement("tcp-rr-50"), results.parseGeneratorLine(RR_LINE)
        )
        self.assertNotIn("server_us_per_op", values)

    def test_stream(self):
        """
        tcp-stream gives MB/s of verified bytes and counts wrong bytes as errors.
        """
        values = results.sampleValues(
            _measurement("tcp-stream"), results.parseGeneratorLine(STREAM_LINE)
        )
        self.assertEqual(values["value"], 400.0)
        self.assertEqual(values["errors"], 3)
        self.assertNotIn("p50_us", values)
        self.assertNotIn("server_us_per_op", values)

    def test_udpLoss(self):
        """
        udp-rr gives the datagram rate and the loss percentage.
        """
        values = results.sampleValues(
            _measurement("udp-rr-32"), results.parseGeneratorLine(UDP_LINE)
        )
        self.assertEqual(values["value"], 120000.0)
        self.assertEqual(values["loss_pct"], 0.005)

    def test_idleBytesPerConnection(self):
        """
        idle gives the growth of the server's RSS divided by the connections
        established; connections that never were count as connection errors.
        """
        values = results.sampleValues(
            _measurement("idle"),
            results.parseGeneratorLine(IDLE_LINE),
            10_000_000,
            30_958_000,
        )
        self.assertEqual(values["value"], 4200.0)
        self.assertEqual(values["conn_errors"], 12)

    def test_idleNeedsMemory(self):
        """
        idle without the server's RSS is an error.
        """
        self.assertRaises(
            results.GeneratorOutputError,
            results.sampleValues,
            _measurement("idle"),
            results.parseGeneratorLine(IDLE_LINE),
        )


class SummarizeTests(SynchronousTestCase):
    """
    L{results.summarize} and L{results.aggregate} reduce repeated runs.
    """

    def test_oddCount(self):
        """
        Three runs give their middle value, minimum and maximum.
        """
        self.assertEqual(
            results.summarize([61000, 58000, 63100]), Stat(61000, 58000, 63100, 3)
        )

    def test_evenCount(self):
        """
        With an even count the median is the mean of the middle two.
        """
        self.assertEqual(results.summarize([1, 4, 2, 3]).median, 2.5)

    def test_empty(self):
        """
        Nothing to summarize is an error.
        """
        self.assertRaises(ValueError, results.summarize, [])

    def test_aggregate(self):
        """
        Samples are grouped by server and measurement; errors are also totalled.
        """
        samples = [
            {"server": "twisted", "measurement": "tcp-rr-50", "round": r, "values": v}
            for r, v in enumerate(
                [
                    {"value": 60000, "errors": 0},
                    {"value": 62000, "errors": 2},
                    {"value": 59000, "errors": 1},
                ]
            )
        ]
        summary = results.aggregate(samples)
        stats = summary["twisted"]["tcp-rr-50"]
        self.assertEqual(stats["value"], Stat(60000, 59000, 62000, 3))
        self.assertEqual(stats["errors_total"].median, 3)

    def test_aggregateLeavesOutNoisyRuns(self):
        """
        With a noise limit, runs above it are left out where a quiet run
        exists; their errors still count.
        """
        samples = [
            {"server": "a", "measurement": "tcp-rr-50", "values": v}
            for v in [
                {"value": 100.0, "other_cpu_pct": 2.0, "errors": 0.0},
                {"value": 40.0, "other_cpu_pct": 60.0, "errors": 1.0},
                {"value": 90.0, "other_cpu_pct": 0.0, "errors": 0.0},
            ]
        ] + [
            {
                "server": "b",
                "measurement": "tcp-rr-50",
                "values": {"value": v, "other_cpu_pct": 50.0},
            }
            for v in (10.0, 20.0)
        ]
        summary = results.aggregate(samples, noiseLimit=15.0)
        a = summary["a"]["tcp-rr-50"]
        self.assertEqual(a["value"], Stat(95.0, 90.0, 100.0, 2))
        self.assertEqual((a["runs_used"].n, a["runs_total"].n), (2, 3))
        self.assertEqual(a["errors_total"].median, 1.0)
        b = summary["b"]["tcp-rr-50"]
        self.assertEqual(b["value"], Stat(15.0, 10.0, 20.0, 2))
        self.assertEqual(
            results.aggregate(samples)["a"]["tcp-rr-50"]["value"].median, 90.0
        )

    def test_otherLoad(self):
        """
        The other load on the CPUs is summarised over every sample that measured it.
        """
        samples = [
            {"server": "a", "measurement": "tcp-rr-1", "values": {"other_cpu_pct": v}}
            for v in (5.0, 40.0, 1.0)
        ] + [{"server": "a", "measurement": "idle", "values": {"value": 1.0}}]
        self.assertEqual(checks.otherLoad(samples), Stat(5.0, 1.0, 40.0, 3))
        self.assertIsNone(checks.otherLoad(samples[3:]))

    def test_noiseNote(self):
        """
        The noise note gives the other load, the repeated runs and the runs
        kept above the limit.
        """
        samples = [
            {"values": {"other_cpu_pct": 2.0, "retries": 0.0}},
            {"values": {"other_cpu_pct": 30.0, "retries": 2.0}},
            {"values": {"other_cpu_pct": 4.0, "retries": 1.0}},
        ]
        self.assertEqual(
            checks.noiseNote(samples, 15.0),
            "other load on the benchmark's CPUs during the runs kept (other processes, "
            "interrupts, steal): median 4%, max 30% of one core; runs repeated because "
            "it exceeded 15%: 2; runs kept above 15%: 1 of 3",
        )
        self.assertIsNone(checks.noiseNote([{"values": {"value": 1.0}}], 15.0))

    def test_jsonRoundTrip(self):
        """
        A summary survives conversion to JSON and back.
        """
        summary = _summary()
        data = json.loads(json.dumps(results.summaryToJson(summary)))
        self.assertEqual(data["twisted"]["tcp-rr-50"]["value"]["median"], 61000.0)
        self.assertEqual(results.summaryFromJson(data), summary)


class RatioTests(SynchronousTestCase):
    """
    L{results.ratio} compares sockservice with a peer.
    """

    def test_ratio(self):
        """
        The ratio is ours divided by theirs.
        """
        self.assertAlmostEqual(results.ratio(61000, 122000), 0.5)

    def test_missing(self):
        """
        A missing figure on either side gives no ratio.
        """
        self.assertIsNone(results.ratio(None, 1.0))
        self.assertIsNone(results.ratio(1.0, None))

    def test_zero(self):
        """
        A peer measured at zero gives no ratio rather than a division error.
        """
        self.assertIsNone(results.ratio(1.0, 0.0))


class GeneratorCheckTests(SynchronousTestCase):
    """
    L{results.generatorCheck} reports the generator's CPU use against the fastest server.
    """

    def test_verdicts(self):
        """
        Below 90% the generator has headroom; at 90% or more it is the limit,
        unless the server is as busy.
        """
        self.assertEqual(checks.verdict(60.0, 100.0), "headroom")
        self.assertEqual(checks.verdict(95.0, 99.0), "both busy")
        self.assertEqual(checks.verdict(95.0, 60.0), "generator-bound")
        self.assertEqual(checks.verdict(95.0, None), "generator-bound")

    def test_fastestServer(self):
        """
        The row names the fastest server and the generator's CPU use against it.
        """
        (row,) = checks.generatorCheck(_summary(), [_measurement("tcp-rr-50")])
        self.assertEqual(row["server"], "asyncio")
        self.assertEqual(row["gen_cpu_pct"], 50.0)
        self.assertEqual(row["gen_cpu_pct_max"], 51.0)
        self.assertEqual(row["verdict"], "headroom")


class TargetTests(SynchronousTestCase):
    """
    L{results.evaluateTargets} checks the issue's targets.
    """

    def test_bestOfCPythonAndPyPy(self):
        """
        The faster of sockservice's rows is compared with each peer.
        """
        rows = {t["target"]: t for t in checks.evaluateTargets(_summary())}
        uvloop = rows["tcp-rr-50: sockservice-pypy ≥ 1.0× uvloop"]
        self.assertAlmostEqual(uvloop["ratio"], 90000 / 115000)
        self.assertFalse(uvloop["met"])

    def test_twistedOnCPython(self):
        """
        The price of the features is sockservice on CPython against bare
        Twisted (on CPython), even where the PyPy row is faster.
        """
        rows = {t["target"]: t for t in checks.evaluateTargets(_summary())}
        twisted = rows["tcp-rr-50: sockservice ≥ 0.8× twisted"]
        self.assertAlmostEqual(twisted["ratio"], 60000 / 61000)
        self.assertTrue(twisted["met"])
        self.assertNotIn("tcp-rr-50: sockservice-pypy ≥ 0.8× twisted", rows)

    def test_idleMemory(self):
        """
        Idle memory on CPython is held to 8 KiB per connection.
        """
        rows = {t["target"]: t for t in checks.evaluateTargets(_summary())}
        self.assertFalse(rows["idle: sockservice ≤ 8 KiB/conn"]["met"])


class FormatTests(SynchronousTestCase):
    """
    L{report.formatNumber} and L{report.formatStat} write compact figures.
    """

    def test_numbers(self):
        """
        Large rates use a k suffix, small figures keep a few digits.
        """
        self.assertEqual(report.formatNumber(61234), "61.2k")
        self.assertEqual(report.formatNumber(713.7), "714")
        self.assertEqual(report.formatNumber(12.34), "12.3")
        self.assertEqual(report.formatNumber(3.456), "3.46")

    def test_bytesPerConnection(self):
        """
        Memory per connection is shown in KiB.
        """
        self.assertEqual(report.formatNumber(2048, "B/conn"), "2.0 KiB")

    def test_stat(self):
        """
        A stat reads "median (min–max)"; a single run just the value; none a dash.
        """
        self.assertEqual(
            report.formatStat(Stat(61234, 58000, 63100, 3)), "61.2k (58.0k–63.1k)"
        )
        self.assertEqual(report.formatStat(Stat(61234, 61234, 61234, 1)), "61.2k")
        self.assertEqual(report.formatStat(None), "–")


class RenderMarkdownTests(SynchronousTestCase):
    """
    L{report.renderMarkdown} writes the report.
    """

    def setUp(self):
        servers = ["asyncio", "uvloop", "twisted", "sockservice", "sockservice-pypy"]
        self.markdown = report.renderMarkdown(
            {
                "machine": "AMD EPYC, 2 CPUs",
                "date": "2026-11-23 13:00 UTC",
                "command": "python3 bench/run.py",
                "settings": "3 rounds",
                "servers": [{"name": s, "label": s.upper()} for s in servers],
                "ours": ["sockservice", "sockservice-pypy"],
                "summary": _summary(),
                "notes": ["figures are noisy"],
            }
        )
        self.lines = self.markdown.splitlines()

    def test_context(self):
        """
        The machine, date and command come first.
        """
        self.assertEqual(
            self.lines[:3],
            [
                "- Machine: AMD EPYC, 2 CPUs",
                "- Date: 2026-11-23 13:00 UTC",
                "- Command: `python3 bench/run.py`",
            ],
        )

    def test_resultsTable(self):
        """
        The results table has a column per measurement that was run and a
        row per server, each cell the median with its range.
        """
        header = next(line for line in self.lines if line.startswith("| server | idle"))
        self.assertEqual(
            header, "| server | idle (KiB/conn) | tcp-rr 50 conns (req/s) |"
        )
        self.assertIn("| TWISTED | – | 61.0k (54.9k–67.1k) |", self.lines)
        self.assertIn(
            "| ASYNCIO | 2.0 KiB (2.0 KiB–2.1 KiB) | 128.0k (115.2k–140.8k) |",
            self.lines,
        )

    def _render(self, summary):
        servers = [{"name": s, "label": s.upper()} for s in ("asyncio", "twisted")]
        return report.renderMarkdown(
            {
                "machine": "m",
                "date": "d",
                "command": "c",
                "settings": "s",
                "servers": servers,
                "summary": summary,
                "noise_limit": 15.0,
            }
        ).splitlines()

    def test_noisyCells(self):
        """
        With a noise limit, a cell whose every run was above it is starred.
        """
        summary = _summary()
        summary["twisted"]["tcp-rr-50"]["other_cpu_pct"] = Stat(40.0, 20.0, 60.0, 3)
        summary["asyncio"]["tcp-rr-50"]["other_cpu_pct"] = Stat(3.0, 0.0, 10.0, 3)
        lines = self._render(summary)
        self.assertIn("| TWISTED | – | 61.0k (54.9k–67.1k) * |", lines)
        self.assertIn(
            "| ASYNCIO | 2.0 KiB (2.0 KiB–2.1 KiB) | 128.0k (115.2k–140.8k) |", lines
        )

    def test_runsUsed(self):
        """
        A cell summarising fewer runs than were made says how many it used.
        """
        summary = _summary()
        summary["twisted"]["tcp-rr-50"]["runs_used"] = Stat(2.0, 2.0, 2.0, 2)
        summary["twisted"]["tcp-rr-50"]["runs_total"] = Stat(3.0, 3.0, 3.0, 3)
        self.assertIn(
            "| TWISTED | – | 61.0k (54.9k–67.1k) [2/3] |", self._render(summary)
        )

    def test_ratios(self):
        """
        Each sockservice row gets a ratio table against every peer.
        """
        start = self.lines.index("| measurement | ASYNCIO | UVLOOP | TWISTED |")
        self.assertIn("Ratio SOCKSERVICE ÷ peer", self.lines[start - 2])
        self.assertEqual(
            self.lines[start + 3], "| tcp-rr 50 conns | 0.47× | 0.52× | 0.98× |"
        )

    def test_cpuPerOperation(self):
        """
        A table gives each server's CPU time per operation, median and range.
        """
        start = self.lines.index("| server | tcp-rr 50 conns |")
        self.assertIn("Server CPU per operation in µs", self.lines[start - 2])
        # uvloop: 70% of a core at 115,000 requests/s.
        self.assertIn("| UVLOOP | 6.09 (5.48–6.70) |", self.lines[start:])

    def test_generatorBound(self):
        """
        A measurement whose fastest server ran the generator flat out is
        flagged; here asyncio is fastest and the generator has headroom.
        """
        row = next(
            line
            for line in self.lines
            if line.startswith("| tcp-rr 50 conns | ASYNCIO")
        )
        self.assertIn("50% (max 51%)", row)
        self.assertIn("generator has headroom", row)

    def test_tablesAreRectangular(self):
        """
        Every row of every table has as many cells as its header.
        """
        width = None
        for line in self.lines:
            if not line.startswith("|"):
                width = None
                continue
            cells = line.count("|")
            if width is None:
                width = cells
            self.assertEqual(cells, width, line)

    def test_notes(self):
        """
        Notes end the report.
        """
        self.assertEqual(self.lines[-1], "- figures are noisy")


# Uses 50 ms of CPU, says so, then waits for its standard input to close.
CHILD = (
    "import sys, time\n"
    "while time.process_time() < 0.05: pass\n"
    "print('busy', flush=True)\n"
    "sys.stdin.read()\n"
)


class ProcessTreeTests(SynchronousTestCase):
    """
    L{servers.processTree} and L{servers.readTreeCpuSeconds} see a server's
    worker processes.
    """

    def test_children(self):
        """
        A child process is in its parent's tree, and its CPU time is counted.
        """
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.addCleanup(child.wait)
        self.addCleanup(child.stdout.close)
        self.addCleanup(child.stdin.close)
        self.assertEqual(child.stdout.readline(), b"busy\n")
        self.assertGreater(servers.readCpuSeconds(child.pid), 0)
        tree = servers.processTree(os.getpid())
        self.assertEqual(tree[0], os.getpid())
        self.assertIn(child.pid, tree)
        self.assertGreaterEqual(
            servers.readTreeCpuSeconds(os.getpid()),
            servers.readCpuSeconds(os.getpid()) + servers.readCpuSeconds(child.pid),
        )
        self.assertEqual(servers.processTree(child.pid), [child.pid])


class ServerSpecTests(SynchronousTestCase):
    """
    L{bench.servers.serverSpecs} lists the servers; those on PyPy get the
    JIT's longer warm-up.
    """

    def test_jit(self):
        """
        Exactly the PyPy rows are marked as running on a JIT, and only when a
        PyPy is given.
        """
        jit = {s.name for s in servers.serverSpecs("python3", "pypy3") if s.jit}
        self.assertEqual(jit, {"twisted-pypy", "sockservice-pypy", "epoll-pypy"})
        self.assertFalse(any(s.jit for s in servers.serverSpecs("python3", None)))


class SpliceTests(SynchronousTestCase):
    """
    L{report.splice} replaces what lies between two markers.
    """

    def test_replaces(self):
        """
        The old text between the markers goes; the rest stays.
        """
        text = "intro\n<!-- a -->\nold\n<!-- b -->\nend\n"
        self.assertEqual(
            report.splice(text, "<!-- a -->", "<!-- b -->", "new\n"),
            "intro\n<!-- a -->\nnew\n<!-- b -->\nend\n",
        )

    def test_missingMarker(self):
        """
        A missing marker is an error, not a silent append.
        """
        self.assertRaises(ValueError, report.splice, "text", "<!-- a -->", "<!-- b -->", "x")


class CpuListTests(SynchronousTestCase):
    """
    L{scaling.parseCpuList} and L{scaling.formatCpuList} read and write CPU
    lists as C{taskset -c} does.
    """

    def test_parse(self):
        self.assertEqual(scaling.parseCpuList("0-3,8"), [0, 1, 2, 3, 8])
        self.assertEqual(scaling.parseCpuList("5"), [5])

    def test_parseBad(self):
        """
        Reversed ranges, negative numbers, repeats and words are refused.
        """
        for bad in ("3-1", "-1", "1,1", "a", "", "0-"):
            self.assertRaises(ValueError, scaling.parseCpuList, bad)

    def test_format(self):
        self.assertEqual(scaling.formatCpuList([8, 0, 1, 2, 3, 10]), "0-3,8,10")
        self.assertEqual(scaling.formatCpuList([1]), "1")

    @given(st.sets(st.integers(0, 63), min_size=1))
    def test_roundTrip(self, cpus):
        """
        Formatting then parsing gives back the same CPUs, in order.
        """
        self.assertEqual(
            scaling.parseCpuList(scaling.formatCpuList(list(cpus))), sorted(cpus)
        )


class ScalingPlanTests(SynchronousTestCase):
    """
    L{scaling.splitCpus} and L{scaling.workerCounts} plan the run.
    """

    def test_split(self):
        """
        The server gets the first half of the CPUs, the generators the rest.
        """
        self.assertEqual(scaling.splitCpus([3, 2, 1, 0]), ([0, 1], [2, 3]))
        self.assertEqual(scaling.splitCpus([0, 1]), ([0], [1]))
        self.assertEqual(scaling.splitCpus([0, 1, 2]), ([0], [1, 2]))

    def test_splitNeedsTwo(self):
        self.assertRaises(ValueError, scaling.splitCpus, [0])

    def test_workerCounts(self):
        """
        Powers of two up to the server's CPUs, then that number; always 1
        and 2.
        """
        self.assertEqual(scaling.workerCounts(1), [1, 2])
        self.assertEqual(scaling.workerCounts(2), [1, 2])
        self.assertEqual(scaling.workerCounts(6), [1, 2, 4, 6])
        self.assertEqual(scaling.workerCounts(8), [1, 2, 4, 8])


class CombineTests(SynchronousTestCase):
    """
    L{scaling.combine} adds up generators run side by side.
    """

    def test_rates(self):
        """
        Rates and errors add up; generator CPU is per generator CPU.
        """
        first = results.parseGeneratorLine(RR_LINE)
        second = {**first, "rate": 39003.1, "errors": 2, "cpu_pct": 30.2}
        values = scaling.combine([first, second], genCpus=2, serverCpuPct=180.0)
        self.assertEqual(values["value"], 100000.0)
        self.assertEqual(values["errors"], 2.0)
        self.assertEqual(values["gen_cpu_pct"], 40.0)
        self.assertEqual(values["server_cpu_pct"], 180.0)
        self.assertEqual(values["generators"], 2.0)
        self.assertNotIn("loss_pct", values)

    def test_loss(self):
        """
        Loss is counted over every generator's datagrams.
        """
        first = results.parseGeneratorLine(UDP_LINE)  # 180000 ok, 9 lost
        second = {**first, "ok": 19991, "lost": 9}
        values = scaling.combine([first, second], genCpus=1)
        self.assertAlmostEqual(values["loss_pct"], 100.0 * 18 / 200009)

    def test_none(self):
        self.assertRaises(ValueError, scaling.combine, [], 1)


class ScalingReportTests(SynchronousTestCase):
    """
    L{scaling.aggregate} and L{scaling.renderMarkdown} summarise a scaling run.
    """

    def setUp(self):
        def sample(workers, key, value, rnd):
            return {
                "workers": workers,
                "measurement": key,
                "round": rnd,
                "values": {
                    "value": value,
                    "errors": 1.0 if (workers, rnd) == (2, 1) else 0.0,
                    "conn_errors": 0.0,
                    "gen_cpu_pct": 50.0,
                    "server_cpu_pct": 95.0 * workers,
                },
            }

        self.samples = [
            sample(w, key, base * w * f, r)
            for r, f in ((1, 0.9), (2, 1.0), (3, 1.2))
            for w in (1, 2)
            for key, base in (("tcp-rr-50", 100000.0), ("tcp-crr", 10000.0))
        ]
        self.summary = scaling.aggregate(self.samples)
        self.lines = scaling.renderMarkdown(
            {
                "machine": "16 CPUs",
                "date": "2026-11-23 17:00 UTC",
                "command": "python3 bench/workers.py",
                "settings": "3 rounds",
                "notes": ["noisy"],
                "summary": self.summary,
            }
        ).splitlines()

    def test_aggregate(self):
        """
        Medians and ranges by worker count and measurement; errors are totals.
        """
        entry = self.summary[2]["tcp-rr-50"]
        self.assertEqual(entry["value"], Stat(200000.0, 180000.0, 240000.0, 3))
        self.assertEqual(entry["errors_total"].median, 1.0)
        self.assertEqual(entry["server_cpu_pct"].median, 190.0)

    def test_table(self):
        """
        A row per worker count: each measurement's median and range, its
        speed-up over one worker, and the errors.
        """
        self.assertEqual(self.lines[2], "- Command: `python3 bench/workers.py`")
        self.assertIn(
            "| workers | tcp-rr 50 conns each (req/s, total) | vs 1 worker "
            "| tcp-crr 8 clients each (conn/s, total) | vs 1 worker | errors |",
            self.lines,
        )
        self.assertIn(
            "| 1 | 100.0k (90.0k–120.0k) | 1.00× | 10.0k (9000–12.0k) | 1.00× | 0 |",
            self.lines,
        )
        self.assertIn(
            "| 2 | 200.0k (180.0k–240.0k) | 2.00× | 20.0k (18.0k–24.0k) | 2.00× | 2 |",
            self.lines,
        )

    def test_cpuTable(self):
        """
        The CPU table gives the server's and the generators' use per count.
        """
        self.assertIn("| 2 | 190% | 50% | 190% | 50% |", self.lines)

    def test_rectangular(self):
        """
        Every table row has as many cells as its header.
        """
        tables = "\n".join(self.lines).split("\n\n")
        for table in (t.splitlines() for t in tables if t.startswith("|")):
            self.assertEqual({row.count("|") for row in table}, {table[0].count("|")})
        self.assertEqual(self.lines[-1], "- noisy")

    def test_noBaseline(self):
        """
        Without a one-worker run there is no speed-up to show.
        """
        summary = scaling.aggregate([s for s in self.samples if s["workers"] == 2])
        text = scaling.renderMarkdown(
            {"machine": "m", "date": "d", "command": "c", "settings": "s", "summary": summary}
        )
        self.assertIn("| 2 | 200.0k (180.0k–240.0k) | – |", text)
