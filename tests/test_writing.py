# -*- test-case-name: tests.test_writing -*-
"""
Tests for L{sockservice._fast.writing} without a network: transports that are
not Twisted TCP connections keep their own methods.  The fast paths themselves
are tested over real loopback connections in L{tests.integration.test_writing}.
"""

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice._fast.writing import closeWhenSent, immediateWriter


class FallbackTests(SynchronousTestCase):
    """
    Other transports keep their own write.
    """

    def test_notTCP(self):
        """
        For a transport that is not a Twisted TCP connection, the writer is
        the transport's own C{write}.
        """
        transport = StringTransport()
        self.assertEqual(immediateWriter(transport), transport.write)

    def test_closeNotTCP(self):
        """
        For a transport that is not a Twisted TCP connection,
        L{closeWhenSent} is C{loseConnection}.
        """
        transport = StringTransport()
        closeWhenSent(transport)
        self.assertTrue(transport.disconnecting)
