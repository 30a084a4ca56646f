# -*- test-case-name: tests.test_probeaccounting -*-
"""
Latency distributions in bounded memory: L{Latency}, an HDR histogram of
nanoseconds (the C{hdrhistogram} package), read out in microseconds.

An HDR histogram keeps three significant digits at any value from 1 ns to
L{HIGHEST_NS}, in a fixed number of counters however many values it holds,
and gives exact-to-its-precision percentiles: what latency measurements
need (no per-request list).  Pure: no Twisted, no I/O.
"""

from __future__ import annotations

import io
from typing import Dict, List, Optional

from hdrh.histogram import HdrHistogram

__all__ = ["HIGHEST_NS", "Latency", "SUMMARY_KEYS"]

HIGHEST_NS = 3_600 * 10**9
"""The largest latency recorded (an hour); larger ones are recorded as it."""

SUMMARY_KEYS = ("min", "p50", "p90", "p99", "p999", "max", "mean", "stddev")
"""The keys of L{Latency.summary}."""

_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


class Latency:
    """
    One latency distribution.

    @ivar histogram: The HDR histogram of nanoseconds.
    """

    def __init__(self) -> None:
        self.histogram = HdrHistogram(1, HIGHEST_NS, 3)

    @property
    def count(self) -> int:
        """
        How many values were recorded.
        """
        return int(self.histogram.get_total_count())

    def record(self, ns: int) -> None:
        """
        Record one latency, in nanoseconds (clamped to 1 ns .. L{HIGHEST_NS}).
        """
        self.histogram.record_value(min(max(ns, 1), HIGHEST_NS))

    def reset(self) -> None:
        """
        Forget every value.
        """
        self.histogram.reset()

    def percentileUs(self, percentile: float) -> Optional[float]:
        """
        The latency at C{percentile} (0 to 100), in microseconds, or C{None}
        if nothing was recorded.
        """
        if not self.count:
            return None
        return float(self.histogram.get_value_at_percentile(percentile)) / 1000

    def summary(self) -> Dict[str, Optional[float]]:
        """
        The minimum, p50, p90, p99, p99.9, maximum, mean and standard
        deviation, in microseconds; all C{None} if nothing was recorded.
        """
        h = self.histogram
        if not self.count:
            return dict.fromkeys(SUMMARY_KEYS, None)
        values: Dict[str, Optional[float]] = {
            "min": h.get_min_value() / 1000,
            "max": h.get_max_value() / 1000,
            "mean": h.get_mean_value() / 1000,
            "stddev": h.get_stddev() / 1000,
        }
        for key, percentile in _PERCENTILES.items():
            values[key] = h.get_value_at_percentile(percentile) / 1000
        return {key: values[key] for key in SUMMARY_KEYS}

    def percentiles(self) -> List[Dict[str, float]]:
        """
        The percentile table (as C{--hgrm} writes it): each row a percentile,
        the latency there in microseconds, and how many values are at or
        below it.
        """
        if not self.count:
            return []
        return [
            {
                "percentile": float(item.percentile_level_iterated_to),
                "latency_us": item.value_iterated_to / 1000,
                "count": int(item.total_count_to_this_value),
            }
            for item in self.histogram.get_percentile_iterator(5)
        ]

    def hgrm(self) -> str:
        """
        The HdrHistogram percentile-distribution text (in microseconds), which
        the HdrHistogram plotters read.
        """
        out = io.BytesIO()
        if self.count:
            self.histogram.output_percentile_distribution(out, 1000)
        return out.getvalue().decode("ascii")
