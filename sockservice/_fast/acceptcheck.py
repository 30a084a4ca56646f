# -*- test-case-name: tests.test_selftest -*-
"""
Check that L{sockservice._fast.accepting} still copies Twisted: a
L{ListeningSocket} accepts as C{socket.accept} does (L{checkAccepting}), and
L{AcceptingPort} fills in the peer address and the connection as Twisted's
C{tcp.Port} and C{tcp.Server} do (L{checkConnecting}), on socket pairs.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Optional

from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol

from sockservice._fast.accepting import (
    AcceptingPort,
    ListeningSocket,
    _initSocket,
    _makeConnection,
    _newObject,
    _newSocket,
)
from sockservice._fast.checks import require
from sockservice._fast.writing import GivenWriter, ImmediateWriter

__all__ = ["checkAccepting", "checkConnecting"]


#: The names C{socket.socket.__init__} uses, and the slots it fills in:
#: what L{AcceptingPort.doRead} does in line.
_SOCKET_INIT_NAMES = ("AF_INET", "SOCK_STREAM", "_socket", "socket", "__init__")
_SOCKET_SLOTS = ("_io_refs", "_closed")

#: The names C{ImmediateWriter.__init__} uses: what L{AcceptingPort} fills
#: in for a protocol that declares C{immediateWriter = None}.
_WRITER_INIT_NAMES = ("connection", "socket", "send", "_send")

#: The names of C{FileDescriptor.registerProducer}, which L{AcceptingPort}
#: does in line for that protocol's connection, less those of a C{cast} to
#: C{interfaces.IPullProducer} (a no-op, from Twisted 26.10 on).
_REGISTER_NAMES = {
    "producer",
    "RuntimeError",
    "disconnected",
    "stopProducing",
    "streamingProducer",
    "resumeProducing",
}
_CAST_NAMES = {"cast", "interfaces", "IPullProducer"}

#: The names of C{FileDescriptor.unregisterProducer}, which
#: C{GivenWriter.loseConnection} does in line.
_UNREGISTER_NAMES = ("producer", "connected", "disconnecting", "startWriting")


def _socketLike(skt: socket.socket) -> Any:
    return (type(skt), skt.family, skt.type, skt.proto, skt.gettimeout(), skt._io_refs, skt._closed)  # type: ignore[attr-defined]


def checkAccepting() -> None:
    """
    Accept one connection on a L{ListeningSocket} (a UNIX socket in the
    abstract namespace, or a loopback TCP one where there is none) and
    compare it with what C{socket.socket.accept} gives; make a socket as
    L{AcceptingPort.doRead} makes one and compare it with
    C{socket.socket}'s.

    @raise InternalsChanged: where they differ.
    """
    require(
        socket.socket.__init__.__code__.co_names == _SOCKET_INIT_NAMES + _SOCKET_SLOTS
        and socket.socket.__slots__ == ["__weakref__", *_SOCKET_SLOTS],
        "socket.socket.__init__ changed",
    )
    ours, theirs = socket.socketpair()
    made: Optional[socket.socket] = None
    try:
        made = _newSocket(socket.socket)
        _initSocket(made, ours.family, ours.type, ours.proto, ours.detach())
        made._io_refs = 0  # type: ignore[attr-defined]
        made._closed = False  # type: ignore[attr-defined]
        copy = socket.socket(made.family, made.type, made.proto, os.dup(made.fileno()))
        try:
            require(
                _socketLike(made) == _socketLike(copy),
                "a socket made as AcceptingPort.doRead makes one differs from socket.socket's",
            )
        finally:
            copy.close()
    finally:
        for skt in (made, ours, theirs):
            if skt is not None:
                skt.close()
    _checkListening()


def _checkListening() -> None:
    try:
        listening = ListeningSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        name: Any = f"\0sockservice-selftest-{os.getpid()}-{id(listening)}"
    except (AttributeError, OSError):
        listening = ListeningSocket(socket.AF_INET, socket.SOCK_STREAM)
        name = ("127.0.0.1", 0)
    client = socket.socket(listening.family, socket.SOCK_STREAM)
    accepted: Optional[socket.socket] = None
    try:
        listening.bind(name)
        listening.listen(1)
        listening.setblocking(False)
        client.connect(listening.getsockname())
        accepted, _ = listening.accept()
        require(
            type(accepted) is socket.socket
            and (accepted.family, accepted.type, accepted.proto)
            == (listening.family, listening.type, listening.proto)
            and accepted.gettimeout() == socket.getdefaulttimeout(),
            "socket.accept's socket differs from ListeningSocket.accept's",
        )
        client.send(b"x")
        require(accepted.recv(1) == b"x", "ListeningSocket.accept's socket is not connected")
    finally:
        for skt in (accepted, client, listening):
            if skt is not None:
                skt.close()


#: The attributes L{AcceptingPort} sets on a connection that
#: C{tcp.Server.__init__} leaves to the class: with the class's values.
_CLASS_VALUES = ("dataBuffer", "disconnecting")

#: The names L{tcp.Port.doRead} uses, on the Twisted releases
#: L{AcceptingPort.doRead} copies (Twisted 25 also set close-on-exec on each
#: accepted descriptor, which C{accept4} has done since Python 3.4).
_PORT_DOREAD_NAMES = [
    {"BaseException", "NI_NUMERICHOST", "NI_NUMERICSERV", "_BuffersLogs", "_accept"}
    | {"_buildAddr", "_logger", "_reservedFD", "buildProtocol", "close", "deferr"}
    | {"enumerate", "factory", "getnameinfo", "len", "list", "log", "makeConnection"}
    | {"max", "namespace", "numberAccepts", "observer", "platformType", "range"}
    | {"reactor", "sessionno", "socket", "transport", "tuple"}
]
_PORT_DOREAD_NAMES.append(_PORT_DOREAD_NAMES[0] | {"_setCloseOnExec", "fdesc", "fileno"})


class _Watching:
    """The part of the reactor C{tcp.Server.__init__} calls, recorded."""

    def __init__(self) -> None:
        self.readers: list[Any] = []

    def addReader(self, reader: Any) -> None:
        self.readers.append(reader)


class _Writing(Protocol):
    """A protocol that asks for its connection's L{ImmediateWriter}."""

    immediateWriter: Optional[ImmediateWriter] = None


def checkConnecting() -> None:
    """
    Check that L{AcceptingPort.doRead} still copies Twisted's accept loop,
    and that the peer address, the connection and the L{ImmediateWriter}
    it fills in equal those Twisted's C{_buildAddr}, C{tcp.Server} and
    C{ImmediateWriter}'s constructor make, on socket pairs.

    @raise InternalsChanged: where they differ.
    """
    require(
        set(tcp.Port.doRead.__code__.co_names) in _PORT_DOREAD_NAMES
        and _makeConnection.__code__.co_names == ("connected", "transport", "connectionMade")
        and ImmediateWriter.__init__.__code__.co_names == _WRITER_INIT_NAMES
        and ImmediateWriter.__slots__ == ("connection", "_send"),
        "tcp.Port.doRead, BaseProtocol.makeConnection or ImmediateWriter.__init__ changed",
    )
    require(
        set(tcp.Server.registerProducer.__code__.co_names) - _CAST_NAMES == _REGISTER_NAMES
        and tcp.Server.unregisterProducer.__code__.co_names == _UNREGISTER_NAMES,
        "FileDescriptor.registerProducer or unregisterProducer changed",
    )
    addr = ("127.0.0.1", 40000)
    peer = _newObject(IPv4Address)
    peer.type, peer.host, peer.port = "TCP", addr[0], addr[1]
    theirs = tcp.Port._buildAddr(_newObject(tcp.Port), addr)
    require(
        type(theirs) is IPv4Address and theirs == peer and vars(theirs) == vars(peer),
        "IPv4Address differs when filled in",
    )
    pairs = [socket.socketpair(), socket.socketpair()]
    try:
        watching = _Watching()
        port = AcceptingPort(0, None, reactor=watching)
        port._realPortNumber = 12000
        made: list[Any] = []
        plain, writing = Protocol(), _Writing()
        for (skt, _), protocol in zip(pairs, (plain, writing)):
            server = tcp.Server(skt, protocol, addr, port, 7, port.reactor)
            if protocol is writing:
                server.registerProducer(server, True)
            made.append(server)
            connection, hasWriter = port._connection(skt, protocol, addr, 7)
            require(
                hasWriter == (protocol is writing),
                "AcceptingPort gives writers to the wrong protocols",
            )
            connection.connected = 1
            made.append(connection)
        states = []
        for connection in made:
            state = dict(vars(connection))
            require(state.pop("fileno") == connection.socket.fileno, "fileno is not the socket's")
            require(state.pop("producer", connection) is connection, "another producer")
            for name in _CLASS_VALUES:
                require(
                    state.pop(name, getattr(tcp.Server, name)) == getattr(tcp.Server, name),
                    f"{name} is not the class's",
                )
            del state["socket"], state["protocol"]
            states.append(state)
        twisted, ours, twisted2, ours2 = states
        require(
            twisted == ours and twisted2 == ours2 and watching.readers == made[::2],
            "AcceptingPort's connections differ from tcp.Server's",
        )
        require(
            not made[1].socket.getblocking() and made[1].logPrefix() == "Protocol,7,127.0.0.1",
            "AcceptingPort's connection is blocking or has another log prefix",
        )
        given, expected = writing.immediateWriter, ImmediateWriter(made[3])
        require(
            "immediateWriter" not in vars(plain)
            and type(given) is GivenWriter
            and given.connection is expected.connection
            and given._send == expected._send,
            "AcceptingPort's ImmediateWriter differs from ImmediateWriter's own",
        )
        port.factory = Factory()
        require(
            AcceptingPort(0, port.factory, reactor=watching).logPrefix()
            == tcp.Port.logPrefix(port)
            == "twisted.internet.protocol.Factory",
            "AcceptingPort has another log prefix than tcp.Port",
        )
    finally:
        for pair in pairs:
            for skt in pair:
                skt.close()
