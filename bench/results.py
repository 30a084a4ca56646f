# -*- test-case-name: tests.test_bench -*-
"""
The benchmark's arithmetic, apart from any socket or process: what is
measured, how a generator's JSON line is read, how repeated runs are
summarised (median with min and max), and how sockservice is compared with
its peers and with the issue's targets.  L{bench.report} renders it.

Pure and standard-library only, so that C{tests/test_bench.py} can check it
and the harness (C{bench/run.py}) stays a thin loop around it.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "Measurement",
    "MEASUREMENTS",
    "GeneratorOutputError",
    "Stat",
    "parseGeneratorLine",
    "sampleValues",
    "summarize",
    "aggregate",
    "ratio",
    "median",
    "verdict",
    "generatorCheck",
    "evaluateTargets",
    "otherLoad",
    "noiseNote",
    "summaryToJson",
    "summaryFromJson",
]

#: The generator's CPU use (percent of one core) from which we call it the bottleneck.
SATURATED_PCT = 90.0


@dataclass(frozen=True)
class Measurement:
    """
    One benchmark measurement: a generator mode with its arguments.

    @ivar key: short unique name, e.g. C{"tcp-rr-50"}.
    @ivar mode: the generator's C{--mode}.
    @ivar title: column heading in the report.
    @ivar unit: unit of the headline value.
    @ivar args: extra generator arguments.
    @ivar higherIsBetter: C{False} for memory, where less is better.
    """

    key: str
    mode: str
    title: str
    unit: str
    args: Tuple[str, ...] = ()
    higherIsBetter: bool = True
    latency: bool = False


MEASUREMENTS: Tuple[Measurement, ...] = (
    Measurement("idle", "idle", "idle", "B/conn", higherIsBetter=False),
    Measurement(
        "tcp-rr-1", "tcp-rr", "tcp-rr 1 conn", "req/s", ("--conns", "1"), latency=True
    ),
    Measurement(
        "tcp-rr-50",
        "tcp-rr",
        "tcp-rr 50 conns",
        "req/s",
        ("--conns", "50"),
        latency=True,
    ),
    Measurement(
        "tcp-crr",
        "tcp-crr",
        "tcp-crr 8 clients",
        "conn/s",
        ("--conns", "8"),
        latency=True,
    ),
    Measurement("tcp-stream", "tcp-stream", "tcp-stream", "MB/s"),
    Measurement(
        "udp-rr-1",
        "udp-rr",
        "udp-rr 1 outstanding",
        "dgram/s",
        ("--outstanding", "1"),
        latency=True,
    ),
    Measurement(
        "udp-rr-32",
        "udp-rr",
        "udp-rr 32 outstanding",
        "dgram/s",
        ("--outstanding", "32"),
        latency=True,
    ),
)

_REQUIRED = ("mode", "duration_s", "ok", "errors", "conn_errors", "rate", "cpu_pct")


class GeneratorOutputError(ValueError):
    """
    The generator's output held no valid result line.
    """


class Stat(NamedTuple):
    """
    A summary of repeated runs.
    """

    median: float
    low: float
    high: float
    n: int


def parseGeneratorLine(output: str) -> Dict[str, Any]:
    """
    Read the generator's result: the last line of C{output} that is a JSON object.

    @raise GeneratorOutputError: if there is none, or it lacks a required key.
    """
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            result = json.loads(line)
        except ValueError as e:
            raise GeneratorOutputError(f"bad JSON from the generator: {e}") from e
        if not isinstance(result, dict):
            break
        missing = [k for k in _REQUIRED if k not in result]
        if missing:
            raise GeneratorOutputError(f"generator result lacks {', '.join(missing)}")
        return result
    raise GeneratorOutputError("no result line from the generator")


def sampleValues(
    m: Measurement,
    result: Mapping[str, Any],
    rssBefore: Optional[int] = None,
    rssAfter: Optional[int] = None,
    serverCpuPct: Optional[float] = None,
) -> Dict[str, float]:
    """
    The values one run contributes: C{value} (the headline figure in
    C{m.unit}), C{errors}, C{conn_errors}, C{gen_cpu_pct}, and where they apply
    C{p50_us}, C{p99_us}, C{loss_pct}, C{server_cpu_pct}.

    @param rssBefore: the server's resident bytes before the idle connections.
    @param rssAfter: the same with the idle connections open.
    """
    values: Dict[str, float] = {
        "errors": float(result["errors"]),
        "conn_errors": float(result["conn_errors"]),
    }
    if m.mode == "idle":
        established = int(result.get("established", 0))
        if rssBefore is None or rssAfter is None or established <= 0:
            raise GeneratorOutputError(
                "idle needs the server's RSS and established connections"
            )
        values["value"] = (rssAfter - rssBefore) / established
        values["conn_errors"] += int(result.get("conns", established)) - established
        return values
    values["gen_cpu_pct"] = float(result["cpu_pct"])
    if serverCpuPct is not None:
        values["server_cpu_pct"] = serverCpuPct
    if m.mode == "tcp-stream":
        values["value"] = float(result["mb_per_s"])
    else:
        values["value"] = float(result["rate"])
    if m.latency and result.get("p50_us", -1) >= 0:
        values["p50_us"] = float(result["p50_us"])
        values["p99_us"] = float(result["p99_us"])
    if "loss_pct" in result:
        values["loss_pct"] = float(result["loss_pct"])
    return values


def summarize(values: Sequence[float]) -> Stat:
    """
    The median, minimum and maximum of C{values}.

    @raise ValueError: if C{values} is empty.
    """
    if not values:
        raise ValueError("nothing to summarize")
    return Stat(
        float(statistics.median(values)),
        float(min(values)),
        float(max(values)),
        len(values),
    )


def _count(n: int) -> Stat:
    return Stat(float(n), float(n), float(n), n)


def aggregate(
    samples: Sequence[Mapping[str, Any]], noiseLimit: Optional[float] = None
) -> Dict[str, Dict[str, Dict[str, Stat]]]:
    """
    Summarise samples (dicts with C{server}, C{measurement} and C{values}) as
    C{{server: {measurement: {value name: Stat}}}}.

    With C{noiseLimit}, runs whose C{other_cpu_pct} exceeds it are left out
    of the statistics wherever at least one run of the same server and
    measurement stayed under it: they measured the neighbours' load, not the
    server.  C{runs_used} and C{runs_total} count the runs; C{errors_total}
    and C{conn_errors_total} sum the error counts over all runs.
    """
    grouped: Dict[str, Dict[str, List[Mapping[str, float]]]] = {}
    for s in samples:
        grouped.setdefault(s["server"], {}).setdefault(s["measurement"], []).append(
            s["values"]
        )
    out: Dict[str, Dict[str, Dict[str, Stat]]] = {}
    for server, byM in grouped.items():
        for key, runs in byM.items():
            used = runs
            if noiseLimit is not None:
                quiet = [v for v in runs if v.get("other_cpu_pct", 0.0) <= noiseLimit]
                used = quiet or runs
            names = dict.fromkeys(name for v in used for name in v)
            stats = {
                name: summarize([float(v[name]) for v in used if name in v])
                for name in names
            }
            for name in ("errors", "conn_errors"):
                counts = [float(v[name]) for v in runs if name in v]
                if counts:
                    stats[name + "_total"] = Stat(
                        sum(counts), sum(counts), sum(counts), len(counts)
                    )
            stats["runs_used"] = _count(len(used))
            stats["runs_total"] = _count(len(runs))
            out.setdefault(server, {})[key] = stats
    return out


def otherLoad(samples: Sequence[Mapping[str, Any]]) -> Optional[Stat]:
    """
    The CPU use of everything else (other processes, interrupts, the
    hypervisor's steal) on the benchmark's CPUs during the measurements, in
    percent of one core, summarised over all samples; C{None} if not measured.
    """
    values = [
        s["values"]["other_cpu_pct"] for s in samples if "other_cpu_pct" in s["values"]
    ]
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


def summaryToJson(summary: Mapping[str, Any]) -> Dict[str, Any]:
    """
    L{aggregate}'s result with each L{Stat} as a C{{"median", "min", "max", "n"}} dict.
    """
    return {
        server: {
            key: {
                name: {"median": s[0], "min": s[1], "max": s[2], "n": s[3]}
                for name, s in stats.items()
            }
            for key, stats in byM.items()
        }
        for server, byM in summary.items()
    }


def summaryFromJson(data: Mapping[str, Any]) -> Dict[str, Dict[str, Dict[str, Stat]]]:
    """
    The inverse of L{summaryToJson}.
    """
    return {
        server: {
            key: {
                name: Stat(d["median"], d["min"], d["max"], d["n"])
                for name, d in stats.items()
            }
            for key, stats in byM.items()
        }
        for server, byM in data.items()
    }


def ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    """
    C{ours / theirs}, or C{None} when either is missing or C{theirs} is not positive.
    """
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def median(
    summary: Mapping[str, Any], server: str, key: str, name: str = "value"
) -> Optional[float]:
    """
    The median of C{name} for C{server} in measurement C{key}, or C{None}.
    """
    stat = summary.get(server, {}).get(key, {}).get(name)
    return None if stat is None else stat[0]


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


#: The issue's targets: (measurement, minimum ratio of sockservice to the peer, peers).
TARGETS = (
    ("tcp-rr-50", 1.0, ("socketserver", "asyncio", "uvloop")),
    ("tcp-crr", 1.0, ("socketserver", "asyncio", "uvloop")),
    ("udp-rr-32", 1.0, ("socketserver", "asyncio", "uvloop")),
    ("tcp-rr-50", 0.8, ("twisted",)),
    ("tcp-crr", 0.8, ("twisted",)),
    ("udp-rr-32", 0.8, ("twisted",)),
)

#: Idle memory target on CPython, bytes per connection.
IDLE_TARGET = 8 * 1024


def evaluateTargets(
    summary: Mapping[str, Any],
    ours: Sequence[str] = ("sockservice", "sockservice-pypy"),
) -> List[Dict[str, Any]]:
    """
    Check the issue's targets: the best of C{ours} (CPython and PyPy) against
    each peer, and idle memory of C{ours[0]} (CPython) against L{IDLE_TARGET}.
    Targets whose figures are missing are left out.
    """
    rows: List[Dict[str, Any]] = []
    for key, minimum, peers in TARGETS:
        candidates = [
            (v, s) for s in ours for v in [median(summary, s, key)] if v is not None
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
