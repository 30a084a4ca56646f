# -*- test-case-name: bench.tests.test_checks -*-
"""
Tests for L{bench.checks}: the load generator check and the targets.
"""

from twisted.trial.unittest import SynchronousTestCase

from bench import checks
from bench.tests.samples import sampleMeasurement, sampleSummary


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
        (row,) = checks.generatorCheck(sampleSummary(), [sampleMeasurement("tcp-rr-50")])
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
        rows = {t["target"]: t for t in checks.evaluateTargets(sampleSummary())}
        uvloop = rows["tcp-rr-50: sockservice-pypy ≥ 1.0× uvloop"]
        self.assertAlmostEqual(uvloop["ratio"], 90000 / 115000)
        self.assertFalse(uvloop["met"])

    def test_twistedOnCPython(self):
        """
        The price of the features is sockservice on CPython against bare
        Twisted (on CPython), even where the PyPy row is faster.
        """
        rows = {t["target"]: t for t in checks.evaluateTargets(sampleSummary())}
        twisted = rows["tcp-rr-50: sockservice ≥ 0.8× twisted"]
        self.assertAlmostEqual(twisted["ratio"], 60000 / 61000)
        self.assertTrue(twisted["met"])
        self.assertNotIn("tcp-rr-50: sockservice-pypy ≥ 0.8× twisted", rows)

    def test_idleMemory(self):
        """
        Idle memory on CPython is held to 8 KiB per connection.
        """
        rows = {t["target"]: t for t in checks.evaluateTargets(sampleSummary())}
        self.assertFalse(rows["idle: sockservice ≤ 8 KiB/conn"]["met"])
