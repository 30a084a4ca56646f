#!/usr/bin/env python3
# -*- test-case-name: bench.tests.test_probe -*-
"""
The probe's own cost: C{sockservice-client probe} against C{twistd -n
sockservice} on loopback, next to a minimal blocking-socket client against the
same server (L{bench.blocking}), alternating, over several rounds, with the
server and the clients pinned to CPUs of their own and not; the highest rate
it sustains with C{--window 32 --rate 0}; and the peak memory of a
1,000,000-request run.  Prints a Markdown table.  See bench/README.md.

    python3 bench/probe.py                 # about four minutes on 2 cores
    python3 bench/probe.py --quick         # a smoke run (20,000, not 1,000,000)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, servers  # noqa: E402
from bench.blocking import (  # noqa: E402
    PLACEMENTS,
    blockingTCP,
    blockingUDP,
    payload,
    percentile,
    place,
)
from bench.probeproc import probeCommand, runProbe  # noqa: E402
from bench.report import formatNumber, markdownTable  # noqa: E402

__all__ = [
    "latencyRow",
    "main",
    "measureLatency",
    "memoryRow",
    "payload",
    "rateRow",
    "renderMarkdown",
]

BENCH = Path(__file__).resolve().parent


def parseArgs(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Measure sockservice-client probe's own overhead.")
    p.add_argument("--count", type=int, default=20000, help="requests per latency run (20000)")
    p.add_argument(
        "--rate-count",
        type=int,
        default=200000,
        help="requests of each --window 32 --rate 0 run (200000)",
    )
    p.add_argument(
        "--long",
        type=int,
        default=1_000_000,
        help="requests of the memory run (1000000; 0 skips it)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="latency rounds per placement, blocking client and probe alternating (5)",
    )
    p.add_argument(
        "--placements",
        default="pinned,shared",
        help="where the latency runs: pinned (server CPU 0, clients CPU 1), shared",
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 2000, 20000 and 20000, 3 rounds"
    )
    p.add_argument(
        "--python",
        help="interpreter with sockservice installed, for server and probe "
        "(default: bench/build/venv, built as bench/run.py builds it)",
    )
    opts = p.parse_args(argv)
    unknown = set(opts.placements.split(",")) - set(PLACEMENTS)
    if unknown or opts.rounds < 1:
        p.error(f"--placements: one or more of {', '.join(PLACEMENTS)}; --rounds at least 1")
    return opts


def _spread(values: Sequence[float]) -> Dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def latencyRow(
    blocking: Sequence[Sequence[float]], probes: Sequence[Mapping[str, Any]]
) -> Dict[str, Any]:
    """
    One protocol's overhead over the rounds: in each, the blocking client's
    p50 (of its round trips, in microseconds), the probe's, and their
    ratio; each as its median, minimum and maximum over the rounds.
    """
    theirs = [percentile(times, 50) for times in blocking]
    mine = [float(probe["latency_us"]["p50"]) for probe in probes]
    return {"blocking_p50_us": _spread(theirs), "probe_p50_us": _spread(mine),
            "ratio": _spread([a / b for a, b in zip(mine, theirs)]), "rounds": len(mine),
            "blocking_count": len(blocking[0]),
            "probe_count": probes[0]["summary"]["answered"]}  # fmt: skip


def rateRow(probe: Mapping[str, Any]) -> Dict[str, Any]:
    """
    What a C{--window 32 --rate 0} run sustained.
    """
    summary = probe["summary"]
    return {"rate_per_s": summary["rate_per_s"], "sent": summary["sent"],
            "answered": summary["answered"], "loss_pct": summary["loss_pct"],
            "p50_us": probe["latency_us"]["p50"], "p99_us": probe["latency_us"]["p99"]}  # fmt: skip


def memoryRow(probe: Mapping[str, Any]) -> Dict[str, Any]:
    """
    What a long run took: its rate, its peak memory, and its resident
    memory a tenth of the way in (the first sample from then) and at the end
    (the last sample): flat memory makes them about equal.
    """
    rss = probe.get("rss") or [[0.0, 0]]
    tenth = rss[-1][0] / 10
    early = next(value for seconds, value in rss if seconds >= tenth)
    row = rateRow(probe)
    row.update(count=probe["summary"]["sent"], elapsed_s=probe["summary"]["elapsed_s"],
               peak_rss=probe["peak_rss"], rss_early=early, rss_end=rss[-1][1])  # fmt: skip
    return row


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _cell(spread: Mapping[str, float], unit: str) -> str:
    form = "{:.2f}×" if unit == "×" else "{:.1f} µs"
    low, high = (form.format(spread[k]).rstrip(" µs×") for k in ("min", "max"))
    return f"{form.format(spread['median'])} ({low}–{high})"


def renderMarkdown(results: Mapping[str, Any]) -> str:
    """
    The Markdown report: the context, the overhead table and the long runs.
    """
    lines = [f"Machine: {results['machine']}; {results['date']}; `{results['command']}`.", ""]
    latency, rate, memory = results["latency"], results["rate"], results["memory"]
    protocols = [
        p for p in ("udp", "tcp") if any(p in rows for rows in latency.values()) or p in rate
    ]
    rows = []
    for placement, byProtocol in latency.items():
        for label, key, unit in (
            ("blocking-socket client, p50", "blocking_p50_us", "µs"),
            ("probe `--window 1 --rate 0`, p50", "probe_p50_us", "µs"),
            ("probe / blocking (target ≤ 1.5×)", "ratio", "×"),
        ):
            rows.append([f"{label}, {placement}"] + [_cell(byProtocol[p][key], unit)
                        if p in byProtocol else "–" for p in protocols])  # fmt: skip
    if rate:
        rows.append(["probe `--window 32 --rate 0`, sustained"]
                    + [f"{formatNumber(rate[p]['rate_per_s'])} req/s, {rate[p]['loss_pct']}% lost"
                       if p in rate else "–" for p in protocols])  # fmt: skip
    lines += markdownTable(["64-byte requests on loopback", *[p.upper() for p in protocols]], rows)
    for placement, byProtocol in latency.items():
        first = next(iter(byProtocol.values()))
        lines += ["", f"{placement.capitalize()} ({PLACEMENTS.get(placement, placement)}): median "
                  f"(min–max) over {first['rounds']} rounds of {first['probe_count']} requests, "
                  "the blocking client and the probe alternating."]  # fmt: skip
    if memory:
        lines += ["", *markdownTable(
            ["long run, `--window 32 --rate 0`", "requests", "elapsed", "rate", "lost",
             "probe RSS at 10%", "at the end", "peak (VmHWM)"],
            [[p.upper(), f"{m['count']:,}", f"{m['elapsed_s']:.1f} s", f"{formatNumber(m['rate_per_s'])} req/s",
              f"{m['sent'] - m['answered']}", _mib(m["rss_early"]), _mib(m["rss_end"]),
              _mib(m["peak_rss"])] for p, m in memory.items()])]  # fmt: skip
    return "\n".join(lines) + "\n"


def measureLatency(
    python: str, port: int, serverPid: int, opts: argparse.Namespace
) -> Dict[str, Any]:
    """
    The latency rows, by placement and protocol: in each round, for each
    protocol and placement, the blocking client then the probe.
    """
    cpus = sorted(os.sched_getaffinity(0))
    placements = [p for p in opts.placements.split(",") if p]
    runs: Dict[Any, List[Any]] = {}
    try:
        for number in range(opts.rounds):
            print(f"latency round {number + 1} of {opts.rounds}", file=sys.stderr)
            for protocol, blocking in (("udp", blockingUDP), ("tcp", blockingTCP)):
                for placement in placements:
                    place(placement, serverPid, cpus)
                    theirs = blocking(port, opts.count)
                    mine = runProbe(probeCommand(python, protocol, port, "--window", "1",
                                                 "--rate", "0", "--count", str(opts.count)))  # fmt: skip
                    runs.setdefault((placement, protocol), []).append((theirs, mine))
    finally:
        place("shared", serverPid, cpus)
    return {placement: {protocol: latencyRow([t for t, _ in runs[placement, protocol]],
                                             [m for _, m in runs[placement, protocol]])
                        for protocol in ("udp", "tcp")} for placement in placements}  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    if opts.quick:
        opts.count, opts.rate_count, opts.long, opts.rounds = 2000, 20000, 20000, 3
    results: Dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python3 bench/probe.py" + ("".join(f" {a}" for a in (argv or sys.argv[1:]))),
        "latency": {}, "rate": {}, "memory": {},
    }  # fmt: skip
    (BENCH / "results").mkdir(exist_ok=True)
    if opts.python is None:
        try:
            opts.python = str(environment.benchPython(environment.BUILD / "setup.log"))
        except RuntimeError as error:
            print(f"bench/probe.py: {error}", file=sys.stderr)
            return 1
    spec = servers.ServerSpec("sockservice", "sockservice", servers.sockserviceCommand(opts.python))
    server = servers.startServer(spec, None, BENCH / "results" / "probe-server.log")
    try:
        server.waitReady()
        port = server.port
        results["latency"] = measureLatency(opts.python, port, server.pid, opts)
        for protocol in ("udp", "tcp"):
            print(f"{protocol}: --window 32 --rate 0, {opts.rate_count}", file=sys.stderr)
            results["rate"][protocol] = rateRow(runProbe(probeCommand(
                opts.python, protocol, port, "--window", "32", "--rate", "0",
                "--count", str(opts.rate_count))))  # fmt: skip
        if opts.long:
            for protocol in ("udp", "tcp"):
                print(f"{protocol}: {opts.long} requests", file=sys.stderr)
                results["memory"][protocol] = memoryRow(runProbe(probeCommand(
                    opts.python, protocol, port, "--window", "32", "--rate", "0",
                    "--count", str(opts.long))))  # fmt: skip
    except (RuntimeError, ValueError, OSError) as error:
        print(f"bench/probe.py: {error}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    (BENCH / "results" / "probe.json").write_text(json.dumps(results, indent=2) + "\n")
    print(renderMarkdown(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
