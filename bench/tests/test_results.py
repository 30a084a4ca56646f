# -*- test-case-name: bench.tests.test_results -*-
"""
Tests for L{bench.results}: parsing the load generator's JSON lines, sampling, summarizing and ratios.
"""

import json

from twisted.trial.unittest import SynchronousTestCase

from bench import checks, results
from bench.results import Stat
from bench.tests.samples import (
    IDLE_LINE,
    RR_LINE,
    STREAM_LINE,
    UDP_LINE,
    sampleMeasurement,
    sampleSummary,
)


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
        self.assertRaises(results.GeneratorOutputError, results.parseGeneratorLine, "oops\n")

    def test_badJSON(self):
        """
        A truncated JSON line is an error.
        """
        self.assertRaises(results.GeneratorOutputError, results.parseGeneratorLine, RR_LINE[:40])

    def test_missingKey(self):
        """
        A result without a required key (here C{rate}) is an error naming it.
        """
        line = json.dumps({k: v for k, v in json.loads(RR_LINE).items() if k != "rate"})
        e = self.assertRaises(results.GeneratorOutputError, results.parseGeneratorLine, line)
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
            sampleMeasurement("tcp-rr-50"),
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
            sampleMeasurement("tcp-rr-50"), results.parseGeneratorLine(RR_LINE)
        )
        self.assertNotIn("server_us_per_op", values)

    def test_stream(self):
        """
        tcp-stream gives MB/s of verified bytes and counts wrong bytes as errors.
        """
        values = results.sampleValues(
            sampleMeasurement("tcp-stream"), results.parseGeneratorLine(STREAM_LINE)
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
            sampleMeasurement("udp-rr-32"), results.parseGeneratorLine(UDP_LINE)
        )
        self.assertEqual(values["value"], 120000.0)
        self.assertEqual(values["loss_pct"], 0.005)

    def test_idleBytesPerConnection(self):
        """
        idle gives the growth of the server's RSS divided by the connections
        established; connections that never were count as connection errors.
        """
        values = results.sampleValues(
            sampleMeasurement("idle"),
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
            sampleMeasurement("idle"),
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
        self.assertEqual(results.summarize([61000, 58000, 63100]), Stat(61000, 58000, 63100, 3))

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
        self.assertEqual(results.aggregate(samples)["a"]["tcp-rr-50"]["value"].median, 90.0)

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
        summary = sampleSummary()
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
