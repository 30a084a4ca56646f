# -*- test-case-name: bench.tests.test_report -*-
"""
Tests for L{bench.report}: number formats, the Markdown report and splicing it into a file.
"""

from twisted.trial.unittest import SynchronousTestCase

from bench import report
from bench.results import Stat
from bench.tests.samples import sampleSummary


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
        self.assertEqual(report.formatStat(Stat(61234, 58000, 63100, 3)), "61.2k (58.0k–63.1k)")
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
                "summary": sampleSummary(),
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
        self.assertEqual(header, "| server | idle (KiB/conn) | tcp-rr 50 conns (req/s) |")
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
        summary = sampleSummary()
        summary["twisted"]["tcp-rr-50"]["other_cpu_pct"] = Stat(40.0, 20.0, 60.0, 3)
        summary["asyncio"]["tcp-rr-50"]["other_cpu_pct"] = Stat(3.0, 0.0, 10.0, 3)
        lines = self._render(summary)
        self.assertIn("| TWISTED | – | 61.0k (54.9k–67.1k) * |", lines)
        self.assertIn("| ASYNCIO | 2.0 KiB (2.0 KiB–2.1 KiB) | 128.0k (115.2k–140.8k) |", lines)

    def test_runsUsed(self):
        """
        A cell summarising fewer runs than were made says how many it used.
        """
        summary = sampleSummary()
        summary["twisted"]["tcp-rr-50"]["runs_used"] = Stat(2.0, 2.0, 2.0, 2)
        summary["twisted"]["tcp-rr-50"]["runs_total"] = Stat(3.0, 3.0, 3.0, 3)
        self.assertIn("| TWISTED | – | 61.0k (54.9k–67.1k) [2/3] |", self._render(summary))

    def test_ratios(self):
        """
        Each sockservice row gets a ratio table against every peer.
        """
        start = self.lines.index("| measurement | ASYNCIO | UVLOOP | TWISTED |")
        self.assertIn("Ratio SOCKSERVICE ÷ peer", self.lines[start - 2])
        self.assertEqual(self.lines[start + 3], "| tcp-rr 50 conns | 0.47× | 0.52× | 0.98× |")

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
        row = next(line for line in self.lines if line.startswith("| tcp-rr 50 conns | ASYNCIO"))
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
