# -*- test-case-name: bench.tests.test_costparse -*-
"""
Pure reading of what L{bench.costs} collects: C{strace -c} summaries, the
counts of a C{pstats} profile, CPU ticks from C{/proc/PID/stat}, callgrind
totals.  No I/O here, so each is tested on its own.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Tuple

__all__ = [
    "CallCounts",
    "callCounts",
    "callgrindTotal",
    "connectionsIn",
    "statTicks",
    "straceCounts",
]

# A pstats key: (file, line, function name); "~" is the file of builtins.
Key = Tuple[str, int, str]


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
