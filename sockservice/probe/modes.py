# -*- test-case-name: tests.test_probepacing -*-
"""
The probe's modes on the network: L{Probe} runs request/response latency
over UDP or TCP (pipelined on C{--connections} connections), or the
textbook pattern per request with C{--connect} (connect, send, receive,
close), and can be interrupted (Ctrl-C) to end as if the run had ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Set, cast

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.interfaces import ITCPTransport
from twisted.python.failure import Failure

from sockservice.client.errors import (
    ClientError,
    ConnectFailed,
    describeConnectFailure,
    describeLoss,
)
from sockservice.client.resolve import hostAddress
from sockservice.client.udp import closePort, openPort
from sockservice.peer import formatPeer
from sockservice.probe.accounting import Accounting, Interval
from sockservice.probe.latency import Latency
from sockservice.probe.pacing import Pacer, Schedule
from sockservice.probe.transports import ProbeDatagramProtocol, ProbeLineProtocol

__all__ = ["Outcome", "Probe", "Settings"]


@dataclass(frozen=True)
class Settings:
    """
    What to probe, and how.
    """

    protocol: str
    host: str
    port: int
    size: int
    schedule: Schedule
    timeoutS: float
    connections: int = 1


@dataclass
class Outcome:
    """
    What one run found.

    @ivar connect: The connect times (C{--connect} mode), or C{None}.
    @ivar error: The network failure that ended the run, or C{None}.
    """

    settings: Settings
    accounting: Accounting
    intervals: List[Interval]
    elapsedS: float
    connect: Optional[Latency] = None
    error: Optional[ClientError] = None
    extra: dict = field(default_factory=dict)  # type: ignore[type-arg]


class Probe:
    """
    One run of the latency mode (or the connect mode).

    @ivar pacer: The run's L{Pacer}, once it started.
    @ivar interrupted: Whether L{interrupt} was called.
    """

    def __init__(
        self,
        reactor: Any,
        settings: Settings,
        onInterval: Callable[[Interval], object] = lambda row: None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._reactor = reactor
        self.settings = settings
        self._onInterval = onInterval
        self._clock = clock
        self.pacer: Optional[Pacer] = None
        self.interrupted = False
        self.accounting = Accounting(settings.size, int(settings.timeoutS * 1e9), clock)

    def interrupt(self) -> None:
        """
        End the run as if it had ended (Ctrl-C): send no more, and end once
        the requests in flight are answered or, after the timeout, lost (a
        request sent just before Ctrl-C is not counted lost unanswered).
        """
        self.interrupted = True
        if self.pacer is not None:
            self.pacer.stopSending()

    def _pacer(self, senders: List[Callable[[bytes], object]]) -> Pacer:
        self.pacer = Pacer(
            self._reactor,
            self.accounting,
            self.settings.schedule,
            senders,
            self._clock,
            self._onInterval,
        )
        return self.pacer

    def _refused(self, closed: bool) -> None:
        """
        The server's host says nothing listens there: fatal before the
        first reply or once the port is C{closed}, ignored otherwise.
        """
        pacer = self.pacer
        if pacer is not None and (closed or not self.accounting.counts.answered):
            peer = formatPeer(self.settings.host, self.settings.port)
            pacer.stop(ConnectFailed(f"connection refused by {peer}"))

    async def run(self, connect: bool = False) -> Outcome:
        """
        Run to the end, or until interrupted.

        @param connect: Time connect, send, receive, close per request
            (TCP only).
        @raise ClientError: If no connection could be made at all.
        """
        if connect:
            outcome = await self._connectMode()
        elif self.settings.protocol == "udp":
            outcome = await self._udp()
        else:
            outcome = await self._tcp()
        return outcome

    async def _finish(self, pacer: Pacer) -> Optional[ClientError]:
        if self.interrupted:
            pacer.stop()
        try:
            await pacer.start() if not pacer.done.called else pacer.done
        except ClientError as error:
            return error
        return None

    def _outcome(self, error: Optional[ClientError], connect: Optional[Latency] = None) -> Outcome:
        pacer = self.pacer
        assert pacer is not None
        return Outcome(
            self.settings, self.accounting, pacer.intervals, pacer.elapsedS, connect, error
        )

    async def _udp(self) -> Outcome:
        s = self.settings
        address = await hostAddress(self._reactor, s.host, s.port)
        protocol = ProbeDatagramProtocol(
            (address, s.port), lambda reply: pacer.replied(reply), self._refused
        )
        listening = openPort(self._reactor, address, protocol)
        pacer = self._pacer([protocol.send])
        protocol.onReply = pacer.replied  # one call fewer per reply
        try:
            error = await self._finish(pacer)
        finally:
            protocol.closing = True
            await closePort(listening)
        return self._outcome(error)

    async def _tcp(self) -> Outcome:
        s = self.settings
        ProbeLineProtocol.prepare()
        endpoint = HostnameEndpoint(self._reactor, s.host, s.port, timeout=s.timeoutS)
        protocols = [
            ProbeLineProtocol(lambda reply: pacer.replied(reply), 2 * s.size + 64)
            for _ in range(s.connections)
        ]
        try:
            await gatherResults(
                [connectProtocol(endpoint, p) for p in protocols], consumeErrors=True
            )
        except Exception as failure:
            reason = getattr(failure, "subFailure", None) or Failure(failure)
            for p in protocols:
                if p.transport is not None:
                    p.transport.loseConnection()
            raise describeConnectFailure(reason, s.host, s.port) from None
        pacer = self._pacer([p.send for p in protocols])
        closed: List[Deferred[None]] = []
        for p in protocols:
            p.onReply = pacer.replied  # one call fewer per reply
            gone: Deferred[None] = Deferred()
            closed.append(gone)
            p.onLost = lambda reason, gone=gone: self._lost(reason, gone)
        error = await self._finish(pacer)
        for p in protocols:
            assert p.transport is not None
            p.transport.loseConnection()
        await gatherResults(closed)
        return self._outcome(error)

    def _lost(self, reason: Failure, gone: Deferred[None]) -> None:
        """
        A connection went away: fatal while the run goes on.
        """
        pacer = self.pacer
        if pacer is not None and not pacer.done.called:
            pacer.stop(describeLoss(reason, self.settings.host, self.settings.port))
        gone.callback(None)

    async def _connectMode(self) -> Outcome:
        s = self.settings
        ProbeLineProtocol.prepare()
        endpoint = HostnameEndpoint(self._reactor, s.host, s.port, timeout=s.timeoutS)
        connectTimes = Latency()
        attempts: Set[Deferred[ProbeLineProtocol]] = set()
        live: Set[ProbeLineProtocol] = set()

        def exchange(request: bytes) -> None:
            started = self._clock()

            def replied(reply: bytes) -> None:
                pacer.replied(reply)
                if protocol.transport is not None:
                    protocol.transport.loseConnection()

            protocol = ProbeLineProtocol(replied, 2 * s.size + 64)

            def connected(p: ProbeLineProtocol) -> None:
                attempts.discard(attempt)
                connectTimes.record(self._clock() - started)
                live.add(p)
                p.onLost = lambda reason: live.discard(p)
                p.send(request)

            def failed(reason: Failure) -> None:
                attempts.discard(attempt)
                if not self.accounting.counts.answered and not pacer.done.called:
                    pacer.stop(describeConnectFailure(reason, s.host, s.port))

            attempt = connectProtocol(endpoint, protocol)
            attempts.add(attempt)
            attempt.addCallbacks(connected, failed)

        pacer = self._pacer([exchange])
        error = await self._finish(pacer)
        for attempt in list(attempts):
            attempt.cancel()
        for p in list(live):
            if p.transport is not None:
                cast(ITCPTransport, p.transport).abortConnection()
        return self._outcome(error, connectTimes)
