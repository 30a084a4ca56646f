# -*- test-case-name: tests.test_jit -*-
"""
Let PyPy's JIT compile a connection's whole life as one trace.

PyPy's tracing JIT gives up on a trace longer than its C{trace_limit} (6000
operations by default) and stops inlining the longest function in it.  The
path one textbook client takes through Twisted and sockservice (accept, build
the protocol, read, reply, read the end, close) is longer than that, so on the
default limit it is compiled as several pieces that call each other.  At the
largest limit PyPy accepts, it fits.  Under the benchmark's tcp-crr load
(C{bench/}, 8 s), the JIT gave up on 12 traces at the default limit and on
none at this one; over 12 order-alternating pairs of runs, the user CPU per
connection was lower in 9, by a median of 3 µs (of 9-23 µs).  The kernel's
share, about 30 µs per connection, is untouched, and the total moves within
this machine's noise.  Request/reply on open connections (tcp-rr, udp-rr) was
unchanged.

The limit is a setting of the whole process, so only C{twistd sockservice},
which owns its process, raises it (L{sockservice.tap.makeService}); the
library leaves an embedding program's JIT alone.  It overrides a
C{--jit trace_limit=N} given to PyPy itself: PyPy offers no way to read the
current value.  On CPython it does nothing.
"""

from __future__ import annotations

__all__ = ["TRACE_LIMIT", "raiseTraceLimit"]

#: The longest trace PyPy accepts (a higher value raises an internal error).
TRACE_LIMIT = 16384


def raiseTraceLimit() -> bool:
    """
    Raise PyPy's JIT trace limit to L{TRACE_LIMIT}.

    @return: whether it was raised: C{False} where there is no PyPy JIT.
    """
    try:
        import pypyjit
    except ImportError:
        return False
    pypyjit.set_param(f"trace_limit={TRACE_LIMIT}")
    return True
