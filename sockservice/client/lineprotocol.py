# -*- test-case-name: tests.test_tcpclient -*-
"""
The client side of one TCP connection: L{LineClientProtocol} sends
newline-framed requests and matches the reply lines to them in order, with a
reply timeout and a cap on a reply's length (L{MAX_REPLY_LENGTH}); requests
left waiting when the connection goes fail with L{Unanswered}.

One connection only: connecting, reconnecting and resending are
L{sockservice.client.tcp.LineClient}'s.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, List, Optional, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockservice.client.errors import ClientError, NoReply

__all__ = ["LineClientProtocol", "MAX_REPLY_LENGTH", "Unanswered"]

MAX_REPLY_LENGTH = 4 * 1024 * 1024
"""
The longest reply line accepted; a longer one aborts the connection.
"""


class Unanswered(Exception):
    """
    The connection went away before this request was answered.
    """

    def __init__(self, reason: Failure) -> None:
        super().__init__(reason)
        self.reason = reason


class LineClientProtocol(Protocol):
    """
    Send newline-framed requests and hand each reply line to its request.

    A reply is the bytes up to the next newline. When the server closes the
    connection while the only request sent on it is waiting, the bytes
    received so far are its reply (the textbook server may reply without a
    newline, then close). Other waiting requests fail with L{Unanswered}
    when the connection goes away. If no byte arrives for C{timeout} seconds
    while a request waits, they fail with L{NoReply} and the connection is
    aborted.

    @ivar sent: How many requests were sent on this connection.
    @ivar replies: How many replies were received on this connection.
    @ivar closedByUs: Whether this side ended the connection.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        peer: str,
        timeout: float,
        maxReplyLength: int = MAX_REPLY_LENGTH,
    ) -> None:
        """
        @param clock: Schedules the reply timeout.
        @param peer: The server, as printed in errors.
        @param timeout: Seconds to wait for the next byte of a reply.
        @param maxReplyLength: The longest reply line accepted.
        """
        self.sent = 0
        self.replies = 0
        self.closedByUs = False
        self._clock = clock
        self._peer = peer
        self._timeout = timeout
        self._maxReplyLength = maxReplyLength
        self._waiting: Deque[Deferred[bytes]] = deque()
        self._buffer = bytearray()
        self._timer: Optional[IDelayedCall] = None
        self._closeObservers: List[Deferred[None]] = []
        self._lost = False

    def request(self, line: bytes) -> Deferred[bytes]:
        """
        Send one request line.

        @param line: The request, without a newline.
        @return: Fires with the reply line (without its newline).
        """
        if b"\n" in line:
            raise ValueError("a request line cannot contain a newline")
        assert self.transport is not None
        self.sent += 1
        waiting: Deferred[bytes] = Deferred()
        self._waiting.append(waiting)
        self.transport.write(line + b"\n")
        self._armTimer()
        return waiting

    @property
    def waiting(self) -> int:
        """
        How many requests are waiting for their reply.
        """
        return len(self._waiting)

    def disconnect(self) -> None:
        """
        End the connection from this side.
        """
        self.closedByUs = True
        if self.transport is not None and not self._lost:
            self.transport.loseConnection()

    def whenClosed(self) -> Deferred[None]:
        """
        @return: Fires once the connection is gone.
        """
        if self._lost:
            return succeed(None)
        observer: Deferred[None] = Deferred()
        self._closeObservers.append(observer)
        return observer

    def dataReceived(self, data: bytes) -> None:
        """
        Match complete reply lines to the requests waiting, oldest first.
        """
        if not self._waiting:
            self._log.warn(
                "ignoring {count} unsolicited bytes from {peer}",
                count=len(data),
                peer=self._peer,
                event="client_unsolicited_bytes",
            )
            return
        self._buffer += data
        while self._waiting:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            reply = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self.replies += 1
            self._waiting.popleft().callback(reply)
        if not self._waiting:
            self._buffer.clear()
        elif len(self._buffer) > self._maxReplyLength:
            self._abort(
                ClientError(f"reply from {self._peer} is longer than {self._maxReplyLength} bytes")
            )
            return
        self._armTimer()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Deliver a reply that ended with the connection, fail the rest.
        """
        self._lost = True
        self._cancelTimer()
        if (
            self._buffer
            and not self.closedByUs
            and self.sent == 1
            and self.replies == 0
            and self._waiting
        ):
            self.replies += 1
            reply, self._buffer = bytes(self._buffer), bytearray()
            self._waiting.popleft().callback(reply)
        waiting, self._waiting = self._waiting, deque()
        for request in waiting:
            request.errback(Unanswered(reason))
        observers, self._closeObservers = self._closeObservers, []
        for observer in observers:
            observer.callback(None)

    def _abort(self, error: ClientError) -> None:
        """
        Fail every waiting request with C{error} and abort the connection.
        """
        self._cancelTimer()
        self.closedByUs = True
        waiting, self._waiting = self._waiting, deque()
        for request in waiting:
            request.errback(error)
        if self.transport is not None and not self._lost:
            cast(ITCPTransport, self.transport).abortConnection()

    def _armTimer(self) -> None:
        """
        Restart the reply timeout while requests wait; stop it otherwise.
        """
        if not self._waiting:
            self._cancelTimer()
        elif self._timer is not None and self._timer.active():
            self._timer.reset(self._timeout)
        else:
            self._timer = self._clock.callLater(self._timeout, self._timedOut)

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timedOut(self) -> None:
        self._timer = None
        self._abort(NoReply(f"no reply from {self._peer} within {self._timeout:g} s"))
