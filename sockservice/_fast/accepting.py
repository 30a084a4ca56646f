# -*- test-case-name: tests.test_selftest, tests.integration.test_reactor -*-
"""
Accept TCP connections with fewer Python calls per connection.

C{socket.socket.accept} wraps the accepted descriptor in a new socket object
made from the listener's C{family} and C{type}, two properties that convert
the socket's numbers to enum members on every call (six Python-level calls
per connection on CPython 3.11).  L{ListeningSocket} remembers those numbers
once; its C{accept} is otherwise the standard library's: the same private
C{_accept} (C{accept4}), the same socket class, the same timeout rule.

L{AcceptingPort} is Twisted's L{tcp.Port} listening on one.  On an IPv4
port its C{doRead} is Twisted's accept loop with the calls per connection
taken in line: the listener's C{_accept} itself, the peer's
L{IPv4Address} filled in without its C{attrs} constructor and validator,
the L{AcceptedConnection} (L{sockservice._fast.connection}) filled in with
exactly the attributes C{tcp.Server.__init__} gives it, without its chain of
four constructors and its log prefix look-up (remembered per protocol
class), and its descriptor watched as the epoll reactor's C{addReader} does.
and the protocol's C{makeConnection} run in line where it is
L{BaseProtocol}'s.  An accept that fails other than with "nothing
waiting", and IPv6 ports, take Twisted's own loop, which logs and recovers
as it always does.  The accepted socket is made as C{socket.socket}'s
constructor makes it, without its Python frame; and a protocol class that
declares C{immediateWriter = None} is given its connection's
L{ImmediateWriter} in that attribute, filled in without a constructor call,
before its C{connectionMade}, with the connection registered as its own
streaming producer (backpressure: it stops reading while its write buffer
is full), which the writer's C{loseConnection} unregisters (a
L{GivenWriter}); such a protocol's client speaks first, so its connection's first
read is tried at once, as the reactor would try it on the next event (with
the connection's log prefix, errors logged and the connection ended as
there): in C{tcp-crr} the request is there, and the event is saved.

Only L{sockservice._fast.reactor}'s reactor makes these ports (its
C{listenTCP}), and only where L{sockservice._fast.switch} found them
behaving (L{sockservice._fast.acceptcheck}).
"""

from __future__ import annotations

import _socket
import socket
import sys
from select import EPOLLIN
from typing import Any, Dict, Optional, Tuple

from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ILoggingContext
from twisted.internet.protocol import BaseProtocol, Protocol
from twisted.python import context, log, reflect

from sockservice._fast.connection import AcceptedConnection
from sockservice._fast.writing import GivenWriter

__all__ = [
    "AcceptedConnection",
    "AcceptingPort",
    "ListeningSocket",
]

_newObject = object.__new__
_makeConnection = BaseProtocol.makeConnection
_Socket = socket.socket

#: C{socket.socket(family, type, proto, fileno)} in C calls alone: the
#: standard library's C{socket.socket.__init__} calls the first to set
#: the descriptor and then sets two attributes (L{acceptcheck} checks it).
_newSocket = _socket.socket.__new__
_initSocket = _socket.socket.__init__


class ListeningSocket(socket.socket):
    """
    A socket whose L{accept} knows its address family and type already.
    """

    _kind: Tuple[int, int, int]

    def __init__(
        self, family: int = -1, type: int = -1, proto: int = -1, fileno: Optional[int] = None
    ) -> None:
        super().__init__(family, type, proto, fileno)
        self._kind = (int(self.family), int(self.type), self.proto)

    def accept(self) -> Tuple[socket.socket, Any]:
        """
        As C{socket.socket.accept}: a new socket for the connection, and its
        peer's address.
        """
        fd, address = self._accept()  # type: ignore[attr-defined]
        family, kind, proto = self._kind
        connection = socket.socket(family, kind, proto, fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            connection.setblocking(True)
        return connection, address


class AcceptingPort(tcp.Port):
    """
    Twisted's TCP port, listening on a L{ListeningSocket}, making
    L{AcceptedConnection}s, accepting IPv4 connections in fewer calls.

    @ivar _kinds: for each protocol class whose log prefix is its class
        name (L{Protocol.logPrefix}, not overridden): the parts of its
        connections' C{logstr} and C{repstr} before and after the session
        number, and whether it is given an L{ImmediateWriter} (it declares
        C{immediateWriter = None}).
    """

    transport = AcceptedConnection

    # A connection's logPrefix, returning logstr: the reactor then reads the
    # prefix of each accepting event from logstr (as a connection's)
    # instead of calling tcp.Port.logPrefix, which runs reflect.qual.
    logPrefix: Any = tcp.Connection.logPrefix

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kinds: Dict[type, Tuple[str, str, str, bool]] = {}
        #: L{tcp.Port.logPrefix}'s answer: the factory's class, qualified.
        self.logstr = reflect.qual(self.factory.__class__)

    def createInternetSocket(self) -> ListeningSocket:
        plain = super().createInternetSocket()
        listening = ListeningSocket(plain.family, plain.type, plain.proto, plain.detach())
        listening.setblocking(False)
        return listening

    def doRead(self) -> None:
        """
        Accept the connections waiting, as L{tcp.Port.doRead} does, in
        fewer calls per connection on an IPv4 port.
        """
        if self._addressType is not IPv4Address or self.transport is not AcceptedConnection:
            tcp.Port.doRead(self)
            return
        try:
            listener: Any = self.socket
            accept = listener._accept
            family, kind, proto = listener._kind
            buildProtocol = self.factory.buildProtocol  # type: ignore[union-attr]
            reactor: Any = self.reactor
            reads, writes, selectables = reactor._reads, reactor._writes, reactor._selectables
            register = reactor._poller.register
            accepted = 0
            numberAccepts = self.numberAccepts
            logContext: Any = None
            system = "-"
            while accepted < numberAccepts:
                try:
                    fd, addr = accept()
                except BlockingIOError:
                    break
                except OSError:
                    # EMFILE and the rest: Twisted's loop meets the error
                    # again, and logs and recovers as it does.
                    tcp.Port.doRead(self)
                    return
                # socket.socket(family, kind, proto, fd), in line.
                skt: Any = _newSocket(_Socket)
                _initSocket(skt, family, kind, proto, fd)
                skt._io_refs = 0
                skt._closed = False
                accepted += 1
                peer = _newObject(IPv4Address)
                peer.type, peer.host, peer.port = "TCP", addr[0], addr[1]
                protocol: Any = buildProtocol(peer)
                if protocol is None:
                    skt.close()
                    continue
                session = self.sessionno
                self.sessionno = session + 1
                transport, given = self._connection(skt, protocol, addr, session)
                # EPollReactor.addReader, for a descriptor it does not watch.
                if fd in reads or fd in writes:
                    reactor.addReader(transport)
                else:
                    register(fd, EPOLLIN)
                    reads.add(fd)
                    selectables[fd] = transport
                transport.connected = 1
                if protocol.__class__.makeConnection is _makeConnection:
                    protocol.connected = 1  # BaseProtocol.makeConnection
                    protocol.transport = transport
                    protocol.connectionMade()
                else:
                    protocol.makeConnection(transport)
                if given and fd in reads and not transport.disconnecting:
                    # Its client speaks first, and its request is usually
                    # here already: read it now, as the reactor would on
                    # the event this saves (_dispatch, _doReadOrWrite).
                    if logContext is None:
                        logContext = context.get(log.ILogContext) or {}
                        system = logContext.get("system", "-")
                    logContext["system"] = transport.logstr
                    try:
                        why = transport.doRead()
                        inRead = True
                    except BaseException:
                        why = sys.exc_info()[1]
                        inRead = False
                        log.err()
                    logContext["system"] = system
                    if why:
                        reactor._disconnectSelectable(transport, why, inRead)
            if accepted == numberAccepts:
                self.numberAccepts = numberAccepts + 20
            else:
                self.numberAccepts = max(1, accepted)
        except BaseException:
            log.deferr()

    def _connection(
        self, skt: socket.socket, protocol: Any, addr: Tuple[str, int], session: int
    ) -> Tuple[AcceptedConnection, bool]:
        """
        The connection C{tcp.Server.__init__} would make of C{skt}, before
        its C{startReading()} and C{connected = 1}, and whether C{protocol}
        was given an L{ImmediateWriter}.
        """
        kind = protocol.__class__
        known = self._kinds.get(kind)
        if known is None:
            # Formatted once per class: a format per connection took about
            # as long as the rest of this method.
            known = (
                f"{self._getLogPrefix(protocol)},",
                f"<{kind.__name__} #",
                f" on {self._realPortNumber}>",
                getattr(kind, "immediateWriter", False) is None,
            )
            # Only a class whose prefix cannot vary by instance: Protocol's
            # logPrefix (an attribute that some classes lack altogether).
            mine = getattr(kind, "logPrefix", None)
            if mine is Protocol.logPrefix and ILoggingContext.implementedBy(kind):
                self._kinds[kind] = known
        prefix, head, tail, given = known
        skt.setblocking(False)
        host = addr[0]
        # Set one by one, in tcp.Server.__init__'s order: the instance then
        # keeps the class's shared-key dictionary (168 bytes smaller than one
        # filled by __dict__.update, per idle connection).
        connection: AcceptedConnection = _newObject(AcceptedConnection)
        connection.reactor = self.reactor
        connection._tempDataBuffer = []
        connection._tempDataLen = 0
        connection.socket = skt
        connection.fileno = skt.fileno
        connection.protocol = protocol
        connection.server = self
        connection.client = addr
        connection.sessionno = session
        connection.hostname = host
        connection.logstr = f"{prefix}{session},{host}"
        connection.repstr = f"{head}{session}{tail}"
        # The class's values, as instance attributes: ImmediateWriter.write
        # reads both on every reply, and CPython 3.11 finds an instance
        # attribute without a look-up through the class's long MRO.
        connection.dataBuffer = b""
        connection.disconnecting = 0
        if given:
            # GivenWriter(connection), filled in.
            writer = _newObject(GivenWriter)
            writer.connection = connection
            writer._send = skt.send
            protocol.immediateWriter = writer
            # connection.registerProducer(connection, True), on a connection
            # that has no producer yet and is not disconnected.
            connection.producer = connection
            connection.streamingProducer = True
        return connection, given
