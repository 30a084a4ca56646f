# -*- test-case-name: tests.test_probepacing -*-
"""
The probe's protocols: L{ProbeDatagramProtocol} (UDP, connected to the
server) and L{ProbeLineProtocol} (TCP, newline-framed), which hand each
reply to a callable and report a refusal or a lost connection.  They do no
accounting themselves.

Each request is sent at once: a datagram goes straight to the connected
socket, and a line through L{sockservice._fast.switch.fastWriter}
(Twisted's own C{write} only buffers it until the reactor's next turn, which
costs two C{epoll_ctl} calls and one more wait per request), with
C{TCP_NODELAY} so that pipelined requests are not held back for an
acknowledgement.  The lines sent while the replies of one read are handed
over leave together when they all are, in one system call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from twisted.internet.error import MessageLengthError
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import DatagramProtocol, Protocol, connectionDone
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from sockservice._fast.switch import Writer

__all__ = ["ProbeDatagramProtocol", "ProbeLineProtocol"]


class ProbeDatagramProtocol(DatagramProtocol):
    """
    Requests as datagrams to one server; each datagram back is a reply.

    The port is connected to the server, so the kernel drops datagrams from
    anyone else and reports an ICMP port-unreachable: as L{connectionRefused},
    or (Twisted's epoll reactor takes the socket's error for a hang-up) by
    closing the port, which L{stopProtocol} reports the same way unless
    C{closing} was set first.

    @ivar closing: Set before closing the port on purpose.
    @ivar onReply: Called with each reply.
    """

    closing = False

    def __init__(
        self,
        server: Tuple[str, int],
        onReply: Callable[[bytes], object],
        onRefused: Callable[[bool], object],
    ) -> None:
        self._server = server
        self.onReply = onReply
        self._onRefused = onRefused

    def startProtocol(self) -> None:
        assert self.transport is not None
        self.transport.connect(*self._server)

    def send(self, request: bytes) -> None:
        """
        Send one request.  One the system will not send (C{EMSGSIZE}: larger
        than a path MTU the kernel knows, on a socket that must not fragment)
        is sent nowhere: it goes unanswered and counts as lost, which is what
        a size sweep wants to see.
        """
        if self.transport is not None:
            try:
                self.transport.write(request, self._server)
            except MessageLengthError:
                pass

    def datagramReceived(self, datagram: bytes, addr: object) -> None:
        self.onReply(datagram)

    def connectionRefused(self) -> None:
        self._onRefused(False)

    def stopProtocol(self) -> None:
        if not self.closing:
            self._onRefused(True)


class ProbeLineProtocol(Protocol):
    """
    Requests as lines on one connection, pipelined; each line back is a
    reply (without its newline).  A run of more than C{maxLine} bytes
    without a newline is handed over as one reply (it cannot verify).

    @ivar onReply: Called with each reply.
    @ivar onLost: Called with the reason when the connection goes away.
    """

    _writer: Optional[Writer] = None
    """What requests are written to, once connected."""

    _held: Optional[List[bytes]] = None
    """The requests sent while the replies of one read are handed over."""

    def __init__(self, onReply: Callable[[bytes], object], maxLine: int) -> None:
        self.onReply = onReply
        self._maxLine = maxLine
        self._buffer = b""
        self.onLost: Optional[Callable[[Failure], object]] = None

    @staticmethod
    def prepare() -> None:
        """
        Import L{sockservice._fast.switch}, which self-tests Twisted at
        import (about 10 ms): only the probe's TCP runs need it, not every
        client command, and a run does it before it times anything.
        """
        import sockservice._fast.switch  # noqa: F401

    def connectionMade(self) -> None:
        from sockservice._fast.switch import fastWriter  # see prepare

        assert self.transport is not None
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self._writer = fastWriter(self.transport)

    def send(self, request: bytes) -> None:
        """
        Send one request, with its newline: now, or with the others sent
        while the replies of one read are handed over.
        """
        held = self._held
        if held is None:
            self._write(request + b"\n")
        else:
            held.append(request)

    def _write(self, data: bytes) -> None:
        writer = self._writer or self.transport
        assert writer is not None
        writer.write(data)

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        onReply = self.onReply
        start = 0
        held: List[bytes] = []
        self._held = held
        try:
            while True:
                end = buffer.find(b"\n", start)
                if end < 0:
                    break
                onReply(buffer[start:end])
                start = end + 1
            rest = buffer[start:]
            while len(rest) > self._maxLine:
                onReply(rest[: self._maxLine])
                rest = rest[self._maxLine :]
            self._buffer = rest
        finally:
            self._held = None
            if held:
                self._write(b"\n".join(held) + b"\n")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.onLost is not None:
            self.onLost(reason)
