# -*- test-case-name: tests.test_writing, tests.integration.test_writing -*-
"""
Send a reply, and close, at once instead of on the reactor's next turn.

C{transport.write} on a Twisted TCP connection only buffers the data and asks
the reactor to watch the socket for writability; the send happens on the
next iteration.  For a request/reply service that costs two extra
C{epoll_ctl} calls and one extra event dispatch per reply, which is most of
the difference between a Twisted server and an asyncio one on small
messages.  L{ImmediateWriter.write} tries the send right away when nothing
is queued, and leaves anything the socket did not take (and every error) to
the transport's own buffered path, so ordering, backpressure and error
handling stay Twisted's.  L{ImmediateWriter.loseConnection} does the same
for C{loseConnection}: with nothing left to send it closes in this turn,
saving a textbook client's connection two more C{epoll_ctl} calls, an empty
send, a C{shutdown} and a dispatch.

Both read and set private attributes of L{twisted.internet.tcp.Connection}
(C{_tempDataLen}, C{_shouldShutdown}) and call its C{connectionLost}
themselves.  Use them only through L{sockservice._fast.switch.fastWriter},
which checks at import that those internals still behave.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from twisted.internet import main, tcp
from twisted.internet.interfaces import ITransport
from twisted.python.failure import Failure

__all__ = ["GivenWriter", "ImmediateWriter", "isPlainTCP"]


class _ConnectionDone(Failure):
    """
    The one L{Failure} every connection closed by
    L{ImmediateWriter.loseConnection} ends with: C{Failure(CONNECTION_DONE)}
    whose L{check} remembers its answers.

    Twisted's C{Connection.connectionLost} asks each closing connection's
    reason whether it is a C{ConnectionAborted}; L{Failure.check} answers by
    comparing qualified class names of the whole class hierarchy, a few
    microseconds per connection.  This failure never changes, so each
    question needs answering once.
    """

    _answers: Dict[Tuple[Any, ...], Any]

    def __init__(self) -> None:
        super().__init__(main.CONNECTION_DONE)
        self._answers = {}

    def check(self, *errorTypes: Any) -> Any:
        """
        L{Failure.check}, asked once per set of C{errorTypes}.
        """
        try:
            return self._answers[errorTypes]
        except (KeyError, TypeError):  # new, or not hashable
            answer = super().check(*errorTypes)
            try:
                self._answers[errorTypes] = answer
            except TypeError:
                pass
            return answer


_DONE = _ConnectionDone()


def isPlainTCP(transport: ITransport) -> bool:
    """
    Whether C{transport} is one of Twisted's own TCP (or UNIX stream)
    connections, without TLS: the only kind L{ImmediateWriter} knows.
    """
    return isinstance(transport, tcp.Connection) and not getattr(transport, "TLS", False)


class ImmediateWriter:
    """
    C{write} and C{loseConnection} for a plain Twisted TCP connection that
    act at once when nothing is queued.

    @ivar connection: the connection written to.
    """

    __slots__ = ("connection", "_send")

    #: Whether L{loseConnection} first unregisters a connection registered
    #: as its own producer (L{GivenWriter}).
    ownsProducer = False

    def __init__(self, connection: tcp.Connection) -> None:
        """
        @param connection: a connection for which L{isPlainTCP} is true.
        """
        self.connection = connection
        self._send = connection.socket.send

    def write(self, data: bytes) -> None:
        """
        Send C{data} now if nothing is queued, and queue what the socket did
        not take; otherwise C{connection.write(data)}.
        """
        connection = self.connection
        if (
            connection._tempDataLen
            or connection.dataBuffer
            or connection.disconnecting
            or not connection.connected
            or not data
        ):
            connection.write(data)
            return
        # Read as an attribute: CPython 3.11 cannot specialize calling a
        # bound method held in a slot as a method look-up.
        send = self._send
        try:
            sent = send(data)
        except OSError:
            # Full (EAGAIN) or broken: the buffered path waits, or meets the
            # error and closes the connection as usual.
            sent = 0
        if sent < len(data):
            # Copying the rest is rare (no send was partial in tcp-stream runs:
            # bench/README.md, "What a stream costs"), and Twisted's buffer
            # copies a rest under its send limit again anyway.
            connection.write(data[sent:])

    def loseConnection(self) -> None:
        """
        C{connection.loseConnection()}, closing at once when nothing is queued.

        Twisted's C{loseConnection} always waits for the next writable event
        to flush the buffer; when the buffer is empty and no producer is
        registered there is nothing to wait for, so the connection closes
        (orderly: a FIN, not a reset, sent by C{close()} alone) and
        C{connectionLost} runs before this returns.  Otherwise it is
        C{loseConnection} unchanged.
        """
        connection = self.connection
        if self.ownsProducer and connection.producer is connection:
            if connection.disconnecting:
                connection.unregisterProducer()
            else:
                connection.producer = None  # unregisterProducer, in line
        if (
            connection.connected
            and not connection.disconnecting
            and connection.producer is None
            and not connection.dataBuffer
            and not connection._tempDataLen
        ):
            # Connection.connectionLost stops reading and writing itself.
            # This process alone holds the socket (close-on-exec, never passed
            # on), so close() sends the FIN: the shutdown() Twisted makes
            # first "just to be safe" would be one more system call per
            # connection.
            connection._shouldShutdown = False
            connection.connectionLost(_DONE)
        else:
            connection.loseConnection()


class GivenWriter(ImmediateWriter):
    """
    The L{ImmediateWriter} that L{sockservice._fast.accepting.AcceptingPort}
    gives a protocol, along with its connection registered as its own
    streaming producer: its C{loseConnection} unregisters that producer
    first, as the protocol would otherwise have to.
    """

    __slots__ = ()
    ownsProducer = True
