#!/usr/bin/env python3
"""
Run the sockservice benchmark: every server, every measurement, several
rounds, servers alternating; write bench/results/latest.{json,md} and print
the Markdown.  See bench/README.md.

    python3 bench/run.py            # the full run (a few minutes)
    python3 bench/run.py --quick    # a smoke run (well under a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import checks, environment, results, servers  # noqa: E402
from bench.measure import runAll  # noqa: E402
from bench.report import renderMarkdown, splice  # noqa: E402

BENCH = Path(__file__).resolve().parent
DEFAULT_SERVERS = (
    "socketserver",
    "asyncio",
    "uvloop",
    "twisted",
    "sockservice",
    "sockservice-pypy",
)
OURS = ("sockservice", "sockservice-pypy", "sockservice-ascii", "sockservice-metrics")
README_START = "<!-- latest-results:start -->"
README_END = "<!-- latest-results:end -->"


def parseArgs(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark sockservice against its peers.")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 round, 0.5 s, 500 idle connections",
    )
    p.add_argument("--rounds", type=int, default=3, help="repeats of every measurement (default 3)")
    p.add_argument(
        "--duration",
        type=float,
        default=1.5,
        help="seconds measured per run (default 1.5)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=0.5,
        help="seconds of unmeasured load first (default 0.5)",
    )
    p.add_argument(
        "--jit-warmup",
        type=float,
        default=3.0,
        help="warm-up seconds instead for servers on PyPy, whose JIT needs "
        "them to reach its steady state (default 3)",
    )
    p.add_argument(
        "--idle-conns",
        type=int,
        default=5000,
        help="connections in the idle run (default 5000)",
    )
    p.add_argument(
        "--servers",
        default=",".join(DEFAULT_SERVERS),
        help="comma-separated servers; also sockservice-ascii, sockservice-metrics, twisted-pypy, epoll, epoll-pypy",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated measurements, e.g. tcp-rr-50,udp-rr-32",
    )
    p.add_argument(
        "--noise-limit",
        type=float,
        default=15.0,
        help="repeat a run when other processes used more than this %% of a core "
        "on the benchmark's CPUs (default 15)",
    )
    p.add_argument(
        "--keep-noisy",
        action="store_true",
        help="summarise all runs, noisy or not (default: leave out noisy runs "
        "where a quiet one exists)",
    )
    p.add_argument("--retries", type=int, default=1, help="repeats of a noisy run (default 1)")
    p.add_argument("--server-cpu", type=int, default=0, help="CPU for the servers (default 0)")
    p.add_argument("--gen-cpu", type=int, default=1, help="CPU for the generator (default 1)")
    p.add_argument(
        "--python",
        help="CPython with twisted, uvloop, sockservice (default: bench/build/venv)",
    )
    p.add_argument(
        "--pypy",
        default="pypy3",
        help="PyPy interpreter for the PyPy rows (default pypy3)",
    )
    p.add_argument(
        "--output",
        default=str(BENCH / "results"),
        help="where latest.json and latest.md go",
    )
    p.add_argument(
        "--update-readme",
        action="store_true",
        help="put the table into bench/README.md",
    )
    p.add_argument(
        "--render",
        metavar="JSON",
        help="measure nothing: render the report again from a results JSON file",
    )
    opts = p.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.duration, opts.warmup, opts.idle_conns = 1, 0.5, 0.2, 500
        opts.jit_warmup = 0.5
    return opts


def render(path: Path, opts: argparse.Namespace) -> int:
    """
    Render the Markdown again from a results JSON file written by a run.
    """
    data = json.loads(path.read_text())
    summary = results.aggregate(data["samples"], data.get("noise_limit"))
    markdown = renderMarkdown({**data, "summary": summary})
    (Path(opts.output) / "latest.md").write_text(markdown)
    if opts.update_readme:
        _updateReadme(markdown)
    sys.stdout.write(markdown)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    if opts.render:
        return render(Path(opts.render), opts)
    command = "python3 bench/run.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    notes: List[str] = []
    setupLog = environment.BUILD / "setup.log"
    sys.stderr.write("preparing: building loadgen, bench environments (first time: a minute)...\n")
    try:
        loadgen = environment.buildGenerator()
        python = Path(opts.python) if opts.python else environment.benchPython(setupLog)
    except RuntimeError as e:
        sys.stderr.write(f"bench: {e}\n")
        return 1
    wanted = [s for s in opts.servers.split(",") if s]
    pypy: Optional[Path] = None
    if any(s.endswith("-pypy") for s in wanted):
        pypy, why = environment.pypyPython(setupLog, opts.pypy)
        if why:
            notes.append(why)
    specs = []
    for spec in servers.serverSpecs(str(python), str(pypy) if pypy else None):
        if spec.name not in wanted:
            continue
        interpreter = spec.argv[0]
        if spec.name == "uvloop" and environment.probe(Path(interpreter), "import uvloop") is None:
            notes.append("uvloop is not importable: asyncio+uvloop skipped")
            continue
        if (
            spec.name.startswith("sockservice")
            and environment.probe(Path(interpreter), "import sockservice.tap") is None
        ):
            notes.append(
                f"{spec.label} skipped: sockservice.tap is not importable by {interpreter}"
            )
            continue
        specs.append(spec)
    unknown = set(wanted) - {s.name for s in servers.serverSpecs("python", "pypy")}
    if unknown:
        sys.stderr.write(f"bench: unknown servers: {', '.join(sorted(unknown))}\n")
        return 2
    only = [k for k in opts.only.split(",") if k]
    ms = [m for m in results.MEASUREMENTS if not only or m.key in only]
    if not specs or not ms:
        sys.stderr.write("bench: nothing to run\n")
        return 1

    cpus = os.sched_getaffinity(0)
    if opts.server_cpu in cpus and opts.gen_cpu in cpus and opts.server_cpu != opts.gen_cpu:
        os.sched_setaffinity(
            0, {opts.gen_cpu}
        )  # the harness mostly sleeps: keep it off the server's CPU
        pinning = f"server on CPU {opts.server_cpu}, generator on CPU {opts.gen_cpu}"
    else:
        opts.server_cpu = opts.gen_cpu = None
        pinning = "not pinned (needs two distinct CPUs)"
        notes.append("server and generator were not pinned to separate CPUs")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers
    if hard < opts.idle_conns + 100:
        notes.append(f"open-file hard limit {hard} is below the idle connections asked for")

    machine = environment.machineDescription([python] + ([pypy] if pypy else []))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    samples = runAll(specs, ms, loadgen, opts, notes)
    summary = results.aggregate(samples, None if opts.keep_noisy else opts.noise_limit)
    notes.append(
        f"{machine['load']} (this machine is shared: differences under about 20% are noise)"
    )
    note = checks.noiseNote(samples, opts.noise_limit)
    if note:
        notes.append(note)
    report = {
        "machine": f"{machine['cpu']}; {machine['os']}; {machine['software']}",
        "date": started,
        "command": command,
        "settings": (
            f"{opts.rounds} rounds, servers alternating; {opts.duration:g} s measured after "
            f"{opts.warmup:g} s warm-up ({opts.jit_warmup:g} s on PyPy); 64-byte requests; {opts.idle_conns} idle connections; "
            f"{pinning}"
        ),
        "servers": [{"name": s.name, "label": s.label} for s in specs],
        "ours": [s.name for s in specs if s.name in OURS],
        "notes": notes,
        "noise_limit": None if opts.keep_noisy else opts.noise_limit,
    }
    markdown = renderMarkdown({**report, "summary": summary})
    out = Path(opts.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(markdown)
    (out / "latest.json").write_text(
        json.dumps(
            {
                **report,
                "summary": results.summaryToJson(summary),
                "samples": samples,
                "generator_check": checks.generatorCheck(summary, ms),
                "targets": checks.evaluateTargets(summary, report["ours"]),
            },
            indent=1,
        )
        + "\n"
    )
    if opts.update_readme:
        _updateReadme(markdown)
    sys.stdout.write(markdown)
    sys.stderr.write(f"wrote {out / 'latest.md'} and {out / 'latest.json'}\n")
    return 0


def _updateReadme(markdown: str) -> None:
    readme = BENCH / "README.md"
    readme.write_text(splice(readme.read_text(), README_START, README_END, markdown))


if __name__ == "__main__":
    sys.exit(main())
