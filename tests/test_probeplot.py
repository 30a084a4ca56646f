# -*- test-case-name: tests.test_probeplot -*-
"""
Tests for L{sockservice.probe.plot}: C{--plot} draws a probe document to SVG
or PNG, and says in one line why when it cannot.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict
from unittest import mock

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice.probe.plot import PlotUnavailable, percentileAxis, plot
from tests.servicefakes import tempPath

try:
    import matplotlib  # noqa: F401
except ImportError:
    matplotlib = None


def sampleDocument(seconds: int = 5) -> Dict[str, Any]:
    """
    A probe C{--json} document (version 1) as a 5-second UDP run writes it.
    """
    percentiles = []
    latency, total = 80.0, 0
    for level in (0.0, 50.0, 75.0, 87.5, 93.75, 96.875, 99.0, 99.9, 100.0):
        total = int(500 * level / 100) or 1
        percentiles.append({"percentile": level, "latency_us": latency, "count": total})
        latency *= 1.4
    return {
        "version": 1,
        "mode": "latency",
        "protocol": "udp",
        "target": {"host": "127.0.0.1", "port": 12000},
        "parameters": {"size": 64, "rate": 100, "window": 1, "count": 500,
                       "duration_s": None, "timeout_s": 1.0, "connections": 1},
        "summary": {"sent": 500, "answered": 498, "lost": 2, "late": 0, "duplicated": 0,
                    "reordered": 0, "corrupted": 0, "elapsed_s": 5.0, "rate_per_s": 100.0,
                    "loss_pct": 0.4},
        "latency_us": {"min": 80.0, "p50": 112.0, "p90": 200.0, "p99": 350.0,
                       "p999": 600.0, "max": 1180.0, "mean": 130.0, "stddev": 40.0},
        "connect_us": None,
        "percentiles": percentiles,
        "intervals": [{"t_s": float(t + 1), "sent": 100, "answered": 100 - (t == 2) * 2,
                       "lost": (t == 2) * 2, "p50_us": 110.0 + t, "p99_us": 300.0 + 10 * t}
                      for t in range(seconds)],
        "sweep": None,
        "stream": None,
        "gates": [],
        "exit_status": 0,
    }  # fmt: skip


class PercentileAxisTests(SynchronousTestCase):
    """
    L{percentileAxis} spreads the nines evenly on a log axis.
    """

    def test_nines(self) -> None:
        """
        0, 90, 99 and 99.9 percent go to 1, 10, 100 and 1000.
        """
        self.assertEqual(
            [round(percentileAxis(p, 10**6), 6) for p in (0, 90, 99, 99.9)], [1, 10, 100, 1000]
        )

    def test_hundred(self) -> None:
        """
        100 percent goes one step past what the count can tell apart.
        """
        self.assertEqual(percentileAxis(100.0, 500), 5000.0)
        self.assertEqual(percentileAxis(100.0, 0), 10.0)


class PlotTests(SynchronousTestCase):
    """
    L{plot} writes an SVG or a PNG by the file's suffix.
    """

    def setUp(self) -> None:
        if matplotlib is None:
            raise SkipTest("matplotlib is not installed (pip install 'sockservice[plot]')")
        self.directory = os.path.dirname(tempPath(self))

    def test_svg(self) -> None:
        """
        A C{.svg} file is an SVG document with the run in its title, under
        100 KB, and the same for the same document.
        """
        paths = [os.path.join(self.directory, name) for name in ("a.svg", "b.svg")]
        for path in paths:
            plot(sampleDocument(), path)
        with open(paths[0], "rb") as one, open(paths[1], "rb") as two:
            svg = one.read()
            self.assertEqual(svg, two.read())
        self.assertIn(b"<svg", svg[:2000])
        self.assertIn(b"udp 127.0.0.1:12000", svg)
        self.assertIn(b"latency by percentile", svg)
        self.assertIn(b"99.9%", svg)
        self.assertLess(len(svg), 100_000)

    def test_png(self) -> None:
        """
        A C{.PNG} file (any case) is a PNG image.
        """
        path = os.path.join(self.directory, "plot.PNG")
        plot(sampleDocument(), path)
        with open(path, "rb") as image:
            self.assertEqual(image.read(8), b"\x89PNG\r\n\x1a\n")

    def test_noReplies(self) -> None:
        """
        A run without replies (no percentiles, no latency per second) still
        draws, saying so.
        """
        document = sampleDocument()
        document["percentiles"] = []
        for interval in document["intervals"]:
            interval.update(p50_us=None, p99_us=None, lost=interval["sent"])
        path = os.path.join(self.directory, "none.svg")
        plot(document, path)
        with open(path, "rb") as svg:
            self.assertIn(b"no replies", svg.read())

    def test_unwritable(self) -> None:
        """
        A file that cannot be written is a one-line L{PlotUnavailable}.
        """
        path = os.path.join(self.directory, "missing", "plot.svg")
        error = self.assertRaises(PlotUnavailable, plot, sampleDocument(), path)
        self.assertEqual(str(error), f"--plot: cannot write {path}: No such file or directory")


class UnavailableTests(SynchronousTestCase):
    """
    L{plot} says in one line why it cannot draw, before drawing anything.
    """

    def test_suffix(self) -> None:
        """
        A file that is neither C{.svg} nor C{.png} is refused.
        """
        error = self.assertRaises(PlotUnavailable, plot, sampleDocument(), "plot.pdf")
        self.assertEqual(str(error), "--plot plot.pdf: the file name must end in .svg or .png")

    def test_noMatplotlib(self) -> None:
        """
        Without matplotlib, the error names the C{[plot]} extra.
        """
        hidden = {name: None for name in list(sys.modules) if name.startswith("matplotlib")}
        hidden["matplotlib"] = None
        with mock.patch.dict(sys.modules, hidden):
            error = self.assertRaises(PlotUnavailable, plot, sampleDocument(), "plot.svg")
        self.assertEqual(str(error), "--plot needs matplotlib: pip install 'sockservice[plot]'")
        self.assertFalse(os.path.exists("plot.svg"))
