# -*- test-case-name: bench.tests.test_costparse -*-
"""
Running a server for L{bench.costs}: started pinned to CPU 0 (from another
source tree if asked), warmed up, loaded by the generator pinned to CPU 1,
and stopped; and the wrapper that lets a server be profiled on a signal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator

from bench import environment, results, servers

__all__ = ["Bench", "WORK", "profiled"]

WORK = environment.BUILD / "costs"
SERVER_CPU, GEN_CPU = 0, 1

# Run before the server's own code: SIGUSR2 starts, then stops and dumps, a profile.
_PROFILER = """\
import cProfile, signal
_profile, _on = cProfile.Profile(), [False]
def _toggle(signum, frame):
    if _on[0]:
        _profile.disable(); _profile.dump_stats(OUT)
    else:
        _profile.enable()
    _on[0] = not _on[0]
signal.signal(signal.SIGUSR2, _toggle)
"""


class Bench:
    """
    The interpreter, the generator and the options of a run.
    """

    def __init__(self, python: Path, loadgen: Path, opts: argparse.Namespace):
        self.python, self.loadgen, self.opts = python, loadgen, opts
        self.pinned = {SERVER_CPU, GEN_CPU} <= os.sched_getaffinity(0)
        if self.pinned:
            os.sched_setaffinity(0, {GEN_CPU})  # the generator inherits it

    def spec(self, name: str) -> servers.ServerSpec:
        wanted = "sockservice" if name == "tree" else name
        for spec in servers.serverSpecs(str(self.python), None):
            if spec.name == wanted:
                return servers.ServerSpec(name, spec.label, spec.argv)
        raise KeyError(name)

    @contextlib.contextmanager
    def serving(
        self, spec: servers.ServerSpec, ready: float = 60.0
    ) -> Iterator[servers.RunningServer]:
        """
        Start C{spec}, wait until it answers, stop it afterwards.
        """
        env = dict(os.environ)
        if spec.name == "tree":
            env["PYTHONPATH"] = str(Path(self.opts.tree).resolve())
            # Servers run in this checkout with "python -c", which puts the
            # working directory first on sys.path, before PYTHONPATH: without
            # this, "tree" imported this checkout's sockservice (Python 3.11+).
            env["PYTHONSAFEPATH"] = "1"
        cpu = SERVER_CPU if self.pinned else None
        server = servers.startServer(spec, cpu, environment.BUILD / "costs.log", env)
        try:
            server.waitReady(ready)
            yield server
        finally:
            server.stop()

    def load(self, port: int, seconds: float) -> Dict[str, Any]:
        """
        Run the generator for C{seconds} of tcp-crr and return its result.
        """
        argv = [str(self.loadgen), "--mode", "tcp-crr", "--port", str(port), "--conns", "8",
                "--duration", str(seconds), "--warmup", "0"]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        if done.returncode != 0:
            raise RuntimeError(f"the generator failed: {done.stderr.strip()}")
        result = results.parseGeneratorLine(done.stdout)
        if not result["ok"]:
            raise RuntimeError("no connection completed")
        return result

    def warm(self, server: servers.RunningServer) -> None:
        if self.opts.warmup:
            self.load(server.port, self.opts.warmup)
        time.sleep(0.3)


def profiled(spec: servers.ServerSpec, out: Path) -> servers.ServerSpec:
    """
    C{spec} with L{_PROFILER} run first, writing its profile to C{out}.
    """
    python, rest = spec.argv[0], list(spec.argv[1:])
    if rest[0] == "-c":
        main, args = rest[1], rest[2:]
    else:
        script, args = rest[0], rest[1:]
        main = (f"import runpy, sys; sys.argv[0] = {script!r}; "
                f"sys.path.insert(0, {os.path.dirname(script)!r}); "
                f"runpy.run_path({script!r}, run_name='__main__')")  # fmt: skip
    code = _PROFILER.replace("OUT", repr(str(out))) + main
    return servers.ServerSpec(spec.name, spec.label, [python, "-c", code, *args])
