# -*- test-case-name: tests.test_tcpclient -*-
"""
The TCP client: newline-framed requests, answered in order, over as many
connections as the server needs.

L{LineClient} connects lazily through any client endpoint, pipelines
requests once a connection has shown that it stays open after a reply, and
reconnects (resending whatever was unanswered) when the server closes after
replying, which the textbook server does after every reply.

Each connection is a L{sockservice.client.lineprotocol.LineClientProtocol};
L{sockservice.client.calls.lineClient} makes a L{LineClient} for a host and
port.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, List, Optional, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure

from sockservice.client.errors import (
    ClientError,
    ConnectionClosed,
    describeConnectFailure,
    describeLoss,
)
from sockservice.client.lineprotocol import LineClientProtocol, Unanswered
from sockservice.peer import formatPeer

__all__ = ["LineClient"]


class _Request:
    """
    A request line and the L{Deferred} its caller holds.
    """

    def __init__(self, line: bytes) -> None:
        self.line = line
        self.result: Deferred[bytes] = Deferred()


class LineClient:
    """
    Requests over TCP, one line each, answered in order.

    @ivar oneShot: Whether the server was seen to close after replying; then
        every request gets a connection of its own.
    """

    def __init__(
        self,
        clock: IReactorTime,
        endpoint: IStreamClientEndpoint,
        host: str,
        port: int,
        timeout: float = 10.0,
        retries: int = 0,
        window: int = 64,
        retryDelay: float = 1.0,
    ) -> None:
        """
        @param clock: Schedules timeouts and connection retries.
        @param endpoint: Where to connect, each time a connection is needed.
        @param host: The host name, as printed in errors.
        @param port: The port, as printed in errors.
        @param timeout: Seconds to wait for the next byte of a reply.
        @param retries: How many more times to try connecting when an attempt
            fails.
        @param window: How many requests may wait on one connection at once.
        @param retryDelay: Seconds between connection attempts.
        """
        self.oneShot = False
        self._clock = clock
        self._endpoint = endpoint
        self._host = host
        self._port = port
        self._peer = formatPeer(host, port)
        self._timeout = timeout
        self._retries = retries
        self._window = window
        self._retryDelay = retryDelay
        self._queue: Deque[_Request] = deque()
        self._resend: List[_Request] = []
        self._protocol: Optional[LineClientProtocol] = None
        self._connecting: Optional[Deferred[LineClientProtocol]] = None
        self._retryCall: Optional[IDelayedCall] = None
        self._attempts = 0
        self._closed = False

    def request(self, line: bytes) -> Deferred[bytes]:
        """
        Send one request line, connecting first if needed.

        @param line: The request, without a newline.
        @return: Fires with the reply line, or fails with a L{ClientError}.
        """
        if b"\n" in line:
            raise ValueError("a request line cannot contain a newline")
        self._closed = False
        request = _Request(line)
        self._queue.append(request)
        self._pump()
        return request.result

    def close(self) -> Deferred[None]:
        """
        Drop the connection; requests not yet answered fail. A later request
        connects again.

        @return: Fires once the connection is gone.
        """
        self._closed = True
        if self._retryCall is not None and self._retryCall.active():
            self._retryCall.cancel()
        self._retryCall = None
        if self._connecting is not None:
            self._connecting.cancel()
        self._failQueued(ConnectionClosed(f"connection to {self._peer} closed"))
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return succeed(None)
        protocol.disconnect()
        return protocol.whenClosed()

    def _pump(self) -> None:
        """
        Send what may be sent now; connect if there is something to send.
        """
        protocol = self._protocol
        if protocol is not None and protocol.closedByUs:
            self._protocol = protocol = None
        if self._closed or not self._queue:
            return
        if protocol is None:
            if self._connecting is None and self._retryCall is None:
                self._connect()
        elif self.oneShot:
            if not protocol.sent:
                self._send(protocol, self._queue.popleft())
        else:
            # One request until the connection has shown it outlives a reply.
            limit = self._window if protocol.replies else 1
            while self._queue and protocol.waiting < limit:
                self._send(protocol, self._queue.popleft())

    def _send(self, protocol: LineClientProtocol, request: _Request) -> None:
        sent = protocol.request(request.line)
        sent.addCallbacks(
            self._answered,
            self._unanswered,
            callbackArgs=(request, protocol),
            errbackArgs=(request, protocol),
        )

    def _answered(self, reply: bytes, request: _Request, protocol: LineClientProtocol) -> None:
        if self.oneShot and protocol is self._protocol:
            self._protocol = None
            protocol.disconnect()
        request.result.callback(reply)
        self._pump()

    def _unanswered(self, reason: Failure, request: _Request, protocol: LineClientProtocol) -> None:
        unanswered = reason.value
        if not isinstance(unanswered, Unanswered):
            request.result.errback(reason)
            return
        if protocol.replies and not protocol.closedByUs:
            # The server answered earlier requests, then closed: ask again.
            self._resend.append(request)
            return
        request.result.errback(describeLoss(unanswered.reason, self._host, self._port))

    def _connect(self) -> None:
        factory = Factory.forProtocol(
            lambda: LineClientProtocol(self._clock, self._peer, self._timeout)
        )
        connecting = cast("Deferred[LineClientProtocol]", self._endpoint.connect(factory))
        self._connecting = connecting
        connecting.addCallbacks(self._connected, self._connectFailed)

    def _connected(self, protocol: LineClientProtocol) -> None:
        self._connecting = None
        self._attempts = 0
        self._protocol = protocol
        protocol.whenClosed().addCallback(self._lost, protocol)
        self._pump()

    def _connectFailed(self, reason: Failure) -> None:
        self._connecting = None
        if self._closed:
            return
        self._attempts += 1
        if self._attempts <= self._retries:
            self._retryCall = self._clock.callLater(self._retryDelay, self._retry)
            return
        error = describeConnectFailure(reason, self._host, self._port)
        if self._attempts > 1:
            error = type(error)(f"{error} after {self._attempts} tries")
        self._attempts = 0
        self._failQueued(error)

    def _retry(self) -> None:
        self._retryCall = None
        self._pump()

    def _lost(self, ignored: None, protocol: LineClientProtocol) -> None:
        if protocol is self._protocol:
            self._protocol = None
        if protocol.replies and not protocol.closedByUs:
            self.oneShot = True
        self._queue.extendleft(reversed(self._resend))
        self._resend = []
        self._pump()

    def _failQueued(self, error: ClientError) -> None:
        queued, self._queue = self._queue, deque()
        for request in queued:
            request.result.errback(error)
