# -*- test-case-name: tests.test_heap -*-
"""
Keep CPython's garbage collector off the objects a server process starts with.

CPython's collector runs when more container objects were made than freed;
a server with many connections opening at once makes them faster than it
frees them, so it collects: the young generations often, and now and then
the whole heap.  A whole-heap collection walks every object the process
holds, and most of those were made at start (Twisted, the services, their
modules: about 44,000 objects in C{twistd sockservice}), each time for
nothing, since they live as long as the process: 15-20 ms during which no
connection is served.  C{gc.freeze()} (Python 3.7+) moves them to a
generation that collections skip, as long-running Python servers commonly
do.

Like the JIT limit (L{sockservice._fast.jit}), this is a setting of the
whole process, so only C{twistd sockservice}, which owns its process, makes
a L{HeapFreeze} (L{sockservice.tap.makeService}, given no reactor).  PyPy's
collector has no C{freeze} and needs none; there it does nothing.
"""

from __future__ import annotations

import gc
from typing import Any

from twisted.application.service import Service

__all__ = ["HeapFreeze"]


class HeapFreeze(Service):
    """
    Collect once, then freeze every object there is, when started (after
    the services before it: the listeners are up); unfreeze when stopped.
    """

    name = "heap freeze"

    def __init__(self, collector: Any = gc) -> None:
        """
        @param collector: the C{gc} module, or a stand-in for it.
        """
        self._gc = collector

    def startService(self) -> None:
        Service.startService(self)
        freeze = getattr(self._gc, "freeze", None)
        if freeze is not None:
            # What is already garbage goes now: a frozen object is never freed.
            self._gc.collect()
            freeze()

    def stopService(self) -> None:
        Service.stopService(self)
        unfreeze = getattr(self._gc, "unfreeze", None)
        if unfreeze is not None:
            unfreeze()
