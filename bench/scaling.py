# -*- test-case-name: bench.tests.test_scaling -*-
"""
The pure parts of the C{--workers} scaling run (C{bench/workers.py}): which
CPUs serve and which generate, which worker counts to try, how the results
of several generators add up, and the Markdown report.

Standard library only, like L{bench.results}.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bench.report import contextLines, formatStat, markdownTable
from bench import results
from bench.results import MEASUREMENTS, Measurement, Stat

__all__ = [
    "SCALING_MEASUREMENTS",
    "parseCpuList",
    "formatCpuList",
    "splitCpus",
    "workerCounts",
    "combine",
    "aggregate",
    "renderMarkdown",
]

# Each generator offers this much load; with G generators, G times as much.
SCALING_MEASUREMENTS: Tuple[Measurement, ...] = tuple(
    m for m in MEASUREMENTS if m.key in ("tcp-rr-50", "tcp-crr", "udp-rr-32")
)


def parseCpuList(text: str) -> List[int]:
    """
    A CPU list as C{taskset -c} takes it: C{"0-3,8"} is C{[0, 1, 2, 3, 8]}.

    @raise ValueError: if C{text} is not such a list.
    """
    cpus: List[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        first, last = int(low), int(high if dash else low)
        if first < 0 or last < first:
            raise ValueError(f"bad CPU range {part!r}")
        cpus.extend(range(first, last + 1))
    if len(set(cpus)) != len(cpus):
        raise ValueError(f"CPU listed twice in {text!r}")
    return cpus


def formatCpuList(cpus: Sequence[int]) -> str:
    """
    The inverse of L{parseCpuList}, with runs folded: C{"0-3,8"}.
    """
    parts: List[str] = []
    ordered = sorted(cpus)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            parts.append(str(first) if first == last else f"{first}-{last}")
            start = i
    return ",".join(parts)


def splitCpus(cpus: Sequence[int]) -> Tuple[List[int], List[int]]:
    """
    The server's CPUs (the first half) and the generators' (the rest).

    @raise ValueError: with fewer than two CPUs.
    """
    ordered = sorted(cpus)
    if len(ordered) < 2:
        raise ValueError("the scaling run needs at least two CPUs")
    half = len(ordered) // 2
    return ordered[:half], ordered[half:]


def workerCounts(serverCpus: int) -> List[int]:
    """
    The worker counts to try: 1, 2, 4... up to the server's CPUs, and that
    number itself; at least 1 and 2, to show what a second worker costs on
    one CPU.
    """
    counts = [1]
    while counts[-1] * 2 <= max(2, serverCpus):
        counts.append(counts[-1] * 2)
    if serverCpus > counts[-1]:
        counts.append(serverCpus)
    return counts


def combine(
    parsed: Sequence[Mapping[str, Any]],
    genCpus: int,
    serverCpuPct: Optional[float] = None,
) -> Dict[str, float]:
    """
    One sample from the results of generators run side by side: their
    rates and errors add up; C{gen_cpu_pct} is their CPU use per generator
    CPU; C{loss_pct} is over all datagrams.

    @param parsed: each generator's result line, parsed.
    @param genCpus: how many CPUs the generators shared.
    @raise ValueError: if C{parsed} is empty.
    """
    if not parsed:
        raise ValueError("no generator results")
    values: Dict[str, float] = {
        "value": sum(float(r["rate"]) for r in parsed),
        "errors": sum(float(r["errors"]) for r in parsed),
        "conn_errors": sum(float(r["conn_errors"]) for r in parsed),
        "gen_cpu_pct": sum(float(r["cpu_pct"]) for r in parsed) / genCpus,
        "generators": float(len(parsed)),
    }
    if serverCpuPct is not None:
        values["server_cpu_pct"] = serverCpuPct
    if any("lost" in r for r in parsed):
        lost = sum(float(r.get("lost", 0)) for r in parsed)
        answered = lost + sum(float(r["ok"]) for r in parsed)
        values["loss_pct"] = 100.0 * lost / answered if answered else 0.0
    return values


def aggregate(
    samples: Sequence[Mapping[str, Any]],
) -> Dict[int, Dict[str, Dict[str, Stat]]]:
    """
    L{bench.results.aggregate} by worker count (each sample's C{workers})
    instead of by server: the median, minimum and maximum over rounds, and
    error totals.
    """
    summary = results.aggregate([{**s, "server": int(s["workers"])} for s in samples])
    return {int(workers): byKey for workers, byKey in summary.items()}


def _speedup(
    summary: Mapping[int, Mapping[str, Mapping[str, Stat]]], workers: int, key: str
) -> str:
    base = summary.get(1, {}).get(key, {}).get("value")
    this = summary.get(workers, {}).get(key, {}).get("value")
    if base is None or this is None or base.median <= 0:
        return "–"
    return f"{this.median / base.median:.2f}×"


def renderMarkdown(report: Mapping[str, Any]) -> str:
    """
    The scaling report: context, then one row per worker count with each
    measurement's median (min–max) and its speed-up over one worker, then
    the CPU use of the server (all its processes) and of the generators,
    then notes.

    @param report: C{machine}, C{date}, C{command}, C{settings}, C{notes}
        and C{summary} (from L{aggregate}).
    """
    summary = report["summary"]
    ms = [m for m in SCALING_MEASUREMENTS if any(m.key in byKey for byKey in summary.values())]
    counts = sorted(summary)
    lines = contextLines(report)
    header = ["workers"]
    for m in ms:
        header += [f"{m.title} each ({m.unit}, total)", "vs 1 worker"]
    header.append("errors")
    rows = []
    for n in counts:
        row = [str(n)]
        errors = 0.0
        for m in ms:
            entry = summary[n].get(m.key, {})
            row += [formatStat(entry.get("value")), _speedup(summary, n, m.key)]
            for name in ("errors_total", "conn_errors_total"):
                if name in entry:
                    errors += entry[name].median
        row.append(f"{errors:.0f}")
        rows.append(row)
    lines += markdownTable(header, rows)
    lines += [
        "",
        "CPU use in % of one core, medians: the server's (all its processes "
        "together) and the generators' (per generator CPU).",
        "",
    ]
    header = ["workers"]
    for m in ms:
        header += [f"{m.title}: server", "generators"]
    rows = []
    for n in counts:
        row = [str(n)]
        for m in ms:
            entry = summary[n].get(m.key, {})
            for name in ("server_cpu_pct", "gen_cpu_pct"):
                stat = entry.get(name)
                row.append("–" if stat is None else f"{stat.median:.0f}%")
        rows.append(row)
    lines += markdownTable(header, rows)
    if report.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
