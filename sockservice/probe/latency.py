# -*- test-case-name: tests.test_probeaccounting -*-
"""
Latency distributions in bounded memory: L{Latency}, an HDR histogram of
nanoseconds (the C{hdrhistogram} package), read out in microseconds.

An HDR histogram keeps three significant digits at any value from 1 ns to
L{HIGHEST_NS}, in a fixed number of counters however many values it holds,
and gives exact-to-its-precision percentiles: what latency measurements
need (no per-request list).  Pure: no Twisted, no I/O.

L{Latency.record} runs once per reply, so it finds the counter itself (one
C{int.bit_length} instead of the package's six Python calls per value) from
the histogram's public layout attributes; a check at import compares it with
the package's own C{record_value} and falls back to that if they disagree.
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
        h = self.histogram = HdrHistogram(1, HIGHEST_NS, 3)
        self._mask = h.sub_bucket_mask
        self._shift = h.unit_magnitude + h.sub_bucket_half_count_magnitude + 1
        self._unit = h.unit_magnitude
        self._halfMagnitude = h.sub_bucket_half_count_magnitude
        self._half = h.sub_bucket_half_count
        self._counts = h.counts
        if not _inline:
            self.record = self._recordSlowly  # type: ignore[method-assign]

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
        if ns < 1:
            ns = 1
        elif ns > HIGHEST_NS:
            ns = HIGHEST_NS
        # HdrHistogram's _counts_index_for, in line.
        bucket = (ns | self._mask).bit_length() - self._shift
        self._counts[
            ((bucket + 1) << self._halfMagnitude) + (ns >> (bucket + self._unit)) - self._half
        ] += 1
        h = self.histogram
        h.total_count += 1
        if ns < h.min_value:
            h.min_value = ns
        if ns > h.max_value:
            h.max_value = ns

    def _recordSlowly(self, ns: int) -> None:
        """
        L{record} through the package's C{record_value}.
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


def _inlineAgrees() -> bool:
    """
    Whether L{Latency.record} fills the same counters, total, minimum and
    maximum as the package's own C{record_value}, over the whole range.
    """
    values = [1, 2, 999, 1000, 1023, 1024, 2047, 2048, 123_456, 10**9, HIGHEST_NS - 1, HIGHEST_NS]
    values += [int(1.7**k) for k in range(1, 60)]
    try:
        mine, theirs = Latency(), Latency()
        for ns in values + [0, -5, HIGHEST_NS * 2]:
            Latency.record(mine, ns)
            theirs._recordSlowly(ns)
        a, b = mine.histogram, theirs.histogram
        return (bytes(a.counts), a.total_count, a.min_value, a.max_value) == (
            bytes(b.counts),
            b.total_count,
            b.min_value,
            b.max_value,
        )
    except (AttributeError, IndexError, TypeError):
        return False


_inline = True
_inline = _inlineAgrees()
