# -*- test-case-name: tests.test_probeaccounting -*-
"""
The probe's bookkeeping, pure: which request was sent when, which reply
answers which, and what each reply or silence counts as.

L{Accounting} numbers the requests, verifies every reply byte for byte
against the request upper-cased, and counts:

  - B{answered}: a verified reply to a request still waiting (its latency
    is recorded);
  - B{corrupted}: a reply that is not exactly a request upper-cased (the
    first one's sequence number and first differing offset are kept); it
    ends its request's wait if its header names one;
  - B{lost}: a request with no reply within the timeout (and, when the run
    ends, every request still waiting);
  - B{late}: a verified reply to a request already counted lost;
  - B{duplicated}: a verified reply to a request already answered;
  - B{reordered}: an answered reply whose sequence number is lower than one
    answered before it.

Memory is bounded whatever the count: the waiting requests (at most the
window), the send time and state of the last L{RING} requests, and HDR
histograms.  A reply to an older request counts as late, unverified.  The
clock is a parameter (monotonic nanoseconds).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from sockservice.probe.latency import Latency
from sockservice.probe.payload import (
    HEADER,
    decodeHeader,
    encodeHeader,
    expectedReply,
    firstDifference,
    padding,
)

__all__ = ["Accounting", "Counts", "Interval", "RING"]

RING = 1 << 17
"""How many recent requests are remembered for late or duplicated replies."""

_UNUSED, _WAITING, _ANSWERED, _LOST, _LATE, _SPOILED = range(6)


@dataclass
class Counts:
    """
    What happened to the requests and replies so far.
    """

    sent: int = 0
    answered: int = 0
    lost: int = 0
    late: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0


@dataclass(frozen=True)
class Interval:
    """
    One interval of a run (a second, usually).

    @ivar tS: When it ended, in seconds from the start.
    """

    tS: float
    sent: int
    answered: int
    lost: int
    p50Us: Optional[float]
    p99Us: Optional[float]


class Accounting:
    """
    The requests and replies of one run of fixed-size requests.

    @ivar size: The size of each request.
    @ivar counts: The L{Counts}.
    @ivar latency: Every answered request's round trip.
    @ivar recent: The round trips of the current interval.
    @ivar firstCorruption: The sequence number (or C{None} if the header
        was unreadable) and first differing offset of the first corrupted
        reply, or C{None}.
    @ivar startNs: When the accounting was made.
    """

    def __init__(self, size: int, timeoutNs: int, clock: Callable[[], int]) -> None:
        self.size = size
        self._timeoutNs = timeoutNs
        self._clock = clock
        self.counts = Counts()
        self.latency = Latency()
        self.recent = Latency()
        self.firstCorruption: Optional[Tuple[Optional[int], int]] = None
        self.startNs = clock()
        self._waiting: OrderedDict[int, int] = OrderedDict()
        self._sentAt = array("q", bytes(8 * RING))
        self._state = bytearray(RING)
        self._highest = -1
        self._mark = (0, 0, 0)
        self._padding = padding(size)
        self._upperPadding = self._padding.upper()

    @property
    def waiting(self) -> int:
        """
        How many requests wait for their reply.
        """
        return len(self._waiting)

    def nextRequest(self) -> bytes:
        """
        Number, time and encode the next request; count it sent.
        """
        sequence = self.counts.sent
        now = self._clock()
        slot = sequence % RING
        self._sentAt[slot] = now
        self._state[slot] = _WAITING
        self._waiting[sequence] = now
        self.counts.sent += 1
        return encodeHeader(sequence, now) + self._padding

    def replied(self, reply: bytes) -> None:
        """
        Account for one reply (a datagram, or a line without its newline).
        """
        now = self._clock()
        header = decodeHeader(reply)
        sequence = -1 if header is None else header[0]
        sent = self.counts.sent
        if sent - RING <= sequence < sent and header == (sequence, self._sentAt[sequence % RING]):
            # The header decodes to exactly one string of letters, so it is
            # the request's upper-cased: the reply is the request
            # upper-cased (expectedReply) if the rest is the padding's.
            if reply[HEADER:] == self._upperPadding:
                self._verified(sequence, now)
                return
        elif 0 <= sequence < sent - RING and header is not None:
            self.counts.late += 1
            return
        self._corrupted(reply)

    def _verified(self, sequence: int, now: int) -> None:
        """
        Count a verified reply to C{sequence}.
        """
        slot = sequence % RING
        state = self._state[slot]
        sentAt = self._sentAt[slot]
        if state == _WAITING and now - sentAt > self._timeoutNs:
            # Its timeout passed and the timer has not run yet.
            self._expire(sequence)
            state = _LOST
        if state == _WAITING:
            del self._waiting[sequence]
            self._state[slot] = _ANSWERED
            self.counts.answered += 1
            if sequence < self._highest:
                self.counts.reordered += 1
            else:
                self._highest = sequence
            self.latency.record(now - sentAt)
            self.recent.record(now - sentAt)
        elif state == _LOST:
            self._state[slot] = _LATE
            self.counts.late += 1
        else:
            self.counts.duplicated += 1

    def _corrupted(self, reply: bytes) -> None:
        """
        Count a corrupted reply, and end the wait of the request it most
        likely answers (the waiting one whose reply it is closest to, if
        more than half its bytes match, ignoring case: an echo answers its
        request); remember the first.
        """
        self.counts.corrupted += 1
        best: Optional[Tuple[int, int]] = None
        reply, raw = reply.upper(), reply
        for sequence, sentAt in self._waiting.items():
            expected = expectedReply(sequence, sentAt, self.size)
            distance = abs(len(expected) - len(reply))
            distance += sum(a != b for a, b in zip(expected, reply))
            if best is None or distance < best[0]:
                best = (distance, sequence)
        found: Optional[int] = None
        if best is not None and best[0] * 2 < self.size:
            found = best[1]
            del self._waiting[found]
            self._state[found % RING] = _SPOILED
        if self.firstCorruption is None:
            if found is None:
                offset = _headerOffset(raw)
            else:
                expected = expectedReply(found, self._sentAt[found % RING], self.size)
                offset = firstDifference(expected, raw) or 0
            self.firstCorruption = (found, offset)

    def _expire(self, sequence: int) -> None:
        """
        Count a waiting request lost.
        """
        del self._waiting[sequence]
        self._state[sequence % RING] = _LOST
        self.counts.lost += 1

    def expire(self) -> Optional[int]:
        """
        Count lost every request waiting longer than the timeout.

        @return: When the next one's timeout ends (monotonic nanoseconds),
            or C{None} if none waits.
        """
        now = self._clock()
        while self._waiting:
            sequence, sentAt = next(iter(self._waiting.items()))
            if now - sentAt < self._timeoutNs:
                return sentAt + self._timeoutNs
            self._expire(sequence)
        return None

    def finish(self) -> None:
        """
        End the run: every request still waiting is lost.
        """
        for sequence in list(self._waiting):
            self._expire(sequence)

    def interval(self) -> Interval:
        """
        Close the current interval: its counts and percentiles, from the
        previous call (or the start).
        """
        c = self.counts
        sent, answered, lost = self._mark
        row = Interval(
            round((self._clock() - self.startNs) / 1e9, 3),
            c.sent - sent,
            c.answered - answered,
            c.lost - lost,
            self.recent.percentileUs(50),
            self.recent.percentileUs(99),
        )
        self._mark = (c.sent, c.answered, c.lost)
        self.recent.reset()
        return row


def _headerOffset(reply: bytes) -> int:
    """
    The offset of the first byte of an unreadable reply that no upper-cased
    header could hold there.
    """
    for offset, byte in enumerate(reply[:28]):
        if not 0x41 <= byte <= 0x50:
            return offset
    return len(reply)
