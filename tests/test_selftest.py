# -*- test-case-name: tests.test_selftest -*-
"""
Tests for L{sockservice._fast.selftest}: it passes on this Twisted, and
notices each way a Twisted release could change the internals the speed
tricks rely on.
"""

import os
import socket

from twisted.internet import abstract, tcp, udp
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice._fast import accepting, connection, datagrams, selftest
from sockservice._fast.selftest import InternalsChanged, checkInternals


def _openDescriptors():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        raise SkipTest("no /proc/self/fd here") from None


class CheckInternalsTests(SynchronousTestCase):
    """
    L{checkInternals} runs the speed tricks on socket pairs and reports the
    first thing that does not behave.
    """

    def assertProblem(self, *words):
        """
        L{checkInternals} reports a problem, on one line, containing
        C{words}, and leaves no descriptor open.
        """
        before = _openDescriptors()
        problem = checkInternals()
        self.assertIsNotNone(problem)
        self.assertNotIn("\n", problem)
        for word in words:
            self.assertIn(word, problem)
        self.assertEqual(_openDescriptors(), before)

    def test_passes(self):
        """
        On the Twisted releases this project supports, every check passes
        and no descriptor is left open.
        """
        before = _openDescriptors()
        self.assertIsNone(checkInternals())
        self.assertEqual(_openDescriptors(), before)

    def test_queueRenamed(self):
        """
        A Twisted that no longer counts queued bytes in C{_tempDataLen} is
        noticed (the immediate write would then overtake queued data).
        """

        def write(self, data):
            self._tempDataBuffer.append(data)
            self._queuedLength = getattr(self, "_queuedLength", 0) + len(data)
            self.startWriting()

        self.patch(abstract.FileDescriptor, "write", write)
        self.assertProblem("full socket", "_tempDataLen")

    def test_shutdownAlways(self):
        """
        A Twisted that no longer reads C{_shouldShutdown} (so that each
        close costs a C{shutdown()} again) is noticed.
        """
        original = tcp.Connection._closeSocket

        def closeSocket(self, orderly):
            self._shouldShutdown = True
            original(self, orderly)

        self.patch(tcp.Connection, "_closeSocket", closeSocket)
        self.assertProblem("shutdown()", "_shouldShutdown")

    def test_closeNotFlushed(self):
        """
        A Twisted whose C{doWrite} does not finish a pending close once the
        queue is flushed is noticed.
        """
        self.patch(abstract.FileDescriptor, "_postLoseConnection", lambda self: None)
        self.assertProblem("flushed close")

    def test_dispatchSignatureChanged(self):
        """
        A Twisted whose epoll reactor dispatches with another signature is
        noticed.
        """
        try:
            from twisted.internet.epollreactor import EPollReactor
        except ImportError:
            raise SkipTest("no epoll here") from None
        self.patch(EPollReactor, "_doReadOrWrite", lambda self, fd, event: None)
        self.assertProblem("_doReadOrWrite")

    def test_selectablesRenamed(self):
        """
        A Twisted whose epoll reactor keeps its descriptors elsewhere than
        C{_selectables} is noticed.
        """
        try:
            from twisted.internet.epollreactor import EPollReactor
        except ImportError:
            raise SkipTest("no epoll here") from None
        original = EPollReactor.__init__

        def init(self):
            original(self)
            self._descriptors = self.__dict__.pop("_selectables")

        self.patch(EPollReactor, "__init__", init)
        self.assertProblem("_selectables")

    def test_unexpectedError(self):
        """
        Any other error in a check is reported too, naming the check.
        """

        def broken(self):
            raise ZeroDivisionError("boom")

        self.patch(tcp.Connection, "dataBuffer", property(broken))
        self.assertProblem("checkWriting", "ZeroDivisionError", "boom")

    def test_internalsChanged(self):
        """
        L{InternalsChanged} carries what failed as its message.
        """
        self.assertEqual(str(InternalsChanged("x failed")), "x failed")
        self.assertIn("checkWriting", selftest.__all__)

    def test_acceptChanged(self):
        """
        A Python whose accepted socket differs from what
        L{ListeningSocket.accept} builds (here: another address family) is
        noticed.
        """
        original = accepting.ListeningSocket.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self._kind = (socket.AF_INET6, *self._kind[1:])

        self.patch(accepting.ListeningSocket, "__init__", init)
        self.assertProblem("ListeningSocket.accept")

    def test_removalChanged(self):
        """
        A Twisted whose epoll reactor no longer keeps the descriptors it
        polls continuously in sets is noticed (the reactor's removal would
        then skip them).
        """
        try:
            from twisted.internet.epollreactor import EPollReactor
        except ImportError:
            raise SkipTest("no epoll here") from None
        original = EPollReactor.__init__

        def init(self):
            original(self)
            self._continuousPolling._readers = []

        self.patch(EPollReactor, "__init__", init)
        self.assertProblem("_continuousPolling")

    def test_logPrefixChanged(self):
        """
        A Twisted whose TCP connections' C{logPrefix} is no longer their
        C{logstr} is noticed.
        """
        self.patch(tcp.Connection, "logPrefix", lambda self: "elsewhere")
        self.assertProblem("logstr")

    def test_readingChanged(self):
        """
        A Twisted whose TCP connections read differently from what
        L{AcceptedConnection.doRead} copies is noticed.
        """

        def doRead(self):
            return self._dataReceived(self.socket.recv(self.bufferSize, 0))

        self.patch(tcp.Connection, "doRead", doRead)
        self.assertProblem("doRead")

    def test_acceptLoopChanged(self):
        """
        A Twisted whose port accepts with a loop other than the one
        L{AcceptingPort.doRead} copies is noticed.
        """
        self.patch(tcp.Port, "doRead", lambda self: self.factory.buildProtocol(None))
        self.assertProblem("tcp.Port.doRead")

    def test_serverChanged(self):
        """
        A Twisted whose C{tcp.Server} gives its connections other attributes
        than those L{AcceptingPort} fills in is noticed.
        """
        original = tcp.Server.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.extra = 1

        self.patch(tcp.Server, "__init__", init)
        self.assertProblem("tcp.Server")

    def test_addressChanged(self):
        """
        A Twisted whose port builds peer addresses other than an
        L{IPv4Address} of C{("TCP", host, port)} is noticed.
        """
        self.patch(tcp.Port, "_buildAddr", lambda self, address: address)
        self.assertProblem("IPv4Address")

    def test_closeChanged(self):
        """
        A Twisted whose connections close with steps other than those
        L{AcceptedConnection.connectionLost} copies is noticed.
        """

        original = tcp.Connection.connectionLost

        def connectionLost(self, reason):
            original(self, reason)

        self.patch(tcp.Connection, "connectionLost", connectionLost)
        self.assertProblem("connectionLost")

    def test_closingChanged(self):
        """
        A copied close that does not stop watching the descriptor is noticed.
        """
        self.patch(connection.AcceptedConnection, "connectionLost", lambda self, reason: None)
        self.assertProblem("AcceptedConnection does not end its input and close")

    def test_socketInitChanged(self):
        """
        A Python whose C{socket.socket} constructor does other than what
        L{AcceptingPort.doRead} does in line is noticed.
        """
        original = socket.socket.__init__

        def init(self, *args):
            original(self, *args)

        self.patch(socket.socket, "__init__", init)
        self.assertProblem("socket.socket.__init__")

    def test_writerChanged(self):
        """
        An L{ImmediateWriter} whose constructor does other than what
        L{AcceptingPort} fills in is noticed.
        """
        from sockservice._fast.writing import ImmediateWriter

        def init(self, connection):
            self.connection = connection
            self._send = getattr(connection.socket, "send")  # noqa: B009

        self.patch(ImmediateWriter, "__init__", init)
        self.assertProblem("ImmediateWriter.__init__")

    def test_registerProducerChanged(self):
        """
        A Twisted whose C{registerProducer} does other than what
        L{AcceptingPort} does in line is noticed.
        """
        original = abstract.FileDescriptor.registerProducer

        def registerProducer(self, producer, streaming):
            original(self, producer, streaming)

        self.patch(abstract.FileDescriptor, "registerProducer", registerProducer)
        self.assertProblem("registerProducer")


class DatagramCheckTests(SynchronousTestCase):
    """
    L{sockservice._fast.datagrams.checkDatagrams} notices a Twisted whose
    UDP port reads otherwise than L{ReadingDatagramPort} copies.
    """

    def assertProblem(self, *words):
        before = _openDescriptors()
        problem = checkInternals()
        self.assertIsNotNone(problem)
        for word in words:
            self.assertIn(word, problem)
        self.assertEqual(_openDescriptors(), before)

    def test_readLoopChanged(self):
        """
        A Twisted whose port reads one datagram per call is noticed.
        """

        def doRead(self):
            data, addr = self.socket.recvfrom(self.maxPacketSize)
            self.protocol.datagramReceived(data, addr)

        self.patch(udp.Port, "doRead", doRead)
        self.assertProblem("udp.Port.doRead")

    def test_errorsRenamed(self):
        """
        A Twisted without the errors its read loop ignores is noticed.
        """
        self.patch(datagrams, "_IGNORE", None)
        self.assertProblem("_sockErrReadIgnore")

    def test_adoptionGone(self):
        """
        A Twisted whose port cannot be made from a descriptor is noticed.
        """
        # Restored as it was (self.patch would put back a bound method).
        original = vars(udp.Port)["_fromListeningDescriptor"]
        self.addCleanup(setattr, udp.Port, "_fromListeningDescriptor", original)
        udp.Port._fromListeningDescriptor = None
        self.assertProblem("_fromListeningDescriptor")
