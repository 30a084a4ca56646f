# -*- test-case-name: tests.test_probepacing -*-
"""
The schedule of a request/response run on the reactor's clock: L{Pacer}
sends at C{--rate} per second (or as fast as the window allows) with at most
C{--window} requests waiting, for C{--count} requests or C{--duration}
seconds; counts the lost ones when their timeout ends; closes an interval
each second; and ends once every request is answered or lost.

The network is behind the senders it is given (each a callable taking the
request's bytes); replies come back through L{Pacer.replied}.  The
accounting is L{sockservice.probe.accounting.Accounting}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall

from sockservice.probe.accounting import Accounting, Interval

__all__ = ["Pacer", "Schedule"]


@dataclass(frozen=True)
class Schedule:
    """
    How a run sends.

    @ivar rate: Requests per second; 0 for as fast as the window allows.
    @ivar window: The most requests waiting at once.
    @ivar count: How many to send, or C{None}.
    @ivar durationS: For how long to send, or C{None} (with C{count} too,
        until Ctrl-C).
    """

    rate: float
    window: int
    count: Optional[int]
    durationS: Optional[float]


class Pacer:
    """
    One run: sends, timeouts, intervals, and its end.

    @ivar intervals: The intervals closed so far, one a second.
    @ivar done: Fires with C{None} when the run ends (or with the failure
        given to L{fail}).
    @ivar elapsedS: How long the run sent, once it ended.
    """

    def __init__(
        self,
        reactor: IReactorTime,
        accounting: Accounting,
        schedule: Schedule,
        senders: Sequence[Callable[[bytes], object]],
        clock: Callable[[], int],
        onInterval: Callable[[Interval], object] = lambda row: None,
    ) -> None:
        self._reactor = reactor
        self.accounting = accounting
        self.schedule = schedule
        self._senders = list(senders)
        self._next = 0
        self._clock = clock
        self._onInterval = onInterval
        self.intervals: List[Interval] = []
        self.done: Deferred[None] = Deferred()
        self.elapsedS = 0.0
        self._sending = False
        self._startS = 0.0
        self._sendCall: Optional[IDelayedCall] = None
        self._expiryCall: Optional[IDelayedCall] = None
        self._endCall: Optional[IDelayedCall] = None
        self._ticker = LoopingCall(self._tick)
        self._ticker.clock = reactor

    def start(self) -> Deferred[None]:
        """
        Start sending; return L{done}.
        """
        self._sending = True
        self._startS = self._reactor.seconds()
        self._ticker.start(1.0, now=False)
        if self.schedule.durationS is not None:
            self._endCall = self._reactor.callLater(self.schedule.durationS, self.stopSending)
        self.pump()
        return self.done

    def _tick(self) -> None:
        """
        Close an interval.
        """
        row = self.accounting.interval()
        self.intervals.append(row)
        self._onInterval(row)

    def pump(self) -> None:
        """
        Send what is due and the window allows; schedule the next send.
        """
        if not self._sending or self._sendCall is not None:
            return
        schedule = self.schedule
        counts = self.accounting.counts
        now = self._reactor.seconds()
        while self._sending and self.accounting.waiting < schedule.window:
            if schedule.count is not None and counts.sent >= schedule.count:
                self.stopSending()
                break
            if schedule.rate > 0:
                due = self._startS + counts.sent / schedule.rate
                if due > now:
                    self._sendCall = self._reactor.callLater(due - now, self._due)
                    break
            sender = self._senders[self._next]
            self._next = (self._next + 1) % len(self._senders)
            sender(self.accounting.nextRequest())
        self._watch()

    def _due(self) -> None:
        self._sendCall = None
        self.pump()

    def _watch(self) -> None:
        """
        Count the lost; keep a timer on the oldest waiting request.
        """
        if self._expiryCall is not None or self.done.called:
            return
        deadline = self.accounting.expire()
        if deadline is not None:
            delay = max(0.0, (deadline - self._clock()) / 1e9)
            self._expiryCall = self._reactor.callLater(delay, self._expired)
        self._maybeDone()

    def _expired(self) -> None:
        self._expiryCall = None
        self._watch()
        self.pump()

    def replied(self, reply: bytes) -> None:
        """
        Account for a reply; send what the freed window allows.
        """
        self.accounting.replied(reply)
        if self._sending:
            self.pump()
        else:
            self._maybeDone()

    def stopSending(self) -> None:
        """
        Send no more; end once every request is answered or lost.
        """
        if self._sending:
            self._sending = False
            for call in (self._sendCall, self._endCall):
                if call is not None and call.active():
                    call.cancel()
            self._sendCall = self._endCall = None
        self._maybeDone()

    def _maybeDone(self) -> None:
        if not self._sending and not self.accounting.waiting:
            self.stop()

    def stop(self, failure: Optional[BaseException] = None) -> None:
        """
        End now (Ctrl-C, or a failure): whatever still waits is lost.
        """
        if self.done.called:
            return
        self._sending = False
        self.elapsedS = max(0.0, self._reactor.seconds() - self._startS)
        for call in (self._sendCall, self._endCall, self._expiryCall):
            if call is not None and call.active():
                call.cancel()
        if self._ticker.running:
            self._ticker.stop()
        self.accounting.finish()
        last = self.accounting.interval()
        if last.sent or last.answered or last.lost:
            self.intervals.append(last)
        if failure is None:
            self.done.callback(None)
        else:
            self.done.errback(failure)
