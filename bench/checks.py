# -*- test-case-name: bench.tests.test_checks -*-
"""
Judgements on a benchmark's results: whether the generator kept up, how
noisy the machine was, and whether sockservice met the issue's targets.

Pure and standard-library only, like L{bench.results}.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from bench.results import MEASUREMENTS, Measurement, Stat, median, ratio, summarize

__all__ = [
    "SATURATED_PCT",
    "verdict",
    "generatorCheck",
    "TARGETS",
    "IDLE_TARGET",
    "evaluateTargets",
    "otherLoad",
    "noiseNote",
]

#: The generator's CPU use (percent of one core) from which we call it the bottleneck.
SATURATED_PCT = 90.0


def verdict(genCpuPct: float, serverCpuPct: Optional[float]) -> str:
    """
    Who limits a run, from the generator's and the server's CPU use.

    @return: C{"headroom"} (the generator is below L{SATURATED_PCT}),
        C{"both busy"} (the generator is that busy, but so is the server), or
        C{"generator-bound"} (the generator is that busy and the server is not).
    """
    if genCpuPct < SATURATED_PCT:
        return "headroom"
    if serverCpuPct is not None and serverCpuPct >= SATURATED_PCT:
        return "both busy"
    return "generator-bound"


def generatorCheck(
    summary: Mapping[str, Any], measurements: Sequence[Measurement] = MEASUREMENTS
) -> List[Dict[str, Any]]:
    """
    For each throughput measurement, the fastest server, the generator's CPU
    use (median and maximum percent of one core) in the runs against it, the
    server's, and the L{verdict} on the medians.
    """
    rows = []
    for m in measurements:
        if m.mode == "idle":
            continue
        ranked = [
            (v, server)
            for server in summary
            for v in [median(summary, server, m.key)]
            if v is not None
        ]
        if not ranked:
            continue
        best, server = max(ranked)
        gen = median(summary, server, m.key, "gen_cpu_pct")
        if gen is None:
            continue
        srv = median(summary, server, m.key, "server_cpu_pct")
        rows.append(
            {
                "measurement": m.key,
                "server": server,
                "value": best,
                "gen_cpu_pct": gen,
                "gen_cpu_pct_max": summary[server][m.key]["gen_cpu_pct"][2],
                "server_cpu_pct": srv,
                "verdict": verdict(gen, srv),
            }
        )
    return rows


#: The issue's targets: (measurement, minimum ratio of sockservice to the
#: peer, peers, whether only CPython's sockservice counts).  The price of the
#: features is measured against bare Twisted on the same interpreter.
TARGETS = (
    ("tcp-rr-50", 1.0, ("socketserver", "asyncio", "uvloop"), False),
    ("tcp-crr", 1.0, ("socketserver", "asyncio", "uvloop"), False),
    ("udp-rr-32", 1.0, ("socketserver", "asyncio", "uvloop"), False),
    ("tcp-rr-50", 0.8, ("twisted",), True),
    ("tcp-crr", 0.8, ("twisted",), True),
    ("udp-rr-32", 0.8, ("twisted",), True),
)

#: Idle memory target on CPython, bytes per connection.
IDLE_TARGET = 8 * 1024


def evaluateTargets(
    summary: Mapping[str, Any],
    ours: Sequence[str] = ("sockservice", "sockservice-pypy"),
) -> List[Dict[str, Any]]:
    """
    Check the issue's targets: the best of C{ours} (CPython and PyPy), or
    C{ours[0]} (CPython) alone against bare Twisted, against each peer; and
    idle memory of C{ours[0]} against L{IDLE_TARGET}.  Targets whose figures
    are missing are left out.
    """
    rows: List[Dict[str, Any]] = []
    for key, minimum, peers, cpythonOnly in TARGETS:
        candidates = [
            (v, s)
            for s in (ours[:1] if cpythonOnly else ours)
            for v in [median(summary, s, key)]
            if v is not None
        ]
        if not candidates:
            continue
        best, who = max(candidates)
        for peer in peers:
            r = ratio(best, median(summary, peer, key))
            if r is not None:
                rows.append(
                    {
                        "target": f"{key}: {who} ≥ {minimum:.1f}× {peer}",
                        "ratio": r,
                        "met": r >= minimum,
                    }
                )
    idle = median(summary, ours[0], "idle") if ours else None
    if idle is not None:
        rows.append(
            {
                "target": f"idle: {ours[0]} ≤ {IDLE_TARGET // 1024} KiB/conn",
                "ratio": idle / IDLE_TARGET,
                "met": idle <= IDLE_TARGET,
            }
        )
    return rows


def otherLoad(samples: Sequence[Mapping[str, Any]]) -> Optional[Stat]:
    """
    The CPU use of everything else (other processes, interrupts, the
    hypervisor's steal) on the benchmark's CPUs during the measurements, in
    percent of one core, summarised over all samples; C{None} if not measured.
    """
    values = [s["values"]["other_cpu_pct"] for s in samples if "other_cpu_pct" in s["values"]]
    return summarize(values) if values else None


def noiseNote(samples: Sequence[Mapping[str, Any]], limit: float) -> Optional[str]:
    """
    A sentence on how noisy the runs were: the L{otherLoad}, how many runs
    were repeated because of it, and how many kept are still above C{limit}.
    """
    other = otherLoad(samples)
    if other is None:
        return None
    retried = sum(s["values"].get("retries", 0) > 0 for s in samples)
    noisy = sum(s["values"].get("other_cpu_pct", 0) > limit for s in samples)
    return (
        f"other load on the benchmark's CPUs during the runs kept (other processes, "
        f"interrupts, steal): median {other.median:.0f}%, max {other.high:.0f}% of one "
        f"core; runs repeated because it exceeded {limit:g}%: {retried}; runs kept above "
        f"{limit:g}%: {noisy} of {other.n}"
    )
