# -*- test-case-name: tests.test_probestream -*-
"""
The stream mode on the network: L{StreamProtocol} sends the stream on one
TCP connection while it reads the stream back, as fast as the transport
takes it (a streaming producer: it writes until the transport pauses it,
and again when it resumes it, so no more than two chunks ever wait in this
process); L{Streamer} runs it for C{--count} bytes, C{--duration} seconds
or until interrupted, closes an interval each second, and ends a stream
that stalls for C{--timeout} seconds.  The check is
L{sockservice.probe.stream.StreamCheck}.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, cast

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IPushProducer,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.client.errors import ClientError, ConnectionClosed, NoReply, describeConnectFailure
from sockservice.peer import formatPeer
from sockservice.probe.stream import StreamCheck, StreamInterval

__all__ = ["StreamOutcome", "StreamProtocol", "Streamer"]


@implementer(IPushProducer)
class StreamProtocol(Protocol):
    """
    Sends the stream (up to C{limit} bytes) and checks what comes back.

    @ivar check: The L{StreamCheck}, made when the connection is.
    @ivar sending: Whether more is to be sent.
    """

    check: StreamCheck

    def __init__(
        self,
        clock: Callable[[], int],
        limit: Optional[int],
        onData: Callable[[], object],
        onLost: Callable[[Failure], object],
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._onData = onData
        self._onLost = onLost
        self._paused = False
        self.sending = True
        self.lost: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.check = StreamCheck(self._clock)
        cast(IConsumer, self.transport).registerProducer(self, True)
        self._pump()

    def _pump(self) -> None:
        """
        Write until the transport pauses this producer or the limit is sent.
        """
        check, limit = self.check, self._limit
        write = cast(ITCPTransport, self.transport).write
        while self.sending and not self._paused:
            write(check.nextChunk(limit))
            if limit is not None and check.sent >= limit:
                self.sending = False

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        self.sending = False

    def dataReceived(self, data: bytes) -> None:
        self.check.receive(data)
        self._onData()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.sending = False
        self._onLost(reason)
        self.lost.callback(None)


@dataclass
class StreamOutcome:
    """
    What one stream found.

    @ivar count: The bytes to send (C{--count}), or C{None}.
    @ivar error: The failure that ended the stream, or C{None}.
    """

    host: str
    port: int
    timeoutS: float
    count: Optional[int]
    durationS: Optional[float]
    check: StreamCheck
    intervals: List[StreamInterval]
    elapsedS: float
    error: Optional[ClientError] = None


class Streamer:
    """
    One run of the stream mode.

    @ivar interrupted: Whether L{interrupt} was called.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeoutS: float,
        count: Optional[int] = None,
        durationS: Optional[float] = None,
        onInterval: Callable[[StreamInterval], object] = lambda row: None,
        clock: Callable[[], int] = time.monotonic_ns,
        endpoint: Optional[IStreamClientEndpoint] = None,
    ) -> None:
        """
        @param endpoint: Where to connect; by default a L{HostnameEndpoint}
            to C{host} and C{port}, which the reports name in any case.
        """
        if endpoint is None:
            endpoint = HostnameEndpoint(reactor, host, port, timeout=timeoutS)
        self._endpoint = endpoint
        self._reactor = reactor
        self._host, self._port = host, port
        self._timeoutS = timeoutS
        self._count, self._durationS = count, durationS
        self._onInterval = onInterval
        self._clock = clock
        self.interrupted = False
        self.intervals: List[StreamInterval] = []
        self._protocol: Optional[StreamProtocol] = None
        self._done: Deferred[Optional[ClientError]] = Deferred()
        self._ticker = LoopingCall(self._tick)
        self._ticker.clock = reactor
        self._calls: List[IDelayedCall] = []
        self._lastData = 0.0
        self._elapsedS = 0.0
        self._ended = False

    @property
    def verified(self) -> int:
        """
        The bytes verified so far.
        """
        return 0 if self._protocol is None else self._protocol.check.verified

    def interrupt(self) -> None:
        """
        End the stream now, as if it had ended (Ctrl-C).
        """
        self.interrupted = True
        if self._protocol is not None:
            self._end(None)

    async def run(self) -> StreamOutcome:
        """
        Connect, stream to the end, close.

        @raise ClientError: If the connection could not be made.
        """
        protocol = StreamProtocol(self._clock, self._count, self._data, self._gone)
        try:
            await connectProtocol(self._endpoint, protocol)
        except Exception as failure:
            raise describeConnectFailure(Failure(failure), self._host, self._port) from None
        self._protocol = protocol
        self._lastData = self._reactor.seconds()
        self._ticker.start(1.0, now=False)
        self._calls.append(self._reactor.callLater(self._timeoutS, self._stalled))
        if self._durationS is not None:
            self._calls.append(self._reactor.callLater(self._durationS, self._stopSending))
        if self.interrupted:
            self._end(None)
        error = await self._done
        await protocol.lost
        return StreamOutcome(
            self._host,
            self._port,
            self._timeoutS,
            self._count,
            self._durationS,
            protocol.check,
            self.intervals,
            self._elapsedS,
            error,
        )

    def _tick(self) -> None:
        assert self._protocol is not None
        row = self._protocol.check.interval()
        self.intervals.append(row)
        self._onInterval(row)

    def _data(self) -> None:
        """
        Bytes came back: the stream is alive; is it complete?
        """
        self._lastData = self._reactor.seconds()
        protocol = self._protocol
        if protocol is not None and not protocol.sending:
            if protocol.check.received >= protocol.check.sent:
                self._end(None)

    def _stopSending(self) -> None:
        protocol = self._protocol
        assert protocol is not None
        protocol.sending = False
        self._data()

    def _stalled(self) -> None:
        """
        End the stream if nothing came back for C{--timeout} seconds.
        """
        self._calls = [call for call in self._calls if call.active()]
        remaining = self._lastData + self._timeoutS - self._reactor.seconds()
        if remaining > 0.001:  # (not less: a float clock may never get there)
            self._calls.append(self._reactor.callLater(remaining, self._stalled))
            return
        peer = formatPeer(self._host, self._port)
        self._end(NoReply(f"no data from {peer} for {self._timeoutS:g} s"))

    def _gone(self, reason: Failure) -> None:
        """
        The connection went away: a failure while the stream goes on.
        """
        peer = formatPeer(self._host, self._port)
        self._end(ConnectionClosed(f"connection to {peer} lost during the stream"))

    def _end(self, error: Optional[ClientError]) -> None:
        """
        End now: stop the timers, close the connection, say why.
        """
        protocol = self._protocol
        if self._ended or protocol is None:
            return
        self._ended = True
        for call in self._calls:
            if call.active():
                call.cancel()
        if self._ticker.running:
            self._ticker.stop()
        check = protocol.check
        self._elapsedS = check.elapsedS
        last = check.interval()
        if last.verified:
            self.intervals.append(last)
        protocol.sending = False
        if not protocol.lost.called:
            transport = cast(ITCPTransport, protocol.transport)
            cast(IConsumer, transport).unregisterProducer()
            if check.received >= check.sent:
                transport.loseConnection()
            else:
                transport.abortConnection()
        self._done.callback(error)
