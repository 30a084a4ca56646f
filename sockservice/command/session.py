# -*- test-case-name: tests.test_commandflow -*-
"""
Each run of a command in a session, and so a process group, of its own: the
run's whole tree is then one signal away, however it forks.

C{reactor.spawnProcess} has no hook to run code between C{fork} and C{exec}
(and may use C{posix_spawn}, which has none), so the child is a tiny Python
program, run with this interpreter and no shell, that calls C{os.setsid()}
and then C{os.execv}s the command: the command keeps the child's PID, which
is also its process group ID, and everything it starts stays in that group
unless it leaves on purpose (C{setsid} again).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import List, Sequence

__all__ = ["SESSIONS", "inSession", "killGroup"]

SESSIONS = hasattr(os, "setsid") and hasattr(os, "killpg") and bool(sys.executable)
"""Whether runs can have sessions of their own here (POSIX, a known interpreter)."""

_LEADER = (
    "import os, sys\n"
    "os.setsid()\n"
    "try:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "except OSError as e:\n"
    "    os.write(2, ('%s: %s\\n' % (sys.argv[1], e.strerror)).encode())\n"
    "    os._exit(127)\n"
)


def inSession(argv: Sequence[str]) -> List[str]:
    """
    @param argv: The command; C{argv[0]} is an absolute path.
    @return: An argv that runs C{argv} as the leader of a new session: the
        program is C{sys.executable}, ignoring the environment, the user's
        site directory and C{site} (so it starts in a few milliseconds).
    """
    return [sys.executable, "-E", "-s", "-S", "-c", _LEADER, *argv]


def killGroup(pgid: int) -> None:
    """
    Send C{SIGKILL} to every process in the group C{pgid}, if any is left.
    """
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
