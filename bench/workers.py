#!/usr/bin/env python3
"""
The C{--workers} scaling run: sockservice with 1, 2, 4... workers pinned to
one set of CPUs, load generators side by side on the others, the same
measurements for every worker count; write bench/results/scaling.{json,md}
and print the Markdown.  See bench/README.md.

    python3 bench/workers.py            # half the CPUs serve, half generate
    python3 bench/workers.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment, results, scaling, servers  # noqa: E402
from bench.measure import Progress, waitQuiet  # noqa: E402
from bench.report import splice  # noqa: E402

BENCH = Path(__file__).resolve().parent
README_START = "<!-- scaling-results:start -->"
README_END = "<!-- scaling-results:end -->"


def parseArgs(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Measure how sockservice --workers scales.")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 0.5 s")
    p.add_argument("--rounds", type=int, default=3, help="repeats (default 3)")
    p.add_argument(
        "--duration", type=float, default=2.0, help="seconds measured per run (default 2)"
    )
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load first (default 1)")
    p.add_argument(
        "--workers",
        help="worker counts, e.g. 1,2,4 (default: 1, 2, 4... up to the server's CPUs)",
    )
    p.add_argument("--server-cpus", help="CPUs for the server, e.g. 0-7 (default: the first half)")
    p.add_argument("--gen-cpus", help="CPUs for the generators (default: the other half)")
    p.add_argument(
        "--generators",
        type=int,
        help="generator processes, spread over the generator CPUs (default: one "
        "per CPU, at least 2, so that UDP comes from two source ports)",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated measurements: tcp-rr-50,tcp-crr,udp-rr-32",
    )
    p.add_argument("--pypy", action="store_true", help="serve with PyPy (pypy3)")
    p.add_argument(
        "--python", help="the interpreter to serve with (default: bench/build's CPython)"
    )
    p.add_argument("--output", default=str(BENCH / "results"), help="where scaling.{json,md} go")
    p.add_argument(
        "--update-readme", action="store_true", help="put the table into bench/README.md"
    )
    opts = p.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.duration, opts.warmup = 1, 0.5, 0.3
    return opts


def _pin(cpu: int) -> Callable[[], None]:
    return lambda: os.sched_setaffinity(0, {cpu})


def waitWorkers(server: servers.RunningServer, workers: int, timeout: float = 60.0) -> None:
    """
    Wait until all C{workers} are running (a parent and its children, when
    there is more than one), then until they are quiet (L{waitQuiet}).
    """
    processes = workers + 1 if workers > 1 else 1
    deadline = time.monotonic() + timeout
    while len(servers.processTree(server.pid)) < processes:
        if not server.alive():
            raise RuntimeError(f"exited with status {server.process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers not ready after {timeout:.0f} s")
        time.sleep(0.1)
    waitQuiet(server)


def measureOnce(
    m: results.Measurement,
    server: servers.RunningServer,
    loadgen: Path,
    genCpus: Sequence[int],
    generators: int,
    opts: argparse.Namespace,
) -> Dict[str, float]:
    """
    Run C{generators} generators at once, each offering C{m}'s load; one
    combined sample, with the CPU use of all the server's processes.
    """
    argv = [str(loadgen), "--mode", m.mode, "--port", str(server.port), *m.args]
    argv += ["--duration", str(opts.duration), "--warmup", str(opts.warmup)]
    gens = [
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_pin(genCpus[i % len(genCpus)]),
        )
        for i in range(generators)
    ]
    try:
        time.sleep(opts.warmup)
        cpu0, t0 = servers.readTreeCpuSeconds(server.pid), time.monotonic()
        time.sleep(opts.duration)
        cpu1, t1 = servers.readTreeCpuSeconds(server.pid), time.monotonic()
        parsed = []
        for gen in gens:
            out, err = gen.communicate(timeout=opts.warmup + opts.duration + 30)
            if gen.returncode != 0:
                raise RuntimeError(f"a generator failed ({gen.returncode}): {err.strip()}")
            parsed.append(results.parseGeneratorLine(out))
    except subprocess.TimeoutExpired:
        raise RuntimeError("a generator did not finish")
    finally:
        for gen in gens:  # only those left after an error
            if gen.poll() is None:
                gen.kill()
                gen.communicate()
    return scaling.combine(parsed, len(genCpus), serverCpuPct=100.0 * (cpu1 - cpu0) / (t1 - t0))


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    command = "python3 bench/workers.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    try:
        available = sorted(os.sched_getaffinity(0))
        serverCpus, genCpus = scaling.splitCpus(available)
        if opts.server_cpus:
            serverCpus = scaling.parseCpuList(opts.server_cpus)
        if opts.gen_cpus:
            genCpus = scaling.parseCpuList(opts.gen_cpus)
        if set(serverCpus) & set(genCpus) or not set(serverCpus + genCpus) <= set(available):
            raise ValueError("server and generator CPUs must be distinct CPUs of this machine")
        counts = (
            [int(n) for n in opts.workers.split(",")]
            if opts.workers
            else scaling.workerCounts(len(serverCpus))
        )
        if not counts or min(counts) < 1:
            raise ValueError("worker counts must be 1 or more")
    except ValueError as e:
        sys.stderr.write(f"bench: {e}\n")
        return 2
    only = [k for k in opts.only.split(",") if k]
    ms = [m for m in scaling.SCALING_MEASUREMENTS if not only or m.key in only]
    if not ms:
        sys.stderr.write("bench: nothing to run\n")
        return 2
    generators = opts.generators or max(2, len(genCpus))

    setupLog = environment.BUILD / "setup.log"
    sys.stderr.write("preparing: building loadgen, bench environments...\n")
    try:
        loadgen = environment.buildGenerator()
        if opts.python:
            python = Path(opts.python)
        elif opts.pypy:
            pypy, why = environment.pypyPython(setupLog)
            if pypy is None:
                raise RuntimeError(why)
            python = pypy
        else:
            python = environment.benchPython(setupLog)
    except RuntimeError as e:
        sys.stderr.write(f"bench: {e}\n")
        return 1

    os.sched_setaffinity(0, set(genCpus))  # the harness mostly sleeps
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    machine = environment.machineDescription([python])
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    notes: List[str] = []
    samples: List[Dict[str, Any]] = []
    logPath = environment.BUILD / "servers.log"
    logPath.write_bytes(b"")
    progress = Progress(opts.rounds * len(counts) * len(ms))
    for r in range(opts.rounds):
        order = counts[r % len(counts) :] + counts[: r % len(counts)]
        for n in order:
            where = f"round {r + 1}/{opts.rounds}  {n} worker{'s' if n > 1 else ''}"
            progress.show(f"{where}  starting")
            spec = servers.ServerSpec(
                f"workers-{n}",
                f"sockservice --workers {n}",
                servers.sockserviceCommand(str(python), "--workers", str(n)),
            )
            server = servers.startServer(spec, serverCpus, logPath)
            try:
                server.waitReady()
                waitWorkers(server, n)
                for m in ms:
                    progress.show(f"{where}  {m.title}")
                    values = measureOnce(m, server, loadgen, genCpus, generators, opts)
                    samples.append(
                        {
                            "workers": n,
                            "measurement": m.key,
                            "round": r + 1,
                            "values": values,
                        }
                    )
                    progress.step()
            except (RuntimeError, results.GeneratorOutputError) as e:
                notes.append(f"round {r + 1}, {n} workers: {e}")
            finally:
                server.stop()
    progress.finish(f"measured {len(samples)} samples")

    notes.append(
        f"{machine['load']} (this machine is shared: differences under about 20% are noise)"
    )
    report = {
        "machine": f"{machine['cpu']}; {machine['os']}; {machine['software']}",
        "date": started,
        "command": command,
        "settings": (
            f"{opts.rounds} round{'s' if opts.rounds > 1 else ''}, worker counts alternating; {opts.duration:g} s "
            f"measured after {opts.warmup:g} s warm-up; server on CPUs "
            f"{scaling.formatCpuList(serverCpus)}, {generators} generators on CPUs "
            f"{scaling.formatCpuList(genCpus)}, each offering the load named "
            f"in the column; 64-byte requests"
        ),
        "notes": notes,
    }
    summary = scaling.aggregate(samples)
    markdown = scaling.renderMarkdown({**report, "summary": summary})
    out = Path(opts.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.md").write_text(markdown)
    (out / "scaling.json").write_text(json.dumps({**report, "samples": samples}, indent=1) + "\n")
    if opts.update_readme:
        readme = BENCH / "README.md"
        text = readme.read_text()
        readme.write_text(splice(text, README_START, README_END, markdown))
    sys.stdout.write(markdown)
    sys.stderr.write(f"wrote {out / 'scaling.md'} and {out / 'scaling.json'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
