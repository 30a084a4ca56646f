#!/usr/bin/env python3
# -*- test-case-name: bench.tests.test_costparse -*-
"""
What one unit of load costs a server on loopback, the server pinned to CPU 0
and the generator to CPU 1: a connection of tcp-crr (connect, one 64-byte
round trip, close; 8 connections at a time; the default), a request of tcp-rr
(50 connections) or a datagram of udp-rr (32 outstanding), chosen with
C{--load}.  See bench/README.md ("Per-connection and per-request cost").

    python3 bench/costs.py calls sockservice      # Python calls (cProfile)
    python3 bench/costs.py syscalls sockservice   # system calls (strace -c -f)
    python3 bench/costs.py ab                     # server CPU per unit, A/B rounds
    python3 bench/costs.py ab sockservice --tree ../other   # against another source tree
    python3 bench/costs.py idle                   # memory per idle connection
    python3 bench/costs.py instr sockservice      # instructions (callgrind), if valgrind is there
    python3 bench/costs.py calls --load udp-rr    # per datagram of udp-rr

Servers: sockservice, epoll (the raw epoll floor), uvloop, and C{tree}
(sockservice imported from C{--tree PATH}).  Profiles, strace and callgrind
output are left in bench/build/costs/.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, results, servers  # noqa: E402
from bench.costrun import WORK, Bench, profiled  # noqa: E402
from bench.costparse import (  # noqa: E402
    LOADS,
    callCounts,
    callgrindCalls,
    callgrindTotal,
    connectionsIn,
    statTicks,
    straceCounts,
)

MODES = ("calls", "syscalls", "ab", "idle", "instr")
KNOWN = ("sockservice", "epoll", "uvloop", "tree")
# How ab writes each unit of load.
SHORT = {"connection": "conn", "request": "req", "datagram": "dgram"}


def parseArgs(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure what one connection, request or datagram costs a server."
    )
    p.add_argument("mode", choices=MODES, help="what to measure")
    p.add_argument(
        "servers",
        nargs="*",
        help=f"servers among {', '.join(KNOWN)} (default: sockservice; "
        "for ab, idle and instr: sockservice epoll uvloop, and tree with --tree)",
    )
    p.add_argument(
        "--load",
        choices=sorted(LOADS),
        default="tcp-crr",
        help="tcp-crr: per connection, 8 at a time (default); tcp-rr: per request, "
        "50 connections; udp-rr: per datagram, 32 outstanding (idle ignores it)",
    )
    p.add_argument("--seconds", type=float, default=2.0, help="seconds of load measured (2)")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of load first (0.5)")
    p.add_argument("--rounds", type=int, default=5, help="ab: rounds, order alternating (5)")
    p.add_argument("--tree", metavar="PATH", help="source tree the server 'tree' imports")
    p.add_argument("--user-only", action="store_true", help="ab: count user CPU time only")
    p.add_argument("--conns", type=int, default=5000, help="idle: connections held (5000)")
    p.add_argument("--min", type=float, default=0.05, help="calls: hide rows under this (0.05)")
    p.add_argument("--python", help="interpreter of the servers (default bench/build/venv)")
    opts = p.parse_args(argv)
    if not opts.servers:
        many = opts.mode in ("ab", "idle", "instr")
        opts.servers = ["sockservice", "epoll", "uvloop"] if many else ["sockservice"]
        if many and opts.tree:
            opts.servers.append("tree")
    unknown = sorted(set(opts.servers) - set(KNOWN))
    if unknown:
        p.error(f"unknown servers: {', '.join(unknown)}")
    if "tree" in opts.servers and not opts.tree:
        p.error("the server 'tree' needs --tree PATH")
    if opts.seconds <= 0 or opts.warmup < 0 or opts.rounds < 1 or opts.conns < 1:
        p.error("--seconds, --rounds and --conns must be positive")
    return opts


def calls(bench: Bench, name: str) -> None:
    out = WORK / f"{name}.prof"
    out.unlink(missing_ok=True)
    with bench.serving(profiled(bench.spec(name), out)) as server:
        bench.warm(server)
        os.kill(server.pid, signal.SIGUSR2)
        time.sleep(0.2)
        result = bench.load(server.port, bench.opts.seconds)
        time.sleep(0.2)
        os.kill(server.pid, signal.SIGUSR2)
        for _ in range(100):
            time.sleep(0.1)
            if out.exists():
                time.sleep(0.5)  # let the dump finish
                break
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    counts = callCounts(stats)
    load = LOADS[bench.opts.load]
    function = load.perUnit.get(name)
    units = load.units(connectionsIn(stats, function) if function else 0, result["ok"])
    print(f"{name}: {units} {load.unit}s (generator: {result['ok']}); "
          f"{counts.total / units:.2f} calls per {load.unit} (Python functions "
          f"{counts.python / units:.2f}, builtins {(counts.total - counts.python) / units:.2f})")  # fmt: skip
    for label, n in counts.byFunction:
        if n / units >= bench.opts.min:
            print(f"  {n / units:7.2f}  {label}")


def syscalls(bench: Bench, name: str) -> None:
    if shutil.which("strace") is None:
        print(f"{name}: skipped: strace not found (apt-get install strace)")
        return
    out = WORK / f"{name}.strace"
    with bench.serving(bench.spec(name)) as server:
        bench.warm(server)
        argv = ["strace", "-c", "-f", "-o", str(out), "-p", str(server.pid)]
        tracer = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)  # attach to every thread
            if tracer.poll() is not None:
                why = tracer.communicate()[1].decode().strip()
                raise RuntimeError(f"strace could not attach: {why}")
            result = bench.load(server.port, bench.opts.seconds)
            time.sleep(0.3)
        finally:
            if tracer.poll() is None:
                tracer.send_signal(signal.SIGINT)  # it writes the summary and detaches
                tracer.communicate(timeout=30)
    rows = straceCounts(out.read_text())
    load = LOADS[bench.opts.load]
    counted = 0
    if load.syscall:
        calls, failed = rows.get(load.syscall, rows.get(load.syscall.rstrip("4"), (0, 0)))
        counted = calls - failed
    units = load.units(counted, result["ok"])
    total = sum(c for c, _ in rows.values())
    print(f"{name}: {units} {load.unit}s (generator: {result['ok']}); "
          f"{total / units:.2f} system calls per {load.unit}")  # fmt: skip
    for call, (c, e) in sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0])):
        if c / units >= 0.01:
            print(f"  {c / units:7.2f}  {call}" + (f" ({e / units:.2f} failed)" if e else ""))


def cpuPerUnit(bench: Bench, name: str) -> Tuple[float, float]:
    """
    One run: microseconds of server CPU per unit of load (connection,
    request, datagram), and units per second.
    """
    with bench.serving(bench.spec(name)) as server:
        bench.warm(server)
        stat = Path(f"/proc/{server.pid}/stat")
        before = statTicks(stat.read_text(), bench.opts.user_only)
        result = bench.load(server.port, bench.opts.seconds)
        after = statTicks(stat.read_text(), bench.opts.user_only)
    seconds = (after - before) / os.sysconf("SC_CLK_TCK")
    return seconds / result["ok"] * 1e6, result["ok"] / result["duration_s"]


def ab(bench: Bench, names: List[str]) -> None:
    runs: Dict[str, List[Tuple[float, float]]] = {n: [] for n in names}
    for r in range(bench.opts.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            runs[name].append(cpuPerUnit(bench, name))
    kind = "user CPU" if bench.opts.user_only else "CPU"
    unit = SHORT[LOADS[bench.opts.load].unit]
    for name, got in runs.items():
        us, rate = sorted(u for u, _ in got), sorted(c for _, c in got)
        print(f"{name}: server {kind} {statistics.median(us):.1f} us/{unit} "
              f"({us[0]:.1f}-{us[-1]:.1f}); {statistics.median(rate):.0f} {unit}/s "
              f"({rate[0]:.0f}-{rate[-1]:.0f}); n={len(got)}")  # fmt: skip


def idle(bench: Bench, name: str) -> None:
    with bench.serving(bench.spec(name)) as server:
        time.sleep(0.5)
        before = servers.readRss(server.pid)
        argv = [str(bench.loadgen), "--mode", "idle", "--port", str(server.port),
                "--conns", str(bench.opts.conns), "--hold", "120"]  # fmt: skip
        gen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = gen.stdout.readline() if gen.stdout else ""
            time.sleep(0.3)
            after = servers.readRss(server.pid)
        finally:
            gen.communicate(timeout=30)  # closing its stdin ends it
    established = results.parseGeneratorLine(line)["established"]
    print(f"{name}: {(after - before) / max(established, 1):.0f} bytes per idle connection "
          f"({established} connections)")  # fmt: skip


def instr(bench: Bench, name: str) -> None:
    spec = bench.spec(name)
    out = WORK / f"callgrind.{name}"
    for old in WORK.glob(f"callgrind.{name}.*"):
        old.unlink()
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-systime=no",
            f"--callgrind-out-file={out}.%p", *spec.argv]  # fmt: skip
    with bench.serving(servers.ServerSpec(name, spec.label, argv), ready=300) as server:
        bench.warm(server)
        control = ["callgrind_control", "-i", "on", str(server.pid)]
        subprocess.run(control, capture_output=True, check=True, timeout=60)
        result = bench.load(server.port, bench.opts.seconds)
        control[2] = "off"
        subprocess.run(control, capture_output=True, check=True, timeout=60)
    # The file of the process that served (twistd's may leave a second one).
    text = max(
        (f.read_text() for f in WORK.glob(f"callgrind.{name}.*")), key=callgrindTotal, default=""
    )
    total = callgrindTotal(text)
    load = LOADS[bench.opts.load]
    counted = callgrindCalls(text, load.cfunction) if load.cfunction else 0
    units = load.units(counted, result["ok"])
    print(f"{name}: {total / units:,.0f} user-space instructions per {load.unit} "
          f"({units} {load.unit}s; generator: {result['ok']})")  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    if opts.mode == "instr" and not (
        shutil.which("valgrind") and shutil.which("callgrind_control")
    ):
        print("instr skipped: valgrind not found (apt-get install valgrind)")
        return 0
    try:
        loadgen = environment.buildGenerator()
        python = (
            Path(opts.python)
            if opts.python
            else environment.benchPython(environment.BUILD / "setup.log")
        )
    except RuntimeError as e:
        sys.stderr.write(f"costs: {e}\n")
        return 1
    if "uvloop" in opts.servers and environment.probe(python, "import uvloop") is None:
        sys.stderr.write("costs: uvloop is not importable: uvloop skipped\n")
        opts.servers.remove("uvloop")
    WORK.mkdir(parents=True, exist_ok=True)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # for idle; inherited
    bench = Bench(python, loadgen, opts)
    try:
        if opts.mode == "ab":
            ab(bench, opts.servers)
        else:
            for name in opts.servers:
                {"calls": calls, "syscalls": syscalls, "idle": idle, "instr": instr}[opts.mode](
                    bench, name
                )
    except (RuntimeError, OSError, subprocess.SubprocessError, results.GeneratorOutputError) as e:
        sys.stderr.write(f"costs: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
