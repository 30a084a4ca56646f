"""
One benchmark run: every round, every server, every measurement, with the
generator and the server pinned to their CPUs, noisy runs repeated, and a
progress line on stderr.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import environment, results, servers

__all__ = ["Progress", "waitQuiet", "measureOnce", "measureQuietly", "runAll"]


class Progress:
    """
    One updating line on stderr: step, round, server, measurement, time left.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def show(self, text: str) -> None:
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else None
        line = f"[{self.done:3d}/{self.total}] {text}  {elapsed // 60:.0f}:{elapsed % 60:02.0f} elapsed"
        if left is not None:
            line += f", ~{left // 60:.0f}:{left % 60:02.0f} left"
        if self.tty:
            sys.stderr.write("\r\x1b[K" + line[: os.get_terminal_size(2).columns - 1])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def step(self) -> None:
        self.done += 1

    def finish(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.write(text + "\n")


def _pin(cpu: Optional[int]):
    return (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None


def waitQuiet(server: servers.RunningServer, limit: float = 10.0, timeout: float = 20.0) -> None:
    """
    Wait until the server (all its processes) uses less than C{limit} percent
    of a core over a 0.1 s window: after the idle run a thread-per-connection
    server spends seconds ending its 5,000 threads, and a server with
    C{--workers} starts its workers, neither of which must be measured.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpu0, t0 = servers.readTreeCpuSeconds(server.pid), time.monotonic()
        time.sleep(0.1)
        cpu1, t1 = servers.readTreeCpuSeconds(server.pid), time.monotonic()
        if 100.0 * (cpu1 - cpu0) / (t1 - t0) < limit:
            return


def measureOnce(
    m: results.Measurement,
    server: servers.RunningServer,
    loadgen: Path,
    opts: argparse.Namespace,
) -> Dict[str, float]:
    """
    Run the generator once against C{server} and return the sample's values.
    """
    argv = [str(loadgen), "--mode", m.mode, "--port", str(server.port), *m.args]
    if m.mode == "idle":
        return _measureIdle(m, argv + ["--conns", str(opts.idle_conns)], server, opts)
    warmup = opts.jit_warmup if server.spec.jit else opts.warmup
    argv += ["--duration", str(opts.duration), "--warmup", str(warmup)]
    gen = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(opts.gen_cpu),
    )
    # Sample the server's CPU time, and how busy both CPUs are, across the
    # measured window (approximately: the generator times the window itself).
    cpus = [c for c in (opts.server_cpu, opts.gen_cpu) if c is not None]
    time.sleep(warmup)
    cpu0, busy0, t0 = (
        servers.readCpuSeconds(server.pid),
        servers.readCpuBusy(cpus),
        time.monotonic(),
    )
    time.sleep(opts.duration)
    cpu1, busy1, t1 = (
        servers.readCpuSeconds(server.pid),
        servers.readCpuBusy(cpus),
        time.monotonic(),
    )
    try:
        out, err = gen.communicate(timeout=warmup + opts.duration + 30)
    except subprocess.TimeoutExpired:
        gen.kill()
        gen.communicate()
        raise RuntimeError("the generator did not finish")
    if gen.returncode != 0:
        raise RuntimeError(f"the generator failed ({gen.returncode}): {err.strip()}")
    result = results.parseGeneratorLine(out)
    serverPct = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    values = results.sampleValues(m, result, serverCpuPct=serverPct)
    if cpus:
        busyPct = 100.0 * (busy1 - busy0) / (t1 - t0)
        values["other_cpu_pct"] = max(0.0, busyPct - serverPct - values["gen_cpu_pct"])
    return values


def measureQuietly(
    m: results.Measurement,
    server: servers.RunningServer,
    loadgen: Path,
    opts: argparse.Namespace,
    progress: "Progress",
    where: str,
) -> Dict[str, float]:
    """
    L{measureOnce}, repeated up to C{opts.retries} times while other
    processes used more than C{opts.noise_limit} percent of a core on the
    benchmark's CPUs; the quietest attempt, with C{retries} set to the
    number of repeats made.
    """
    best: Optional[Dict[str, float]] = None
    attempt = 0
    while True:
        waitQuiet(server)
        values = measureOnce(m, server, loadgen, opts)
        if best is None or values.get("other_cpu_pct", 0.0) < best.get("other_cpu_pct", 0.0):
            best = values
        if best.get("other_cpu_pct", 0.0) <= opts.noise_limit or attempt >= opts.retries:
            break
        attempt += 1
        progress.show(f"{where}  {m.title}  (other load: retry {attempt})")
        time.sleep(1.0)  # let a burst of other work pass
    best["retries"] = float(attempt)
    return best


def _measureIdle(
    m: results.Measurement,
    argv: List[str],
    server: servers.RunningServer,
    opts: argparse.Namespace,
) -> Dict[str, float]:
    """
    Open the idle connections, read the server's RSS with them open, release them.
    """
    before = servers.readRss(server.pid)
    gen = subprocess.Popen(
        argv + ["--hold", "120"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(opts.gen_cpu),
    )
    try:
        ready, _, _ = select.select([gen.stdout], [], [], 90)
        line = gen.stdout.readline() if ready else ""
        time.sleep(0.3)  # let the server finish its last replies
        after = servers.readRss(server.pid)
    finally:
        gen.stdin.close()
        try:
            gen.wait(30)
        except subprocess.TimeoutExpired:
            gen.kill()
            gen.wait()
    if not line:
        raise RuntimeError(f"the idle generator printed nothing: {gen.stderr.read().strip()}")
    values = results.sampleValues(m, results.parseGeneratorLine(line), before, after)
    return values


def runAll(
    specs: Sequence[servers.ServerSpec],
    ms: Sequence[results.Measurement],
    loadgen: Path,
    opts: argparse.Namespace,
    notes: List[str],
) -> List[Dict[str, Any]]:
    """
    Every round, every server (rotating the order each round), every
    measurement; the samples.
    """
    samples: List[Dict[str, Any]] = []
    progress = Progress(opts.rounds * len(specs) * len(ms))
    logPath = environment.BUILD / "servers.log"
    logPath.write_bytes(b"")
    failures: Dict[str, str] = {}
    for r in range(opts.rounds):
        order = list(specs[r % len(specs) :]) + list(specs[: r % len(specs)])
        for spec in order:
            where = f"round {r + 1}/{opts.rounds}  {spec.label}"
            progress.show(f"{where}  starting")
            server = servers.startServer(spec, opts.server_cpu, logPath)
            try:
                server.waitReady()
            except RuntimeError as e:
                failures[spec.name] = (
                    f"{spec.label} did not start ({e}); see bench/build/servers.log"
                )
                server.stop()
                for _ in ms:
                    progress.step()
                continue
            try:
                for m in ms:
                    progress.show(f"{where}  {m.title}")
                    try:
                        values = measureQuietly(m, server, loadgen, opts, progress, where)
                        samples.append(
                            {
                                "server": spec.name,
                                "measurement": m.key,
                                "round": r + 1,
                                "values": values,
                            }
                        )
                    except (RuntimeError, results.GeneratorOutputError) as e:
                        failures[f"{spec.name}/{m.key}"] = f"{spec.label}, {m.title}: {e}"
                    if not server.alive():
                        failures[spec.name] = f"{spec.label} died during {m.title}"
                        break
                    progress.step()
            finally:
                server.stop()
    progress.finish(f"measured {len(samples)} samples in {time.monotonic() - progress.start:.0f} s")
    notes.extend(failures.values())
    return samples
