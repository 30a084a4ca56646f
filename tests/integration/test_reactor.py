# -*- test-case-name: tests.integration.test_reactor -*-
"""
Tests for L{sockservice._fast.reactor}: Twisted's own reactor conformance tests
run against L{DirectEPollReactor}, and its event dispatch.
"""

import os
import shutil
import socket
import tempfile

from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionFdescWentAway
from twisted.internet.main import CONNECTION_LOST
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.test import test_core, test_process, test_tcp, test_time
from twisted.internet.test.reactormixins import ReactorBuilder
from twisted.logger import globalLogPublisher
from twisted.python import context, log
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice._fast import connection
from sockservice._fast.accepting import AcceptedConnection, AcceptingPort, ListeningSocket
from sockservice._fast.reactor import DirectEPollReactor
from sockservice._fast.reactorcheck import closeReactor

try:
    from twisted.internet.test import test_udp
except ImportError:  # PyPy 3.9's socket has no if_nameindex, which it imports
    test_udp = None

_REACTORS = ["sockservice._fast.reactor.DirectEPollReactor"]


def _mktemp(self):
    """
    A path in a fresh temporary directory, removed after the test (trial's
    C{mktemp} would write into the checkout under pytest).
    """
    directory = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, directory, True)
    return os.path.join(directory, "temp")


def _againstDirectEPoll(builder, **extra):
    """
    Make C{builder}'s test cases for L{DirectEPollReactor} only, and add
    them to this module.
    """
    body = {"_reactors": _REACTORS, "__module__": __name__, "mktemp": _mktemp, **extra}
    globals().update(type(builder.__name__, (builder,), body).makeTestCaseClasses())


def _skipChangeUID(self):
    raise SkipTest("as root the child runs as uid 1, which may not reach this interpreter")


for _builder in [
    test_tcp.TCPConnectionTestsBuilder,
    test_tcp.TCPPortTestsBuilder,
    test_tcp.TCP4ClientTestsBuilder,
    test_tcp.TCPTransportTestsBuilder,
    test_tcp.AbortConnectionTests,
    test_core.SystemEventTestsBuilder,
    test_time.TimeTestsBuilder,
    *([test_udp.UDPServerTestsBuilder] if test_udp else []),
]:
    _againstDirectEPoll(_builder)
_againstDirectEPoll(
    test_process.ProcessTestsBuilder,
    **({"test_changeUID": _skipChangeUID} if os.getuid() == 0 else {}),
)


class _Descriptor:
    """
    A readable end of a socket pair that records the log system it was
    served under, and can misbehave.
    """

    def __init__(self, testCase, prefix, lostFails=False):
        self.socket, self.peer = socket.socketpair()
        testCase.addCleanup(self.socket.close)
        testCase.addCleanup(self.peer.close)
        self.prefix = prefix
        self.lostFails = lostFails
        self.system = None

    def fileno(self):
        return self.socket.fileno()

    def logPrefix(self):
        if self.prefix is None:
            raise RuntimeError("no prefix")
        return self.prefix

    def doRead(self):
        self.system = context.get(log.ILogContext)["system"]
        self.socket.recv(100)
        return CONNECTION_LOST if self.lostFails else None

    def connectionLost(self, reason):
        raise ZeroDivisionError("from connectionLost")


class DispatchTestsBuilder(ReactorBuilder):
    """
    L{DirectEPollReactor} serves every event of a batch under its
    descriptor's log prefix, even when one of them fails.
    """

    _reactors = _REACTORS

    def serveOneBatch(self, *descriptors):
        reactor = self.buildReactor()
        for descriptor in descriptors:
            descriptor.peer.send(b"x")
            reactor.addReader(descriptor)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        reactor.doPoll(0)
        for descriptor in descriptors:
            reactor.removeReader(descriptor)
        return [e for e in events if e.get("isError")]

    def test_systemIsPrefix(self):
        """
        While an event is handled, the legacy log context names the
        descriptor; outside, it is as it was.
        """
        first, second = _Descriptor(self, "first"), _Descriptor(self, "second")
        self.assertEqual(self.serveOneBatch(first, second), [])
        self.assertEqual((first.system, second.system), ("first", "second"))
        self.assertEqual(context.get(log.ILogContext)["system"], "-")

    def test_failureLoggedAsDescriptors(self):
        """
        An error escaping a descriptor's handling is logged under its prefix,
        and the rest of the batch is still served.
        """
        failing = _Descriptor(self, "failing", lostFails=True)
        other = _Descriptor(self, "other")
        errors = self.serveOneBatch(failing, other)
        self.assertEqual([e["log_system"] for e in errors], ["failing"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(other.system, "other")

    def test_buggyLogPrefix(self):
        """
        A descriptor whose C{logPrefix} raises is still served, as Twisted's
        reactors do, and the error is logged.
        """
        buggy = _Descriptor(self, None)
        errors = self.serveOneBatch(buggy)
        self.assertEqual(buggy.system, "(buggy logPrefix method)")
        self.assertEqual(len(errors), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_logstr(self):
        """
        A descriptor whose C{logPrefix} is L{tcp.Connection}'s is served
        under its C{logstr}.
        """

        class Connection(_Descriptor):
            logPrefix = tcp.Connection.logPrefix
            logstr = "from logstr"

        connection = Connection(self, "unused")
        self.assertEqual(self.serveOneBatch(connection), [])
        self.assertEqual(connection.system, "from logstr")

    def test_descriptorGone(self):
        """
        A readable descriptor whose C{fileno()} has become -1 is not read
        but disconnected, as Twisted's reactors do.
        """
        reasons = []

        class Gone(_Descriptor):
            gone = False

            def fileno(self):
                return -1 if self.gone else super().fileno()

            def connectionLost(self, reason):
                reasons.append(reason)

        gone = Gone(self, "gone")
        reactor = self.buildReactor()
        reactor.addReader(gone)
        gone.peer.send(b"x")
        gone.gone = True
        reactor.doPoll(0)
        self.assertIsNone(gone.system)
        self.assertEqual([r.type for r in reasons], [ConnectionFdescWentAway])
        reactor.removeReader(gone)


globals().update(DispatchTestsBuilder.makeTestCaseClasses())


class ListeningTests(SynchronousTestCase):
    """
    L{DirectEPollReactor} listens on TCP with an L{AcceptingPort}, and
    forgets a descriptor it does not watch without error.
    """

    def setUp(self):
        self.reactor = DirectEPollReactor()
        self.addCleanup(closeReactor, self.reactor)

    def test_acceptingPort(self):
        """
        C{listenTCP} gives an L{AcceptingPort} whose connections are sockets
        of the listener's family and type, non-blocking, with the peer's
        address.
        """
        protocols = []
        factory = Factory.forProtocol(Protocol)
        factory.buildProtocol = lambda addr: protocols.append(addr) or Protocol()
        port = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.socket.close)
        self.assertIsInstance(port, AcceptingPort)
        self.assertIsInstance(port.socket, ListeningSocket)
        client = socket.create_connection(("127.0.0.1", port.getHost().port))
        self.addCleanup(client.close)
        port.doRead()
        self.assertEqual(protocols, [IPv4Address("TCP", *client.getsockname())])
        (connection,) = [s for s in self.reactor.getReaders() if isinstance(s, tcp.Server)]
        self.addCleanup(connection.socket.close)
        self.assertIs(type(connection.socket), socket.socket)
        self.assertEqual(
            (connection.socket.family, connection.socket.type), (socket.AF_INET, socket.SOCK_STREAM)
        )
        self.assertEqual(connection.socket.gettimeout(), 0.0)

    def test_removeUnwatched(self):
        """
        Removing a reader or writer that is not watched changes nothing;
        removing one that is stops watching it.
        """
        first, second = _Descriptor(self, "first"), _Descriptor(self, "second")
        self.reactor.addReader(first)
        self.reactor.removeReader(second)
        self.reactor.removeWriter(first)
        self.assertIn(first, self.reactor.getReaders())
        self.reactor.removeReader(first)
        self.assertNotIn(first, self.reactor.getReaders())
        self.assertEqual(self.reactor.getWriters(), [])


class AcceptedConnectionTests(SynchronousTestCase):
    """
    L{AcceptedConnection} reads as Twisted's L{tcp.Server} does.
    """

    def test_reads(self):
        """
        Its C{doRead} hands what it read to the protocol, waits while there
        is nothing, and reports the end of the stream and a broken socket.
        """
        connection.checkReading()

    def test_madeByThePort(self):
        """
        An L{AcceptingPort} makes L{AcceptedConnection}s.
        """
        self.assertIs(AcceptingPort.transport, AcceptedConnection)
