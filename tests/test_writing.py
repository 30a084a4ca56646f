# -*- test-case-name: tests.test_writing -*-
"""
Tests for L{sockservice._fast.writing} without a network: which transports
the fast path applies to.  The fast path itself is tested over real
loopback connections in L{tests.integration.test_writing}.
"""

from twisted.internet import error, main, tcp
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sockservice._fast.writing import _DONE, isPlainTCP


class PlainTCPTests(SynchronousTestCase):
    """
    L{isPlainTCP} recognises the only transports L{ImmediateWriter} knows.
    """

    def test_notTCP(self):
        """
        A transport that is not a Twisted TCP connection is not plain TCP.
        """
        self.assertFalse(isPlainTCP(StringTransport()))

    def test_tls(self):
        """
        A Twisted TCP connection that has started TLS is not plain TCP.
        """
        transport = tcp.Connection.__new__(tcp.Connection)
        self.assertTrue(isPlainTCP(transport))
        transport.TLS = True
        self.assertFalse(isPlainTCP(transport))


class ConnectionDoneTests(SynchronousTestCase):
    """
    The failure L{ImmediateWriter.loseConnection} ends connections with is
    C{Failure(CONNECTION_DONE)}, answering L{Failure.check} as that does.
    """

    def test_check(self):
        """
        Asked twice, or by name, it answers as a fresh C{Failure} would.
        """
        fresh = Failure(main.CONNECTION_DONE)
        questions = [
            (error.ConnectionDone,),
            (error.ConnectionAborted,),
            (error.ConnectionAborted, error.ConnectionLost),
            (error.ConnectionLost, error.ConnectionDone),
            ("twisted.internet.error.ConnectionDone",),
            (),
        ]
        for question in questions * 2:
            self.assertIs(_DONE.check(*question), fresh.check(*question))
        self.assertIs(_DONE.type, error.ConnectionDone)
        self.assertIsInstance(_DONE, Failure)

    def test_unhashable(self):
        """
        A question it cannot remember is still answered.
        """
        self.assertIsNone(_DONE.check([error.ConnectionDone]))
