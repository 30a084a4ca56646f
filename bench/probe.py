#!/usr/bin/env python3
# -*- test-case-name: bench.tests.test_probe -*-
"""
The probe's own cost: C{sockservice-client probe} against C{twistd -n
sockservice} on loopback, next to a minimal blocking-socket client against the
same server; the highest rate it sustains with C{--window 32 --rate 0}; and
the peak memory of a 1,000,000-request run.  Prints a Markdown table.  See
bench/README.md.

    python3 bench/probe.py                 # about two minutes on 2 cores
    python3 bench/probe.py --quick         # a smoke run (20,000, not 1,000,000)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers  # noqa: E402
from bench.report import formatNumber, markdownTable  # noqa: E402

BENCH = Path(__file__).resolve().parent
SIZE = 64


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
    p.add_argument("--quick", action="store_true", help="smoke run: 2000, 20000 and 20000")
    p.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter with sockservice installed, for server and probe",
    )
    return p.parse_args(argv)  # fmt: skip


def percentile(values: Sequence[float], level: float) -> float:
    """
    The C{level} percentile of C{values} (nearest rank, as HdrHistogram
    reports it): the smallest value with at least C{level}% at or below it.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * level // 100))
    return ordered[int(rank) - 1]


def payload(size: int = SIZE) -> bytes:
    """
    C{size} lowercase letters, as the probe sends.
    """
    return (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]


def blockingUDP(port: int, count: int, size: int = SIZE) -> List[float]:
    """
    Round trips of the textbook UDP client (C{sendto}, then C{recv}), in
    microseconds.
    """
    request, expected = payload(size), payload(size).upper()
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        for _ in range(count):
            start = time.perf_counter_ns()
            s.sendto(request, ("127.0.0.1", port))
            reply = s.recv(65535)
            elapsed = time.perf_counter_ns() - start
            if reply != expected:
                raise RuntimeError(f"bad UDP reply {reply!r}")
            times.append(elapsed / 1000)
    return times


def blockingTCP(port: int, count: int, size: int = SIZE) -> List[float]:
    """
    Round trips of a blocking TCP client on one connection (C{sendall} one
    line of C{size} letters, read the reply line), in microseconds.
    """
    request = payload(size) + b"\n"
    expected = request.upper()
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            start = time.perf_counter_ns()
            s.sendall(request)
            reply = b""
            while len(reply) < len(expected):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed")
                reply += chunk
            elapsed = time.perf_counter_ns() - start
            if reply != expected:
                raise RuntimeError(f"bad TCP reply {reply!r}")
            times.append(elapsed / 1000)
    return times


def probeCommand(python: str, protocol: str, port: int, *extra: str) -> List[str]:
    """
    C{sockservice-client probe} (as C{python -m sockservice}) with C{--json}.
    """
    return [python, "-m", "sockservice", "probe", protocol, "--host", "127.0.0.1",
            "--port", str(port), "--size", str(SIZE), "--json", *extra]  # fmt: skip


def readStatus(pid: int, field: str) -> Optional[int]:
    """
    A C{Vm...} field of C{/proc/PID/status} in bytes, or L{None} once the
    process has ended.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def runProbe(command: Sequence[str], sample: float = 0.5) -> Dict[str, Any]:
    """
    Run the probe to its end; return its JSON document, with C{"rss"}: its
    resident memory sampled every C{sample} seconds (C{[seconds from the
    start, VmRSS in bytes]}), and C{"peak_rss"}: its peak (the larger of
    C{ru_maxrss} of this very child, from C{wait4}, and the last C{VmHWM}
    read).

    @raise RuntimeError: when it fails or writes no document.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output: Dict[str, bytes] = {}

    def drain(name: str) -> None:
        output[name] = getattr(process, name).read()

    readers = [threading.Thread(target=drain, args=(name,)) for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    rss: List[List[float]] = []
    peak = 0
    started = time.monotonic()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        now = readStatus(process.pid, "VmRSS")
        if now is not None:
            rss.append([round(time.monotonic() - started, 3), now])
        peak = max(peak, readStatus(process.pid, "VmHWM") or 0)
        time.sleep(sample)
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    document = parseDocument(process.returncode, output["stdout"], output["stderr"])
    document["rss"] = rss
    document["peak_rss"] = max(peak, usage.ru_maxrss * 1024)
    return document


def parseDocument(status: int, stdout: bytes, stderr: bytes) -> Dict[str, Any]:
    """
    The probe's C{--json} document from its output.

    @raise RuntimeError: it exited with a status other than 0, or wrote no
        JSON object; the message has its last line on standard error.
    """
    last = (stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
    if status != 0:
        raise RuntimeError(f"probe exited with status {status}: {last}")
    try:
        document = json.loads(stdout)
    except ValueError:
        raise RuntimeError(f"probe wrote no JSON document: {last}") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise RuntimeError("probe wrote a JSON document that is not version 1")
    return document


def latencyRow(blocking: Sequence[float], probe: Mapping[str, Any]) -> Dict[str, Any]:
    """
    One protocol's overhead figures: the blocking client's p50 and the
    probe's, in microseconds, and their ratio.
    """
    mine = float(probe["latency_us"]["p50"])
    theirs = percentile(blocking, 50)
    return {"blocking_p50_us": theirs, "blocking_count": len(blocking), "probe_p50_us": mine,
            "probe_count": probe["summary"]["answered"], "ratio": mine / theirs}  # fmt: skip


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


def renderMarkdown(results: Mapping[str, Any]) -> str:
    """
    The Markdown report: the context, the overhead table and the long runs.
    """
    lines = [f"Machine: {results['machine']}; {results['date']}; `{results['command']}`.", ""]
    latency, rate, memory = results["latency"], results["rate"], results["memory"]
    protocols = [p for p in ("udp", "tcp") if p in latency or p in rate]
    rows = []
    if latency:
        rows.append(["blocking-socket client, p50"]
                    + [f"{latency[p]['blocking_p50_us']:.1f} µs" if p in latency else "–"
                       for p in protocols])  # fmt: skip
        rows.append(["probe `--window 1 --rate 0`, p50"]
                    + [f"{latency[p]['probe_p50_us']:.1f} µs" if p in latency else "–"
                       for p in protocols])  # fmt: skip
        rows.append(["probe / blocking (target ≤ 1.5×)"]
                    + [f"{latency[p]['ratio']:.2f}×" if p in latency else "–"
                       for p in protocols])  # fmt: skip
    if rate:
        rows.append(["probe `--window 32 --rate 0`, sustained"]
                    + [f"{formatNumber(rate[p]['rate_per_s'])} req/s, {rate[p]['loss_pct']}% lost"
                       if p in rate else "–" for p in protocols])  # fmt: skip
    lines += markdownTable(["64-byte requests on loopback", *[p.upper() for p in protocols]], rows)
    if latency:
        counts = ", ".join(f"{p.upper()} {latency[p]['probe_count']}" for p in latency)
        lines += [
            "",
            f"Latency runs: {counts} requests each (p50 over all of them, as the probe reports).",
        ]
    if memory:
        lines += ["", *markdownTable(
            ["long run, `--window 32 --rate 0`", "requests", "elapsed", "rate", "lost",
             "probe RSS at 10%", "at the end", "peak (VmHWM)"],
            [[p.upper(), f"{m['count']:,}", f"{m['elapsed_s']:.1f} s", f"{formatNumber(m['rate_per_s'])} req/s",
              f"{m['sent'] - m['answered']}", _mib(m["rss_early"]), _mib(m["rss_end"]),
              _mib(m["peak_rss"])] for p, m in memory.items()])]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parseArgs(argv)
    if opts.quick:
        opts.count, opts.rate_count, opts.long = 2000, 20000, 20000
    results: Dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python3 bench/probe.py" + ("".join(f" {a}" for a in (argv or sys.argv[1:]))),
        "latency": {}, "rate": {}, "memory": {},
    }  # fmt: skip
    (BENCH / "results").mkdir(exist_ok=True)
    spec = servers.ServerSpec("sockservice", "sockservice", servers.sockserviceCommand(opts.python))
    server = servers.startServer(spec, None, BENCH / "results" / "probe-server.log")
    try:
        server.waitReady()
        port = server.port
        for protocol, blocking in (("udp", blockingUDP), ("tcp", blockingTCP)):
            print(f"{protocol}: blocking client and probe, {opts.count} each", file=sys.stderr)
            theirs = blocking(port, opts.count)
            window1 = runProbe(probeCommand(opts.python, protocol, port, "--window", "1",
                                            "--rate", "0", "--count", str(opts.count)))  # fmt: skip
            results["latency"][protocol] = latencyRow(theirs, window1)
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
    except RuntimeError as error:
        print(f"bench/probe.py: {error}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    (BENCH / "results" / "probe.json").write_text(json.dumps(results, indent=2) + "\n")
    print(renderMarkdown(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
