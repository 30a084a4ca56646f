"""
Tests for L{sockservice._fast.jit}.
"""

import sys
from types import ModuleType
from unittest import mock

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice._fast.jit import TRACE_LIMIT, raiseTraceLimit


class RaiseTraceLimitTests(SynchronousTestCase):
    """
    L{raiseTraceLimit} sets PyPy's JIT trace limit, where there is one.
    """

    def withModule(self, module):
        """
        Make C{import pypyjit} give C{module} (L{None}: fail) for this test.
        """
        patcher = mock.patch.dict(sys.modules, {"pypyjit": module})
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_pypy(self):
        """
        With a C{pypyjit} module, the trace limit is set to L{TRACE_LIMIT}.
        """
        params = []
        fake = ModuleType("pypyjit")
        fake.set_param = params.append
        self.withModule(fake)
        self.assertTrue(raiseTraceLimit())
        self.assertEqual(params, ["trace_limit=16384"])
        self.assertEqual(TRACE_LIMIT, 16384)

    def test_noJit(self):
        """
        Without one (CPython, a PyPy built without a JIT) it does nothing.
        """
        self.withModule(None)
        self.assertFalse(raiseTraceLimit())

    def test_acceptedByPyPy(self):
        """
        The real PyPy accepts the limit: it is not above PyPy's maximum,
        which would raise an internal error.
        """
        try:
            import pypyjit  # noqa: F401
        except ImportError:
            raise SkipTest("not PyPy")
        self.assertTrue(raiseTraceLimit())
