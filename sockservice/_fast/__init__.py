"""
Speed tricks on Twisted's internals: the epoll reactor, the immediate write,
the close-when-sent, and PyPy's JIT trace limit.  Each is optional: the
services work the same on Twisted's public path.  The services (and the
probe's TCP requests) call only L{sockservice._fast.switch}, which
self-tests the internals at import (L{sockservice._fast.selftest}) and
turns every trick off if one misbehaves.
"""

__all__: list[str] = []
