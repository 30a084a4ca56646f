# -*- test-case-name: tests.test_switch -*-
"""
Tests for L{sockservice._fast.switch}: one switch turns every speed trick on
or off, and the TCP service works the same either way.
"""

from types import SimpleNamespace

import twisted
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice._fast import switch
from sockservice._fast.reactorcheck import closeReactor
from sockservice._fast.selftest import checkInternals
from sockservice._fast.writing import ImmediateWriter


class SwitchTests(SynchronousTestCase):
    """
    The switch is set once, at import, from the self-test; when the self-test
    fails it says why in one line.
    """

    def test_onHere(self):
        """
        On this Twisted the self-test passes and the tricks are on.
        """
        self.assertIsNone(checkInternals())
        self.assertIsNone(switch.problem)
        self.assertTrue(switch.enabled)

    def test_offOnProblem(self):
        """
        A problem turns the switch off and is logged once, on one line,
        naming the Twisted version and what failed.
        """
        events = []
        self.patch(switch, "log", Logger(observer=events.append))
        self.assertFalse(switch._decide("a close with nothing queued did not close"))
        [event] = events
        line = formatEvent(event)
        self.assertNotIn("\n", line)
        self.assertIn(f"Twisted {twisted.__version__}", line)
        self.assertIn("a close with nothing queued did not close", line)
        self.assertEqual(event["log_level"].name, "warn")

    def test_onQuietly(self):
        """
        No problem: the switch is on and nothing is logged.
        """
        events = []
        self.patch(switch, "log", Logger(observer=events.append))
        self.assertTrue(switch._decide(None))
        self.assertEqual(events, [])


class FastWriterTests(SynchronousTestCase):
    """
    L{switch.fastWriter} gives an L{ImmediateWriter} only for plain Twisted
    TCP while the switch is on; otherwise the transport itself.
    """

    def test_notTCP(self):
        """
        Any transport but plain Twisted TCP is its own writer.
        """
        transport = StringTransport()
        self.assertIs(switch.fastWriter(transport), transport)

    def test_tcp(self):
        """
        A Twisted TCP connection gets an L{ImmediateWriter} while the switch
        is on, and is its own writer while it is off.
        """
        from twisted.internet import tcp

        transport = tcp.Connection.__new__(tcp.Connection)
        transport.socket = SimpleNamespace(send=len)
        self.patch(switch, "enabled", True)
        writer = switch.fastWriter(transport)
        self.assertIsInstance(writer, ImmediateWriter)
        self.assertIs(writer.connection, transport)
        self.patch(switch, "enabled", False)
        self.assertIs(switch.fastWriter(transport), transport)


class InstallReactorTests(SynchronousTestCase):
    """
    L{switch.install} installs the fast epoll reactor while the switch is on,
    and Twisted's own while it is off.
    """

    def installed(self, enabled):
        try:
            import sockservice._fast.reactor  # noqa: F401
        except ImportError:
            raise SkipTest("no epoll here") from None
        installed = []
        self.patch(switch, "installReactor", installed.append)
        self.patch(switch, "enabled", enabled)
        switch.install()
        [reactor] = installed
        closeReactor(reactor)
        return type(reactor)

    def test_on(self):
        """
        On: L{DirectEPollReactor}.
        """
        from sockservice._fast.reactor import DirectEPollReactor

        self.assertIs(self.installed(True), DirectEPollReactor)

    def test_off(self):
        """
        Off: Twisted's L{EPollReactor}.
        """
        from twisted.internet.epollreactor import EPollReactor

        self.assertIs(self.installed(False), EPollReactor)


class TuneJITTests(SynchronousTestCase):
    """
    L{switch.tuneJIT} tunes PyPy's JIT only while the switch is on.
    """

    def test_onOff(self):
        calls = []
        self.patch(switch, "raiseTraceLimit", lambda: calls.append(1) or True)
        self.patch(switch, "enabled", False)
        self.assertFalse(switch.tuneJIT())
        self.assertEqual(calls, [])
        self.patch(switch, "enabled", True)
        self.assertTrue(switch.tuneJIT())
        self.assertEqual(calls, [1])
