#!/usr/bin/env python3
# -*- test-case-name: bench.tests.test_streamcost -*-
"""
What a byte stream costs a server per gigabyte under tcp-stream load (one
connection, 64 KiB writes, at most 4 MiB in flight, every byte verified),
the server pinned to CPU 0 and the generator to CPU 1.  See bench/README.md
("What a stream costs").

    python3 bench/streamcost.py                    # sockservice, uvloop, epoll: 5 rounds
    python3 bench/streamcost.py sockservice tree --tree ../other   # against another tree
    python3 bench/streamcost.py --instr            # also user-space instructions (callgrind)

Per run: MB/s, the server's CPU time (user + system, from C{/proc/PID/stat})
per GB, and its system calls and page faults per GB (C{perf stat} on the
kernel's system call tracepoints, if C{perf} can read them).  Servers alternate, their order
reversed every other round; each line gives medians (min-max) over the
rounds.  Counts do not depend on the machine's other load; CPU time and MB/s
do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, results, servers  # noqa: E402
from bench.costparse import callgrindTotal, statTicks  # noqa: E402

KNOWN = ("sockservice", "sockservice-ascii", "uvloop", "epoll", "tree")
WORK = environment.BUILD / "streamcost"
SERVER_CPU, GEN_CPU = 0, 1
#: The system calls counted one by one (all of them are counted together too).
SYSCALLS = ("recvfrom", "read", "sendto", "write", "epoll_wait", "epoll_pwait", "epoll_ctl", "brk")
_TOTAL = "raw_syscalls:sys_enter"
_FAULTS = "page-faults"


def parseArgs(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Measure what a tcp-stream gigabyte costs a server.")
    p.add_argument("servers", nargs="*", help=f"among {', '.join(KNOWN)} "
                   "(default: sockservice uvloop epoll, and tree with --tree)")  # fmt: skip
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of load per run (3)")
    p.add_argument("--rounds", type=int, default=5, help="rounds, order alternating (5)")
    p.add_argument("--tree", metavar="PATH", help="source tree the server 'tree' imports")
    p.add_argument("--instr", action="store_true", help="also count user-space instructions "
                   "per GB, one run under callgrind each (slow: about 15 MB/s)")  # fmt: skip
    p.add_argument("--python", help="interpreter of the servers (default bench/build/venv)")
    opts = p.parse_args(argv)
    if not opts.servers:
        opts.servers = ["sockservice", "uvloop", "epoll"] + (["tree"] if opts.tree else [])
    unknown = sorted(set(opts.servers) - set(KNOWN))
    if unknown:
        p.error(f"unknown servers: {', '.join(unknown)}")
    if "tree" in opts.servers and not opts.tree:
        p.error("the server 'tree' needs --tree PATH")
    if opts.seconds <= 0 or opts.rounds < 1:
        p.error("--seconds and --rounds must be positive")
    return opts


def perfCounts(text: str) -> Dict[str, float]:
    """
    The counts in the output of C{perf stat -x,}, by event name without its
    C{syscalls:sys_enter_} prefix (the total keeps its name); events perf
    could not count are left out.
    """
    counts: Dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue  # <not supported>, <not counted>
        event = fields[2]
        counts[event.replace("syscalls:sys_enter_", "")] = value
    return counts


def spec(python: Path, name: str, tree: Optional[str]) -> servers.ServerSpec:
    """
    The server C{name}; C{tree} is sockservice imported from C{tree} (first on
    C{sys.path}: the servers run in this checkout, which C{python -c} puts
    before C{PYTHONPATH}).
    """
    wanted = "sockservice" if name == "tree" else name
    found = next(s for s in servers.serverSpecs(str(python), None) if s.name == wanted)
    if name != "tree":
        return found
    argv = list(found.argv)
    argv[2] = f"import sys; sys.path.insert(0, {str(Path(str(tree)).resolve())!r}); " + argv[2]
    return servers.ServerSpec(name, found.label, argv)


def stream(loadgen: Path, port: int, seconds: float) -> Dict[str, float]:
    """
    Run the generator for C{seconds} of tcp-stream; its result.
    """
    argv = [str(loadgen), "--mode", "tcp-stream", "--port", str(port),
            "--duration", str(seconds), "--warmup", "0"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"the generator failed: {done.stderr.strip()}")
    result = results.parseGeneratorLine(done.stdout)
    if not result["bytes"] or result["errors"] or result["conn_errors"]:
        raise RuntimeError(f"the stream failed: {done.stdout.strip()}")
    return result


def oneRun(python: Path, loadgen: Path, name: str, opts: argparse.Namespace) -> Dict[str, float]:
    """
    One server, one stream: MB/s, server CPU ms per GB and system calls per GB.
    """
    events = ",".join([_TOTAL, _FAULTS] + [f"syscalls:sys_enter_{c}" for c in SYSCALLS])
    server = servers.startServer(spec(python, name, opts.tree), SERVER_CPU, WORK / "servers.log")
    try:
        server.waitReady(60)
        perf = None
        if shutil.which("perf"):
            argv = ["perf", "stat", "-x,", "-e", events, "-p", str(server.pid)]
            perf = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)
        stat = Path(f"/proc/{server.pid}/stat")
        before = statTicks(stat.read_text())
        result = stream(loadgen, server.port, opts.seconds)
        after = statTicks(stat.read_text())
        counts: Dict[str, float] = {}
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            counts = perfCounts(perf.communicate(timeout=30)[1])
    finally:
        server.stop()
    gb = result["bytes"] / 1e9
    run = {key: value / gb for key, value in counts.items()}
    run["MB/s"] = result["mb_per_s"]
    run["ms/GB"] = (after - before) / os.sysconf("SC_CLK_TCK") * 1e3 / gb
    return run


def instructions(python: Path, loadgen: Path, name: str, opts: argparse.Namespace) -> float:
    """
    User-space instructions per GB of one stream under callgrind.
    """
    found = spec(python, name, opts.tree)
    out = WORK / f"callgrind.{name}"
    for old in WORK.glob(f"callgrind.{name}.*"):
        old.unlink()
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}.%p", *found.argv]  # fmt: skip
    server = servers.startServer(
        servers.ServerSpec(name, found.label, argv), SERVER_CPU, WORK / "servers.log"
    )
    try:
        server.waitReady(300)
        control = ["callgrind_control", "-i", "on", str(server.pid)]
        subprocess.run(control, capture_output=True, check=True, timeout=60)
        result = stream(loadgen, server.port, opts.seconds)
        control[2] = "off"
        subprocess.run(control, capture_output=True, check=True, timeout=60)
    finally:
        server.stop()
    total = max(
        (callgrindTotal(f.read_text()) for f in WORK.glob(f"callgrind.{name}.*")), default=0
    )
    return total / (result["bytes"] / 1e9)


def summary(name: str, runs: List[Dict[str, float]]) -> str:
    """
    One line: medians (min-max) of C{runs}, system calls by kind.
    """

    def spread(key: str, form: str) -> str:
        got = sorted(r[key] for r in runs if key in r)
        median = format(statistics.median(got), form)
        return f"{median} ({format(got[0], form)}-{format(got[-1], form)})"

    line = f"{name}: {spread('MB/s', '.0f')} MB/s; server CPU {spread('ms/GB', '.0f')} ms/GB"
    if all(_TOTAL in r for r in runs):
        kinds = [c for c in SYSCALLS if statistics.median(r.get(c, 0) for r in runs) >= 0.5]
        each = ", ".join(f"{c} {statistics.median(r.get(c, 0) for r in runs):.0f}" for c in kinds)
        line += f"; system calls {statistics.median(r[_TOTAL] for r in runs):.0f}/GB ({each})"
    if all(_FAULTS in r for r in runs):
        line += f"; page faults {statistics.median(r[_FAULTS] for r in runs):.0f}/GB"
    return line + f"; n={len(runs)}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    try:
        loadgen = environment.buildGenerator()
        python = (
            Path(opts.python)
            if opts.python
            else environment.benchPython(environment.BUILD / "setup.log")
        )
        WORK.mkdir(parents=True, exist_ok=True)
        if {SERVER_CPU, GEN_CPU} <= os.sched_getaffinity(0):
            os.sched_setaffinity(0, {GEN_CPU})  # the generator inherits it
        runs: Dict[str, List[Dict[str, float]]] = {n: [] for n in opts.servers}
        for r in range(opts.rounds):
            for name in opts.servers if r % 2 == 0 else opts.servers[::-1]:
                runs[name].append(oneRun(python, loadgen, name, opts))
        for name, got in runs.items():
            print(summary(name, got))
        if opts.instr and shutil.which("valgrind") and shutil.which("callgrind_control"):
            for name in opts.servers:
                count = instructions(python, loadgen, name, opts)
                print(f"{name}: {count / 1e9:.2f} G user-space instructions per GB")
        elif opts.instr:
            print("instructions skipped: valgrind not found (apt-get install valgrind)")
    except (RuntimeError, OSError, subprocess.SubprocessError, results.GeneratorOutputError) as e:
        sys.stderr.write(f"streamcost: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
