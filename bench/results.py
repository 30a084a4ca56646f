# -*- test-case-name: bench.tests.test_results -*-
"""
The benchmark's arithmetic, apart from any socket or process: what is
measured, how a generator's JSON line is read, how repeated runs are
summarised (median with min and max), and how sockservice is compared with
its peers.  L{bench.checks} judges the results; L{bench.report} renders them.

Pure and standard-library only, so that C{bench/tests} can check it
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
    "summaryToJson",
    "summaryFromJson",
]


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
    Measurement("tcp-rr-1", "tcp-rr", "tcp-rr 1 conn", "req/s", ("--conns", "1"), latency=True),
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
    C{p50_us}, C{p99_us}, C{loss_pct}, C{server_cpu_pct} and
    C{server_us_per_op} (the server's CPU time per request, connection or
    datagram: how efficient it is, even where the generator limits the rate).

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
            raise GeneratorOutputError("idle needs the server's RSS and established connections")
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
        if serverCpuPct is not None and values["value"] > 0:
            values["server_us_per_op"] = serverCpuPct * 1e4 / values["value"]
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
        grouped.setdefault(s["server"], {}).setdefault(s["measurement"], []).append(s["values"])
    out: Dict[str, Dict[str, Dict[str, Stat]]] = {}
    for server, byM in grouped.items():
        for key, runs in byM.items():
            used = runs
            if noiseLimit is not None:
                quiet = [v for v in runs if v.get("other_cpu_pct", 0.0) <= noiseLimit]
                used = quiet or runs
            names = dict.fromkeys(name for v in used for name in v)
            stats = {name: summarize([float(v[name]) for v in used if name in v]) for name in names}
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
            key: {name: Stat(d["median"], d["min"], d["max"], d["n"]) for name, d in stats.items()}
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
