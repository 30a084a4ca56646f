# -*- test-case-name: tests.test_probestream -*-
"""
The stream mode (C{--stream}), pure: the bytes it sends, the check of every
byte that comes back, its throughput each second, and its summary.

The stream is lowercase letters, the byte at offset C{k} being the
C{k % 26}th: upper-casing keeps it byte for byte, so the byte expected back
at offset C{k} is known without keeping anything that was sent.
L{StreamCheck} compares what comes back, chunk by chunk however it is
split, counts the verified and the corrupted bytes, and keeps the first
corrupted offset.  No Twisted, no I/O; the clock is a parameter (monotonic
nanoseconds).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

__all__ = [
    "CHUNK",
    "StreamCheck",
    "StreamInterval",
    "mbytesPerS",
    "streamIntervals",
    "streamLine",
    "streamSummary",
]

_ALPHABET = string.ascii_lowercase.encode("ascii")

CHUNK = 26 * 2520
"""
The bytes of one write (65,520): whole alphabets, so that every full write
starts at letter C{a} and is the same C{bytes} object.
"""

_LOWER = _ALPHABET * (CHUNK // 26)
_UPPER = _ALPHABET.upper() * (4 * CHUNK // 26 + 1)
_PIECE = len(_UPPER) - 26
"""The longest run of received bytes compared at once (about 256 KiB)."""


@dataclass(frozen=True)
class StreamInterval:
    """
    One interval of a stream (a second, usually).

    @ivar tS: When it ended, in seconds from the start.
    @ivar verified: The bytes verified during it.
    @ivar mbytesPerS: Their rate, in MB (10**6 bytes) a second.
    """

    tS: float
    verified: int
    mbytesPerS: float


class StreamCheck:
    """
    The bytes sent and the check of the bytes received.

    @ivar sent: Bytes handed to the network.
    @ivar received: Bytes that came back.
    @ivar verified: Bytes that came back as expected.
    @ivar corrupted: Bytes that came back different (or beyond what was sent).
    @ivar firstCorruption: The stream offset of the first corrupted byte,
        or C{None}.
    @ivar startNs: When the check was made.
    """

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self.sent = 0
        self.received = 0
        self.verified = 0
        self.corrupted = 0
        self.firstCorruption: Optional[int] = None
        self.startNs = clock()
        self._markNs = self.startNs
        self._markVerified = 0

    def nextChunk(self, limit: Optional[int] = None) -> bytes:
        """
        The next bytes to send (at most L{CHUNK}, and never beyond C{limit}
        bytes in all); count them sent.
        """
        size = CHUNK if limit is None else max(0, min(CHUNK, limit - self.sent))
        # Every write but the last is a full CHUNK: each starts at "a".
        data = _LOWER if size == CHUNK else _LOWER[:size]
        self.sent += size
        return data

    def receive(self, data: bytes) -> None:
        """
        Check bytes that came back, in order.
        """
        offset = self.received
        self.received += len(data)
        expected = min(len(data), max(0, self.sent - offset))
        position = 0
        while position < expected:
            take = min(expected - position, _PIECE)
            piece = data if take == len(data) else data[position : position + take]
            phase = (offset + position) % 26
            wanted = _UPPER[phase : phase + take]
            if piece == wanted:
                self.verified += take
            else:
                self._differs(piece, wanted, offset + position)
            position += take
        if len(data) > expected:
            # More than was sent: none of it can be an answer.
            self._spoiled(len(data) - expected, offset + expected)

    def _differs(self, piece: bytes, wanted: bytes, at: int) -> None:
        """
        Count the bytes of C{piece} that differ from C{wanted}.
        """
        bad = sum(a != b for a, b in zip(piece, wanted))
        self.verified += len(piece) - bad
        first = next(i for i, (a, b) in enumerate(zip(piece, wanted)) if a != b)
        self._spoiled(bad, at + first)

    def _spoiled(self, count: int, at: int) -> None:
        self.corrupted += count
        if self.firstCorruption is None:
            self.firstCorruption = at

    @property
    def elapsedS(self) -> float:
        """
        Seconds since the start.
        """
        return (self._clock() - self.startNs) / 1e9

    def interval(self) -> StreamInterval:
        """
        Close the current interval: the bytes verified since the previous
        call (or the start), and their rate.
        """
        now = self._clock()
        seconds = (now - self._markNs) / 1e9
        verified = self.verified - self._markVerified
        rate = verified / seconds / 1e6 if seconds > 0 else 0.0
        self._markNs, self._markVerified = now, self.verified
        return StreamInterval(round((now - self.startNs) / 1e9, 3), verified, round(rate, 3))


def mbytesPerS(verified: int, elapsedS: float) -> float:
    """
    C{verified} bytes over C{elapsedS} seconds, in MB a second.
    """
    return round(verified / elapsedS / 1e6, 3) if elapsedS > 0 else 0.0


def streamSummary(check: StreamCheck, elapsedS: float, peer: str) -> str:
    """
    The closing statistics of a stream.
    """
    c = check
    lines = [
        f"--- {peer} tcp stream statistics ---",
        f"{c.sent} bytes sent, {c.received} received, {c.verified} verified, "
        f"{c.corrupted} corrupted, time {elapsedS * 1000:.0f} ms, "
        f"{mbytesPerS(c.verified, elapsedS):.3f} MB/s verified",
    ]
    if c.firstCorruption is not None:
        lines.append(f"first corrupted byte at stream offset {c.firstCorruption}")
    return "\n".join(lines) + "\n"


def streamLine(row: StreamInterval, verified: int, progress: Optional[float]) -> str:
    """
    The line of one second on a terminal: its verified rate, the total so
    far, and the progress in percent with C{--count} or C{--duration}.
    """
    text = f"t={row.tS:.0f}s verified={row.mbytesPerS:.3f} MB/s total={verified / 1e6:.3f} MB"
    if progress is not None:
        filled = int(min(progress, 100.0) / 5)
        text += f" [{'#' * filled}{'.' * (20 - filled)}] {progress:.0f}%"
    return text


def streamIntervals(rows: Sequence[StreamInterval]) -> List[Dict[str, object]]:
    """
    The intervals as the C{--json} document's C{stream.intervals}.
    """
    return [{"t_s": r.tS, "verified": r.verified, "mbytes_per_s": r.mbytesPerS} for r in rows]
