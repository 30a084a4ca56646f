# -*- test-case-name: tests.test_probeplot -*-
"""
C{sockservice-client probe --plot FILE.svg|png}: the latency distribution
(a percentile curve on a log axis, as the HdrHistogram plotters draw it) and
the latency over time (p50 and p99 each second), drawn from the C{--json}
document.  Latency is on a log scale too, so that the median and a tail a
hundred times longer both show.

matplotlib is an optional extra (C{pip install 'sockservice[plot]'}),
imported only when a plot is drawn, with the Agg canvas: no display, no
pyplot and its global state.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["PlotUnavailable", "percentileAxis", "plot"]

FORMATS = (".svg", ".png")

NINES = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999)
"""The percentiles marked on the distribution's axis."""


class PlotUnavailable(Exception):
    """
    The plot cannot be drawn: matplotlib is missing, or the file is not a
    C{.svg} or C{.png} that can be written.  The message is one line.
    """


def percentileAxis(percentile: float, count: int) -> float:
    """
    Where a percentile goes on the distribution's log axis: C{1 / (1 - p)},
    so that 90, 99 and 99.9 are evenly spaced.  The last rows (100%) go one
    step past what C{count} values can tell apart.

    @param percentile: from 0 to 100.
    @param count: the number of values recorded.
    """
    largest = 10.0 * max(count, 1)
    remaining = 1.0 - percentile / 100.0
    return largest if remaining <= 1.0 / largest else 1.0 / remaining


def _series(
    rows: Sequence[Dict[str, Any]], key: str, value: str
) -> Tuple[List[float], List[float]]:
    points = [(row[key], row[value]) for row in rows if row.get(value) is not None]
    return [float(x) for x, _ in points], [float(y) / 1000.0 for _, y in points]


def _title(document: Dict[str, Any]) -> str:
    target = document.get("target", {})
    summary = document.get("summary", {})
    parameters = document.get("parameters", {})
    host = str(target.get("host", "?"))
    if ":" in host:
        host = f"[{host}]"
    return (
        f"sockservice-client probe {document.get('protocol', '?')} "
        f"{host}:{target.get('port', '?')}: {parameters.get('size', '?')} B, "
        f"{summary.get('answered', 0)} of {summary.get('sent', 0)} answered, "
        f"{summary.get('loss_pct', 0)}% lost"
    )


def plot(document: Dict[str, Any], path: str) -> None:
    """
    Draw C{document} (a probe C{--json} document, version 1) to C{path}, as
    SVG or PNG by its suffix.

    @raise PlotUnavailable: matplotlib is missing (the message names the
        C{[plot]} extra), the suffix is neither, or the file cannot be written.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise PlotUnavailable(f"--plot {path}: the file name must end in .svg or .png")
    try:
        # matplotlib is an extra: mypy may run where it is not installed.
        from matplotlib import rc_context  # type: ignore[import-not-found,unused-ignore]
        from matplotlib.backends.backend_agg import (  # type: ignore[import-not-found,unused-ignore]
            FigureCanvasAgg,
        )
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
        from matplotlib.ticker import (  # type: ignore[import-not-found,unused-ignore]
            FixedLocator,
            NullLocator,
        )
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'sockservice[plot]'") from None

    figure = Figure(figsize=(9.0, 6.5), layout="constrained")
    FigureCanvasAgg(figure)
    distribution, overTime = figure.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
    figure.suptitle(_title(document), fontsize="medium")

    rows = document.get("percentiles") or []
    count = max((int(row.get("count", 0)) for row in rows), default=0)
    x = [percentileAxis(float(row["percentile"]), count) for row in rows]
    _, latencyMs = _series(rows, "percentile", "latency_us")
    distribution.set_xscale("log")
    if x:
        distribution.plot(x, latencyMs, color="tab:blue", linewidth=1.2)
        largest = percentileAxis(100.0, count)
        marks = [n for n in NINES if 1.0 / (1.0 - n / 100.0) < largest]
        ticks = [percentileAxis(n, count) for n in marks] + [largest]
        distribution.xaxis.set_major_locator(FixedLocator(ticks))
        distribution.xaxis.set_minor_locator(NullLocator())
        distribution.set_xticklabels([f"{n:g}%" for n in marks] + ["max"])
        distribution.set_yscale("log")
    else:
        distribution.text(0.5, 0.5, "no replies", ha="center", transform=distribution.transAxes)
    distribution.set_xlabel("percentile")
    distribution.set_ylabel("latency (ms)")
    distribution.set_title("latency by percentile", fontsize="small")
    distribution.grid(True, which="major", alpha=0.3)

    intervals = document.get("intervals") or []
    drawn = False
    for key, label, colour in (("p50_us", "p50", "tab:blue"), ("p99_us", "p99", "tab:red")):
        seconds, values = _series(intervals, "t_s", key)
        if seconds:
            overTime.plot(seconds, values, marker=".", color=colour, label=label, linewidth=1)
            drawn = True
    lost = [(float(row["t_s"]), int(row["lost"])) for row in intervals if row.get("lost")]
    if lost:
        overTime.plot([], [], " ", label=f"lost: {sum(n for _, n in lost)}")
        for second, _ in lost:
            overTime.axvline(second, color="tab:gray", alpha=0.3, linewidth=1)
    overTime.set_xlabel("time (s)")
    overTime.set_ylabel("latency (ms)")
    overTime.set_title("latency over time, each second", fontsize="small")
    if drawn:
        overTime.set_yscale("log")
    overTime.grid(True, alpha=0.3)
    if overTime.get_legend_handles_labels()[0]:
        overTime.legend(loc="best", fontsize="small")

    try:
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "sockservice"}):
            figure.savefig(path, format=suffix[1:], **_options(suffix))
    except OSError as error:
        raise PlotUnavailable(f"--plot: cannot write {path}: {_reason(error)}") from None


def _options(suffix: str) -> Dict[str, Any]:
    # No date, and a fixed salt for the ids (above): the same document
    # gives the same SVG.  Text stays text (svg.fonttype "none") rather than
    # paths: a smaller file.
    if suffix == ".svg":
        return {"metadata": {"Date": None}}
    return {"dpi": 100}


def _reason(error: OSError) -> str:
    reason: Optional[str] = error.strerror
    return reason if reason else str(error)
