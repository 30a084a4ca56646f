"""
Tests for L{sockservice.server.heap}.
"""

import gc

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice.server.heap import HeapFreeze


class _NoFreeze:
    """
    A stand-in for PyPy's C{gc} module (no C{freeze}) that records what it
    is asked.
    """

    def __init__(self):
        self.calls = []

    def collect(self):
        self.calls.append("collect")


class _Collector(_NoFreeze):
    """
    A stand-in for CPython's C{gc} module that records what it is asked.
    """

    def freeze(self):
        self.calls.append("freeze")

    def unfreeze(self):
        self.calls.append("unfreeze")


class HeapFreezeTests(SynchronousTestCase):
    """
    L{HeapFreeze} collects and freezes the heap when started, and unfreezes
    it when stopped.
    """

    def test_startAndStop(self):
        """
        Starting collects first (a frozen object is never freed), then
        freezes; stopping unfreezes.
        """
        collector = _Collector()
        service = HeapFreeze(collector)
        service.startService()
        self.assertTrue(service.running)
        self.assertEqual(collector.calls, ["collect", "freeze"])
        service.stopService()
        self.assertFalse(service.running)
        self.assertEqual(collector.calls, ["collect", "freeze", "unfreeze"])

    def test_noFreeze(self):
        """
        Where the collector cannot freeze (PyPy), nothing is asked of it,
        not even a collection.
        """
        collector = _NoFreeze()
        service = HeapFreeze(collector)
        service.startService()
        service.stopService()
        self.assertEqual(collector.calls, [])

    def test_realCollector(self):
        """
        With CPython's C{gc}, the objects there are when it starts are
        frozen until it stops.
        """
        if not hasattr(gc, "freeze"):
            raise SkipTest("this interpreter's gc has no freeze (PyPy)")
        self.assertEqual(gc.get_freeze_count(), 0)
        service = HeapFreeze()
        service.startService()
        try:
            self.assertGreater(gc.get_freeze_count(), 1000)
        finally:
            service.stopService()
        self.assertEqual(gc.get_freeze_count(), 0)
