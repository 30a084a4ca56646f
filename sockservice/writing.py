# -*- test-case-name: tests.test_writing -*-
"""
Send a reply at once instead of on the reactor's next turn.

C{transport.write} on a Twisted TCP connection only buffers the data and asks
the reactor to watch the socket for writability; the send happens on the
next iteration.  For a request/reply service that costs two extra
C{epoll_ctl} calls and one extra event dispatch per reply, which is most of
the difference between a Twisted server and an asyncio one on small
messages.  L{immediateWriter} tries the send right away when nothing is
queued, and leaves anything the socket did not take (and every error) to the
transport's own buffered path, so ordering, backpressure and error handling
stay Twisted's.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import tcp
from twisted.internet.interfaces import ITransport

__all__ = ["immediateWriter"]


def immediateWriter(transport: ITransport) -> Callable[[bytes], None]:
    """
    Return a C{write(data)} function for C{transport} that sends at once when
    it can.

    Only plain Twisted TCP (and UNIX stream) connections qualify; for any
    other transport (TLS, wrapped, in-memory test transports) this is just
    C{transport.write}.
    """
    if not isinstance(transport, tcp.Connection) or getattr(transport, "TLS", False):
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
