# -*- test-case-name: bench.tests.test_scaling -*-
"""
Tests for L{bench.scaling}: CPU lists, the scaling plan, combining runs and the scaling report.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from bench import results, scaling
from bench.results import Stat
from bench.tests.samples import RR_LINE, UDP_LINE


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
        self.assertEqual(scaling.parseCpuList(scaling.formatCpuList(list(cpus))), sorted(cpus))


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
