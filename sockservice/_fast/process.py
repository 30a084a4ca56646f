# -*- test-case-name: tests.test_tap -*-
"""
Set up the process that C{twistd sockservice} serves in: install
L{sockservice._fast.reactor}'s reactor and raise PyPy's JIT trace limit.
"""

from __future__ import annotations

import sys
from typing import Any

from sockservice._fast.jit import raiseTraceLimit

__all__ = ["serverReactor"]


def serverReactor() -> Any:
    """
    The global reactor, tuned for a server process: L{sockservice._fast.reactor}'s,
    unless one is installed already (C{twistd -r}, a test runner) or this
    system has no epoll; and PyPy's JIT with a trace limit long enough for a
    connection's path (L{sockservice._fast.jit}).
    """
    if "twisted.internet.reactor" not in sys.modules:
        try:
            from sockservice._fast.reactor import install
        except ImportError:
            pass  # no epoll here: Twisted's default will do
        else:
            install()
    from twisted.internet import reactor

    raiseTraceLimit()
    return reactor
