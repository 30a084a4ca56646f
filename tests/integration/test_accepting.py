# -*- test-case-name: tests.integration.test_accepting -*-
"""
Tests for L{sockservice._fast.accepting} and L{sockservice._fast.connection}
on real loopback sockets: the accept loop of L{AcceptingPort}, and how an
L{AcceptedConnection} ends, on a L{DirectEPollReactor} that is never run
(each test polls it itself).
"""

import errno
import socket
from select import EPOLLIN

from twisted.internet import tcp
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from sockservice._fast.connection import AcceptedConnection
from sockservice._fast.reactor import DirectEPollReactor
from sockservice._fast.reactorcheck import closeReactor
from sockservice._fast.writing import ImmediateWriter


class Recording(Protocol):
    """
    Records what happens to its connection.
    """

    def __init__(self):
        self.events = []

    def connectionMade(self):
        self.events.append("made")

    def dataReceived(self, data):
        self.events.append(data)

    def connectionLost(self, reason):
        self.events.append(reason.type)


@implementer(IHalfCloseableProtocol)
class Echoing(Recording):
    """
    Echoes what it reads; at the end of the input, closes as the uppercase
    service does (through an L{ImmediateWriter}).
    """

    def connectionMade(self):
        super().connectionMade()
        self.out = ImmediateWriter(self.transport)

    def dataReceived(self, data):
        super().dataReceived(data)
        self.out.write(data)

    def readConnectionLost(self):
        self.events.append("read lost")
        self.out.loseConnection()

    def writeConnectionLost(self):
        pass


class OwnMakeConnection(Recording):
    """
    A protocol with a C{makeConnection} of its own.
    """

    def makeConnection(self, transport):
        self.events.append("own makeConnection")
        super().makeConnection(transport)


class AcceptingTests(SynchronousTestCase):
    """
    L{AcceptingPort.doRead} accepts what is waiting as Twisted's port does.
    """

    def setUp(self):
        self.reactor = DirectEPollReactor()
        self.addCleanup(closeReactor, self.reactor)
        self.protocols = []
        self.addresses = []
        self.refuse = False

    def listen(self, protocol=Recording):
        factory = Factory()

        def build(addr):
            self.addresses.append(addr)
            if self.refuse:
                return None
            made = protocol()
            self.protocols.append(made)
            return made

        factory.buildProtocol = build
        port = self.reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(self.close, port)
        return port

    def close(self, port):
        for selectable in self.reactor.getReaders() + self.reactor.getWriters():
            if isinstance(selectable, tcp.Server) and selectable.connected:
                selectable.abortConnection()
        port.socket.close()

    def connect(self, port):
        client = socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5)
        self.addCleanup(client.close)
        return client

    def test_batch(self):
        """
        One read of the listener accepts every waiting connection: each
        protocol gets its peer's address, a connected L{AcceptedConnection}
        with Twisted's log prefix, watched for input, and C{connectionMade};
        without C{tcp.Server.__init__}.
        """
        port = self.listen()
        clients = [self.connect(port) for _ in range(3)]
        self.patch(tcp.Server, "__init__", lambda *args: self.fail("tcp.Server.__init__ ran"))
        port.doRead()
        self.assertEqual(
            self.addresses, [IPv4Address("TCP", *client.getsockname()) for client in clients]
        )
        transports = [p.transport for p in self.protocols]
        self.assertEqual([type(t) for t in transports], [AcceptedConnection] * 3)
        self.assertEqual([p.events for p in self.protocols], [["made"]] * 3)
        self.assertEqual([t.connected for t in transports], [1, 1, 1])
        self.assertEqual(
            [t.logstr for t in transports], [f"Recording,{n},127.0.0.1" for n in range(3)]
        )
        self.assertEqual(set(self.reactor.getReaders()), {self.reactor.waker, port, *transports})
        self.assertEqual(port.numberAccepts, 3)

    def test_logPrefixes(self):
        """
        Each connection's log prefix is Twisted's: the protocol's own
        C{logPrefix()}, its class name where it has none.
        """

        @implementer(IProtocol)
        class Bare:
            def makeConnection(self, transport):
                self.transport = transport

        class Named(Recording):
            def logPrefix(self):
                return "named"

        for protocol, prefix in [(Bare, "Bare"), (Named, "named"), (Recording, "Recording")]:
            port = self.listen(protocol)
            self.connect(port)
            port.doRead()
            self.assertEqual(self.protocols.pop().transport.logstr, f"{prefix},0,127.0.0.1")

    def test_portLogPrefix(self):
        """
        The port's log prefix is C{tcp.Port}'s (its factory's class), and
        the reactor takes it from C{logstr} for an accepting event, without
        calling C{tcp.Port.logPrefix} (and C{reflect.qual}) each time.
        """
        port = self.listen()
        self.assertEqual(port.logPrefix(), tcp.Port.logPrefix(port))
        self.assertEqual(port.logstr, "twisted.internet.protocol.Factory")
        self.patch(tcp.Port, "logPrefix", lambda port: self.fail("tcp.Port.logPrefix ran"))
        self.connect(port)
        context = {}
        self.reactor._dispatch([(port.fileno(), EPOLLIN)], context)
        self.assertEqual(context["system"], port.logstr)
        self.assertEqual(len(self.protocols), 1)

    def test_refused(self):
        """
        A connection the factory refuses is closed at once.
        """
        port = self.listen()
        self.refuse = True
        client = self.connect(port)
        port.doRead()
        self.assertEqual(len(self.addresses), 1)
        self.assertEqual(client.recv(1), b"")
        self.assertEqual(set(self.reactor.getReaders()), {self.reactor.waker, port})

    def test_ownMakeConnection(self):
        """
        A protocol's own C{makeConnection} is called.
        """
        port = self.listen(OwnMakeConnection)
        self.connect(port)
        port.doRead()
        self.assertEqual(self.protocols[0].events, ["own makeConnection", "made"])

    def test_acceptFails(self):
        """
        An accept that fails other than with "nothing waiting" is left to
        Twisted's loop, which handles and logs it.
        """
        port = self.listen()
        twisted = []
        self.patch(tcp.Port, "doRead", lambda self: twisted.append(self))

        class Failing:
            _kind = port.socket._kind

            def _accept(self):
                raise OSError(errno.EMFILE, "Too many open files")

        listener, port.socket = port.socket, Failing()
        self.addCleanup(setattr, port, "socket", listener)
        port.doRead()
        self.assertEqual(twisted, [port])

    def test_ipv6(self):
        """
        An IPv6 port accepts in Twisted's loop.
        """
        port = self.listen()
        twisted = []
        self.patch(tcp.Port, "doRead", lambda self: twisted.append(self))
        port._addressType = IPv6Address
        port.doRead()
        self.assertEqual(twisted, [port])

    def serve(self, port, client):
        port.doRead()
        client.sendall(b"hello")
        client.shutdown(socket.SHUT_WR)
        for _ in range(10):
            self.reactor.doPoll(0.1)
            if self.protocols[0].events[-1] is ConnectionDone:
                break
        received = b""
        while True:
            chunk = client.recv(100)
            if not chunk:
                return received
            received += chunk

    def test_halfClose(self):
        """
        A half-closeable protocol's connection tells it of the end of the
        input and closes at once when it asks, with nothing left watched,
        each in one step of its own (not Twisted's general path).
        """
        port = self.listen(Echoing)
        client = self.connect(port)
        general = []
        for name in ("readConnectionLost", "connectionLost"):
            self.patch(tcp.Connection, name, lambda self, reason, n=name: general.append(n))
        self.assertEqual(self.serve(port, client), b"hello")
        self.assertEqual(general, [], "Twisted's general path ran")
        protocol = self.protocols[0]
        self.assertEqual(protocol.events, ["made", b"hello", "read lost", ConnectionDone])
        self.assertEqual(set(self.reactor.getReaders()), {self.reactor.waker, port})
        self.assertEqual(self.reactor.getWriters(), [])
        self.assertFalse(hasattr(protocol.transport, "socket"))

    def test_endOfInput(self):
        """
        Another protocol's connection ends at the end of the input, through
        the reactor's general path.
        """
        port = self.listen()
        client = self.connect(port)
        self.assertEqual(self.serve(port, client), b"")
        self.assertEqual(self.protocols[0].events, ["made", b"hello", ConnectionDone])
        self.assertEqual(set(self.reactor.getReaders()), {self.reactor.waker, port})
