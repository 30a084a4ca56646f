"""
Speed tricks on Twisted's internals: the epoll reactor, the immediate write,
the close-when-sent, and PyPy's JIT trace limit.  Each is optional: the
services work the same on Twisted's public path.
"""

__all__: list[str] = []
