# -*- test-case-name: bench.tests.test_probe -*-
"""
The probe as a child process of bench/probe.py: its command line, its
C{--json} document, and its resident memory while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.blocking import SIZE

__all__ = ["parseDocument", "probeCommand", "readStatus", "runProbe"]


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
