# -*- test-case-name: tests.integration.test_datagrams -*-
"""
Tests for L{sockservice._fast.datagrams}: L{DirectEPollReactor}'s UDP ports
read as Twisted's do, on real loopback sockets (the reactor is never run:
each test calls C{doRead} itself).
"""

import errno
import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import udp
from twisted.internet.error import UnsupportedAddressFamily
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice._fast.datagrams import ReadingDatagramPort
from sockservice._fast.reactor import DirectEPollReactor
from sockservice._fast.reactorcheck import closeReactor


class _Recorder(DatagramProtocol):
    noisy = False

    def __init__(self, failFirst=False):
        self.got = []
        self.refused = 0
        self.failFirst = failFirst

    def datagramReceived(self, datagram, addr):
        self.got.append((datagram, addr))
        if self.failFirst and len(self.got) == 1:
            raise ZeroDivisionError("boom")

    def connectionRefused(self):
        self.refused += 1


class ReadingDatagramPortTests(SynchronousTestCase):
    """
    L{DirectEPollReactor} serves UDP with L{ReadingDatagramPort}s.
    """

    def setUp(self):
        self.reactor = DirectEPollReactor()
        self.addCleanup(closeReactor, self.reactor)

    def listen(self, protocol, interface="127.0.0.1", family=socket.AF_INET):
        port = self.reactor.listenUDP(0, protocol, interface, 65535)
        self.addCleanup(port.connectionLost)
        sender = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(sender.close)
        sender.bind((interface, 0))
        return port, sender

    def send(self, port, sender, *datagrams):
        for datagram in datagrams:
            sender.sendto(datagram, port.socket.getsockname())

    def test_listenUDP(self):
        """
        C{listenUDP} gives a L{ReadingDatagramPort}; one C{doRead} hands the
        protocol every waiting datagram with its sender's C{(host, port)}.
        """
        protocol = _Recorder()
        port, sender = self.listen(protocol)
        self.assertIsInstance(port, ReadingDatagramPort)
        self.send(port, sender, b"one", b"two")
        port.doRead()
        self.assertEqual(
            protocol.got, [(b"one", sender.getsockname()), (b"two", sender.getsockname())]
        )

    def test_adopt(self):
        """
        C{adoptDatagramPort} gives a L{ReadingDatagramPort} on a duplicate of
        the descriptor; other families than IPv4 and IPv6 are refused.
        """
        bound = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(bound.close)
        bound.bind(("127.0.0.1", 0))
        bound.setblocking(False)
        protocol = _Recorder()
        port = self.reactor.adoptDatagramPort(bound.fileno(), socket.AF_INET, protocol, 65535)
        self.addCleanup(port.connectionLost)
        self.assertIsInstance(port, ReadingDatagramPort)
        self.assertEqual(port.getHost().port, bound.getsockname()[1])
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sender.close)
        sender.bind(("127.0.0.1", 0))
        sender.sendto(b"x", bound.getsockname())
        port.doRead()
        self.assertEqual(protocol.got, [(b"x", sender.getsockname())])
        self.assertRaises(
            UnsupportedAddressFamily,
            self.reactor.adoptDatagramPort,
            bound.fileno(),
            socket.AF_UNIX,
            protocol,
        )

    def test_ipv6Trimmed(self):
        """
        An IPv6 sender's address is C{(host, port)}, as Twisted gives it.
        """
        if not socket.has_ipv6:
            raise SkipTest("no IPv6 here")
        protocol = _Recorder()
        try:
            port, sender = self.listen(protocol, "::1", socket.AF_INET6)
        except Exception:
            raise SkipTest("no IPv6 loopback here") from None
        self.send(port, sender, b"six")
        port.doRead()
        self.assertEqual(protocol.got, [(b"six", sender.getsockname()[:2])])

    def test_protocolRaises(self):
        """
        A protocol that raises is logged, and the datagrams after go on being
        read.
        """
        protocol = _Recorder(failFirst=True)
        port, sender = self.listen(protocol)
        self.send(port, sender, b"a", b"b")
        port.doRead()
        self.assertEqual([d for d, _ in protocol.got], [b"a", b"b"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_refused(self):
        """
        On a connected port, a datagram refused by its peer is reported to
        the protocol, as Twisted does.
        """
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind(("127.0.0.1", 0))
        address = closed.getsockname()
        closed.close()
        protocol = _Recorder()
        port, _ = self.listen(protocol)
        port.connect(*address)
        port.write(b"x")
        port.doRead()
        self.assertEqual((protocol.refused, protocol.got), (1, []))

    def test_otherErrorRaised(self):
        """
        An error of C{recvfrom} that Twisted does not expect is raised.
        """

        class Broken:
            def recvfrom(self, size):
                raise OSError(errno.EBADF, "bad")

        port, _ = self.listen(_Recorder())
        real, port.socket = port.socket, Broken()
        self.addCleanup(setattr, port, "socket", real)
        self.assertRaises(OSError, port.doRead)

    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12),
        st.integers(min_value=1, max_value=200),
    )
    def test_asTwisted(self, sizes, budget):
        """
        Any datagrams, under any byte budget, are handed over in the same
        calls of C{doRead} as Twisted's C{udp.Port.doRead} hands them.
        """
        protocol = _Recorder()
        port, sender = self.listen(protocol)
        port.maxThroughput = budget
        datagrams = [bytes([97 + i % 26]) * size for i, size in enumerate(sizes)]
        calls = {}
        for doRead in (ReadingDatagramPort.doRead, udp.Port.doRead):
            self.send(port, sender, *datagrams)
            calls[doRead] = []
            while sum(len(call) for call in calls[doRead]) < len(datagrams):
                protocol.got = []
                doRead(port)
                calls[doRead].append(protocol.got)
        self.assertEqual(calls[ReadingDatagramPort.doRead], calls[udp.Port.doRead])
