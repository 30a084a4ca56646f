# -*- test-case-name: tests.test_jit -*-
"""
Let PyPy's JIT compile a connection's whole life as one trace.

PyPy's tracing JIT gives up on a trace longer than its C{trace_limit} (6000
operations by default) and stops inlining the longest function in it.  The
path one textbook client takes through Twisted and sockservice (accept, build
the protocol, read, reply, read the end, close) is longer than that, so on the
default limit it is compiled as several pieces that call each other.  At the
largest limit PyPy accepts, it fits: under the benchmark's tcp-crr load
(C{bench/}), the server spent 11-14 µs of user CPU per connection instead of
17-18 µs, over four alternating runs of each; request/reply on open
connections (tcp-rr, udp-rr) was unchanged.

The limit is a setting of the whole process, so only C{twistd sockservice},
which owns its process, raises it (L{sockservice.tap.makeService}); the
library leaves an embedding program's JIT alone.  On CPython it does nothing.
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
