# -*- test-case-name: tests.test_writing, tests.integration.test_writing -*-
"""
Send a reply, and close, at once instead of on the reactor's next turn.

C{transport.write} on a Twisted TCP connection only buffers the data and asks
the reactor to watch the socket for writability; the send happens on the
next iteration.  For a request/reply service that costs two extra
C{epoll_ctl} calls and one extra event dispatch per reply, which is most of
the difference between a Twisted server and an asyncio one on small
messages.  L{immediateWriter} tries the send right away when nothing is
queued, and leaves anything the socket did not take (and every error) to the
transport's own buffered path, so ordering, backpressure and error handling
stay Twisted's.  L{closeWhenSent} does the same for C{loseConnection}: with
nothing left to send it closes in this turn, saving a textbook client's
connection two more C{epoll_ctl} calls, an empty send, a C{shutdown} and a
dispatch.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import main, tcp
from twisted.internet.interfaces import ITransport
from twisted.python.failure import Failure

__all__ = ["immediateWriter", "closeWhenSent"]

_DONE = Failure(main.CONNECTION_DONE)


def _plainTCP(transport: ITransport) -> bool:
    return isinstance(transport, tcp.Connection) and not getattr(
        transport, "TLS", False
    )


def immediateWriter(transport: ITransport) -> Callable[[bytes], None]:
    """
    Return a C{write(data)} function for C{transport} that sends at once when
    it can.

    Only plain Twisted TCP (and UNIX stream) connections qualify; for any
    other transport (TLS, wrapped, in-memory test transports) this is just
    C{transport.write}.
    """
    if not _plainTCP(transport):
        return transport.write
    connection = transport
    send = connection.socket.send

    def write(data: bytes) -> None:
        if (
            connection._tempDataLen
            or connection.dataBuffer
            or connection.disconnecting
            or not connection.connected
            or not data
        ):
            connection.write(data)
            return
        try:
            sent = send(data)
        except OSError:
            # Full (EAGAIN) or broken: the buffered path waits, or meets the
            # error and closes the connection as usual.
            sent = 0
        if sent < len(data):
            connection.write(data[sent:])

    return write


def closeWhenSent(transport: ITransport) -> None:
    """
    C{transport.loseConnection()}, closing at once when nothing is queued.

    Twisted's C{loseConnection} always waits for the next writable event to
    flush the buffer; when the buffer is empty and no producer is registered
    there is nothing to wait for, so the connection closes (orderly: a FIN,
    not a reset, sent by C{close()} alone) and C{connectionLost} runs before
    this returns.  Otherwise, and for any transport but plain TCP, it is
    C{loseConnection} unchanged.
    """
    if (
        _plainTCP(transport)
        and transport.connected
        and not transport.disconnecting
        and transport.producer is None
        and not transport.dataBuffer
        and not transport._tempDataLen
    ):
        transport.stopReading()
        transport.stopWriting()
        # This process alone holds the socket (close-on-exec, never passed
        # on), so close() sends the FIN: the shutdown() Twisted makes first
        # "just to be safe" would be one more system call per connection.
        transport._shouldShutdown = False
        transport.connectionLost(_DONE)
    else:
        transport.loseConnection()
