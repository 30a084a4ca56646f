# -*- test-case-name: tests.test_lines -*-
"""
Standard input, one request per line; standard output, one reply per line.

L{LinePump} is the protocol to give L{twisted.internet.stdio.StandardIO}.
It keeps at most a window of requests unanswered and stops reading while the
window is full or standard output is backed up, so any amount of input
streams through in bounded memory.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, List, Optional

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.client.errors import ClientError

__all__ = ["LinePump", "MAX_LINE_LENGTH", "OutputClosed"]

MAX_LINE_LENGTH = 1024 * 1024
"""
The longest input line accepted.
"""


class OutputClosed(Exception):
    """
    Standard output went away (the reader of a pipe exited).
    """


class _Slot:
    """
    Where one request's outcome waits for its turn to be written.
    """

    done = False
    reply = b""
    failure: Optional[Failure] = None

    def succeed(self, reply: bytes) -> None:
        self.done, self.reply = True, reply

    def fail(self, failure: Failure) -> None:
        self.done, self.failure = True, failure


@implementer(IHalfCloseableProtocol, IPushProducer)
class LinePump(Protocol):
    """
    Send each line read through C{request}; write the replies in input order.

    A last line without a newline is sent too. The pump ends when input ends
    and every reply is written (L{done} fires with L{None}), or at the first
    request that fails (L{done} fails with its error, once the replies before
    it are written).

    @ivar done: Fires once standard output is flushed and closed.
    """

    def __init__(
        self,
        request: Callable[[bytes], Deferred[bytes]],
        window: int = 64,
        prompt: Optional[bytes] = None,
        maxLineLength: int = MAX_LINE_LENGTH,
    ) -> None:
        """
        @param request: Sends one line; fires with its reply line.
        @param window: How many requests may be unanswered at once.
        @param prompt: Written first and whenever every reply is written
            (interactive use).
        @param maxLineLength: The longest input line accepted.
        """
        self.done: Deferred[None] = Deferred()
        self._request = request
        self._window = window
        self._prompt = prompt
        self._maxLineLength = maxLineLength
        self._slots: Deque[_Slot] = deque()
        self._buffer = bytearray()
        self._endOfInput = False
        self._outputFull = False
        self._windowFull = False
        self._reading = True
        self._pumping = False
        self._again = False
        self._tooLong = False
        self._finished = False
        self._failure: Optional[Failure] = None

    @property
    def _stdio(self) -> Any:
        """
        The transport, as L{twisted.internet.stdio.StandardIO} is: it
        consumes the replies and produces the lines.
        """
        assert self.transport is not None
        return self.transport

    def connectionMade(self) -> None:
        self._stdio.registerProducer(self, True)
        if self._prompt:
            self._stdio.write(self._prompt)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        self._consume()

    def readConnectionLost(self) -> None:
        """
        Input ended: send what is left, then finish once all is answered.
        """
        self._endOfInput = True
        self._consume()

    def writeConnectionLost(self) -> None:
        """
        Output went away: nobody will read the replies, so stop.
        """
        self._stop(Failure(OutputClosed()), flush=False)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Output is flushed and closed: report the outcome.
        """
        self._finished = True
        if not self.done.called:
            if self._failure is not None:
                self.done.errback(self._failure)
            else:
                self.done.callback(None)

    # IPushProducer, as standard output's producer.

    def pauseProducing(self) -> None:
        self._outputFull = True
        self._updateReading()

    def resumeProducing(self) -> None:
        self._outputFull = False
        self._consume()

    def stopProducing(self) -> None:
        if not self._finished:
            self.writeConnectionLost()

    def _consume(self) -> None:
        """
        Write the replies next in line and send the lines the window allows,
        until nothing changes; then finish, or read on if there is room.
        """
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        wrote = False
        try:
            self._again = True
            while self._again and not self._finished:
                self._again = False
                wrote = self._writeReplies() or wrote
                if self._failure is not None:
                    self._stop(self._failure)
                    return
                self._sendLines()
        finally:
            self._pumping = False
        if self._finished:
            return
        if (self._endOfInput or self._tooLong) and not self._buffer and not self._slots:
            if self._prompt:
                self._stdio.write(b"\n")
            self._stop(None)
            return
        if wrote and self._prompt and not self._slots:
            self._stdio.write(self._prompt)
        self._updateReading()

    def _writeReplies(self) -> bool:
        """
        Write the replies that are next in line; note the first failure.

        @return: Whether anything was written.
        """
        out: List[bytes] = []
        while self._slots and self._slots[0].done:
            slot = self._slots.popleft()
            if slot.failure is not None:
                self._failure = slot.failure
                break
            out += [slot.reply, b"\n"]
        if out:
            self._stdio.writeSequence(out)
        return bool(out)

    def _sendLines(self) -> None:
        """
        Send the complete lines in the buffer, as far as the window allows.
        """
        while not self._tooLong and len(self._slots) < self._window:
            if self._outputFull:
                return
            line = self._nextLine()
            if line is None and len(self._buffer) <= self._maxLineLength:
                return
            slot = _Slot()
            self._slots.append(slot)
            if line is None or len(line) > self._maxLineLength:
                # Fails in its turn, after the replies to the lines before it.
                self._tooLong = True
                self._buffer = bytearray()
                slot.fail(
                    Failure(
                        ClientError(f"an input line is longer than {self._maxLineLength} bytes")
                    )
                )
                self._again = True
                return
            answered = maybeDeferred(self._request, line)
            answered.addCallbacks(slot.succeed, slot.fail)
            answered.addCallback(lambda ignored: self._consume())

    def _nextLine(self) -> Optional[bytes]:
        """
        Take the next complete line from the buffer (or, at the end of input,
        whatever is left).
        """
        end = self._buffer.find(b"\n")
        if end >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            return line
        if self._endOfInput and self._buffer:
            line, self._buffer = bytes(self._buffer), bytearray()
            return line
        return None

    def _updateReading(self) -> None:
        """
        Read standard input only while there is room for more requests.
        """
        if len(self._slots) >= self._window:
            self._windowFull = True
        elif len(self._slots) <= self._window // 2:
            self._windowFull = False
        reading = not (
            self._windowFull
            or self._outputFull
            or self._finished
            or self._endOfInput
            or self._tooLong
        )
        if reading != self._reading:
            self._reading = reading
            if reading:
                self._stdio.resumeProducing()
            else:
                self._stdio.pauseProducing()

    def _stop(self, failure: Optional[Failure], flush: bool = True) -> None:
        """
        Stop reading and end: after flushing output, or at once.
        """
        if self._finished:
            return
        self._failure = failure
        self._finished = True
        self._stdio.unregisterProducer()
        if flush:
            self._stdio.loseConnection()
        else:
            self._stdio.pauseProducing()
            self.connectionLost(Failure(ConnectionDone()))
