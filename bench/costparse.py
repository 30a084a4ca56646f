# -*- test-case-name: bench.tests.test_costparse -*-
"""
Pure reading of what L{bench.costs} collects: C{strace -c} summaries, the
counts of a C{pstats} profile, CPU ticks from C{/proc/PID/stat}, callgrind
totals; and the loads it offers (L{Load}).  No I/O here, so each is tested on
its own.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "LOADS",
    "CallCounts",
    "Load",
    "callCounts",
    "callgrindCalls",
    "callgrindTotal",
    "connectionsIn",
    "statTicks",
    "straceCounts",
]

# A pstats key: (file, line, function name); "~" is the file of builtins.
Key = Tuple[str, int, str]


class Load:
    """
    A load the generator offers, and what its costs are divided by.

    @ivar name: the load's name (C{--load}).
    @ivar args: the generator's arguments for it, after C{--port}.
    @ivar unit: what one unit of it is (C{"connection"}, C{"request"}).
    @ivar perUnit: for each server, the Python function it calls once per
        unit; a server without one is divided by the generator's count.
    @ivar syscall: the system call made once per unit, whose successful calls
        count the units in a C{strace} summary; L{None}: the generator's
        count.
    @ivar cfunction: the C function of CPython's socket module called once
        per unit, whose calls count the units in a callgrind profile (where
        a server makes none, the generator's count).
    """

    def __init__(
        self,
        name: str,
        args: Tuple[str, ...],
        unit: str,
        perUnit: Dict[str, str],
        syscall: Optional[str] = None,
        cfunction: Optional[str] = None,
    ):
        self.name, self.args, self.unit = name, args, unit
        self.perUnit, self.syscall, self.cfunction = perUnit, syscall, cfunction

    def generatorArgs(self, port: int, seconds: float) -> List[str]:
        """
        The generator's arguments for C{seconds} of this load on C{port},
        measured from the start (no warm-up of its own).
        """
        return ["--mode", self.name, "--port", str(port), *self.args,
                "--duration", str(seconds), "--warmup", "0"]  # fmt: skip

    def units(self, counted: int, generator: int) -> int:
        """
        The units of load a run served: what the server counted
        (C{counted}: calls of its per-unit function, or of L{syscall}) if
        anything, else what the generator completed.
        """
        return counted or generator


#: The loads of L{bench.costs}, by name.
LOADS = {
    load.name: load
    for load in (
        Load(
            "tcp-crr",
            ("--conns", "8"),
            "connection",
            {
                "sockservice": "buildProtocol",
                "tree": "buildProtocol",
                "epoll": "close",
                "uvloop": "connection_made",
            },
            "accept4",
        ),
        Load(
            "tcp-rr",
            ("--conns", "50"),
            "request",
            {
                "sockservice": "dataReceived",
                "tree": "dataReceived",
                "uvloop": "data_received",
            },
            cfunction="sock_send",
        ),
        Load(
            "udp-rr",
            ("--outstanding", "32"),
            "datagram",
            {
                "sockservice": "datagramReceived",
                "tree": "datagramReceived",
                "uvloop": "datagram_received",
            },
            cfunction="sock_sendto",
        ),
    )
}


def straceCounts(text: str) -> Dict[str, Tuple[int, int]]:
    """
    The calls and failed calls of each system call in a C{strace -c} summary.

    A row is C{% time, seconds, usecs/call, calls, [errors], syscall}; the
    C{total} row, whose layout varies between strace versions, is skipped.

    @return: C{{name: (calls, errors)}}.
    """
    rows: Dict[str, Tuple[int, int]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) not in (5, 6) or fields[-1] == "total":
            continue
        try:
            float(fields[0])
            numbers = [int(f) for f in fields[2:-1]]
        except ValueError:
            continue
        calls = numbers[1]
        errors = numbers[2] if len(numbers) == 3 else 0
        rows[fields[-1]] = (calls, errors)
    return rows


class CallCounts:
    """
    Call counts of a profile.

    @ivar total: every call counted.
    @ivar python: calls of functions written in Python (not builtins).
    @ivar byFunction: C{(label, calls)}, most called first; the label is
        C{file:line(name)} with the file's base name, or C{name} for builtins.
    """

    def __init__(self, total: int, python: int, byFunction: List[Tuple[str, int]]):
        self.total = total
        self.python = python
        self.byFunction = byFunction


def _label(key: Key) -> str:
    file, line, name = key
    if file == "~":
        return re.sub(r" at 0x[0-9a-f]+", "", name)  # the same in every run
    return f"{os.path.basename(file)}:{line}({name})"


def callCounts(stats: Mapping[Key, Tuple[Any, ...]]) -> CallCounts:
    """
    Count the calls in C{pstats.Stats.stats}, whose values start
    C{(primitive calls, all calls, ...)}.
    """
    total = python = 0
    rows = []
    for key, value in stats.items():
        calls = int(value[1])
        total += calls
        if key[0] != "~":
            python += calls
        rows.append((_label(key), calls))
    rows.sort(key=lambda row: (-row[1], row[0]))
    return CallCounts(total, python, rows)


def connectionsIn(stats: Mapping[Key, Tuple[Any, ...]], function: str) -> int:
    """
    How many connections a profile saw: the calls of the Python function
    named C{function} called most (once per connection: C{buildProtocol} for
    a Twisted server, C{close} for the peers); 0 if there is none.
    """
    counts = [int(v[1]) for k, v in stats.items() if k[2] == function and k[0] != "~"]
    return max(counts, default=0)


def statTicks(stat: str, userOnly: bool = False) -> int:
    """
    The CPU clock ticks in the text of C{/proc/PID/stat}: user plus system
    time, or user time only.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    user, system = int(fields[11]), int(fields[12])
    return user if userOnly else user + system


def callgrindTotal(text: str) -> int:
    """
    The instructions counted in a callgrind output file (its C{totals:} or
    C{summary:} line); 0 if it has neither.
    """
    total = 0
    for line in text.splitlines():
        if line.startswith(("totals:", "summary:")):
            total = max(total, int(line.split()[1]))
    return total


def callgrindCalls(text: str, function: str) -> int:
    """
    How many times the functions named C{function} were called, in a
    callgrind output file (names compressed as C{(id) name} once, then
    C{(id)}).
    """
    names: Dict[str, str] = {}
    called: Optional[str] = None
    total = 0
    for line in text.splitlines():
        match = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
        if match:
            kind, ident, name = match.groups()
            if name:
                names[ident] = name.strip()
            called = ident if kind == "cfn" else None
        elif line.startswith("calls=") and called is not None:
            if names.get(called) == function:
                total += int(line[6:].split()[0])
            called = None
    return total
