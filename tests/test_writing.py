# -*- test-case-name: tests.test_writing -*-
"""
Tests for L{sockservice._fast.writing} without a network: which transports
the fast path applies to.  The fast path itself is tested over real
loopback connections in L{tests.integration.test_writing}.
"""

from twisted.internet import tcp
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice._fast.writing import isPlainTCP


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
