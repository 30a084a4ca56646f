# -*- test-case-name: tests.test_probesweep -*-
"""
The size sweep (C{--sizes}), pure: which sizes it names (L{parseSizes}),
in what order they are tried (L{SizePlan}), what each size found
(L{SizeRow}) and the table that shows it (L{sweepTable}).

A list (C{64,512,1472}) is tried as given.  A range (C{64..65507}) is
tried at its lower end, at the L{MILESTONES} inside it, and at its upper
end, in ascending order.  Over UDP the ascent stops at the first size that
does not round-trip (no verified reply at all), and a bisection between
the largest that did and that one finds the limit to the byte: a path
that black-holes datagrams over N bytes shows N as the largest that
round-trips.  Over TCP every step of the range is tried (a byte stream has
no datagram limit; its throughput by size is what is measured).

No Twisted, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from sockservice.probe.accounting import Counts
from sockservice.probe.latency import Latency
from sockservice.probe.payload import HEADER

__all__ = [
    "DEFAULT_COUNT",
    "HEADING",
    "IN_FLIGHT",
    "MAX_TCP",
    "MAX_UDP",
    "MILESTONES",
    "SizePlan",
    "SizeRow",
    "Sizes",
    "parseSizes",
    "sweepFindings",
    "sweepTable",
    "tableRow",
    "windowFor",
]

MAX_UDP = 65507
"""The largest UDP payload over IPv4."""

MAX_TCP = 1 << 20
"""The largest request of a TCP sweep (a line held whole in memory)."""

DEFAULT_COUNT = 5
"""Requests per size without C{--count}."""

IN_FLIGHT = 65536
"""
Without C{--window}, the bytes of requests in flight per size: every
request at once for small sizes (so a size that is black-holed costs one
C{--timeout}, not one per request), one at a time near 64 KiB (so that
replies do not overflow a socket's receive buffer and pass for loss).
"""

MILESTONES = {
    "udp": (512, 1232, 1400, 1472, 1473, 8972, 16384, 32768),
    "tcp": tuple(1 << k for k in range(5, 20)),
}
"""
The sizes tried inside a range.  UDP: the classic DNS limit (512), the
DNS flag day's EDNS size that fits the IPv6 minimum MTU (1232), a common
VPN-safe size (1400), the largest unfragmented payload on a 1500-byte
Ethernet MTU (1472) and the first fragmented one (1473), the same limit
for 9000-byte jumbo frames (8972), then powers of two.  TCP: powers of two.
"""

_SYNTAX = (
    "--sizes must be sizes from {low} to {high}, comma-separated (64,512,1472) "
    "or a range (64..65507), not {text!r}"
)


@dataclass(frozen=True)
class Sizes:
    """
    What C{--sizes} names.

    @ivar sizes: The sizes listed, or the two ends of the range.
    @ivar isRange: Whether it is a range.
    """

    sizes: Tuple[int, ...]
    isRange: bool

    def plan(self, protocol: str) -> SizePlan:
        """
        The order of the sizes to try over C{protocol} (C{"tcp"} or C{"udp"}).
        """
        if not self.isRange:
            return SizePlan(self.sizes, search=False)
        low, high = self.sizes
        inside = [m for m in MILESTONES[protocol] if low < m < high]
        return SizePlan([low, *inside, high], search=protocol == "udp")


def parseSizes(text: str, high: int = MAX_TCP) -> Sizes:
    """
    Parse C{--sizes}: C{A,B,C} (duplicates dropped, order kept) or C{A..B}
    (A below B), each from L{HEADER} to C{high} (L{MAX_UDP} for UDP).

    @raise ValueError: With the one-line message, if C{text} is neither.
    """
    error = ValueError(_SYNTAX.format(low=HEADER, high=high, text=text))
    isRange = ".." in text
    parts = text.split("..") if isRange else text.split(",")
    if isRange and len(parts) != 2:
        raise error
    sizes: List[int] = []
    for part in parts:
        digits = part.strip()
        if not (digits.isascii() and digits.isdigit()) or int(digits) < HEADER:
            raise error
        size = int(digits)
        if size > high:
            what = "UDP payload" if high == MAX_UDP else "size"
            raise ValueError(f"--sizes: {size} is over {high}, the largest {what}")
        if size not in sizes:
            sizes.append(size)
    if isRange and (len(sizes) != 2 or sizes[0] > sizes[1]):
        raise ValueError(f"--sizes: the range {text!r} must go from a smaller size to a larger")
    return Sizes(tuple(sizes), isRange)


def windowFor(size: int, count: int) -> int:
    """
    The default window at C{size}: L{IN_FLIGHT} bytes, at least one request,
    at most C{count}.
    """
    return max(1, min(count, IN_FLIGHT // size))


class SizePlan:
    """
    The sizes to try, one after the other: L{next} says which, L{record}
    says whether it round-tripped.
    """

    def __init__(self, sizes: Sequence[int], search: bool) -> None:
        self._queue = list(sizes)
        self._search = search
        self.good: Optional[int] = None
        """The largest size that round-tripped (while searching)."""
        self.bad: Optional[int] = None
        """The smallest size above L{good} that did not (while searching)."""

    def next(self) -> Optional[int]:
        """
        The next size to try, or C{None} when the sweep is done.
        """
        if self.bad is not None:
            if self.good is None or self.bad - self.good <= 1:
                return None
            return (self.good + self.bad) // 2
        return self._queue.pop(0) if self._queue else None

    def record(self, size: int, roundTrips: bool) -> None:
        """
        C{size} was tried: did at least one request round-trip, verified?
        """
        if not self._search:
            return
        if roundTrips:
            self.good = size
        else:
            self.bad = size
            self._queue.clear()


@dataclass(frozen=True)
class SizeRow:
    """
    What the requests of one size found.

    @ivar mbytesPerS: Verified reply bytes per second, in MB (10**6 bytes).
    """

    size: int
    sent: int
    answered: int
    lost: int
    late: int
    duplicated: int
    reordered: int
    corrupted: int
    lossPct: float
    p50Us: Optional[float]
    p99Us: Optional[float]
    elapsedS: float
    mbytesPerS: float

    @classmethod
    def of(cls, size: int, counts: Counts, latency: Latency, elapsedS: float) -> SizeRow:
        """
        The row of a step of C{size} that counted C{counts} and C{latency}.
        """
        c = counts
        loss = round(100.0 * c.lost / c.sent, 3) if c.sent else 0.0
        rate = c.answered * size / elapsedS / 1e6 if elapsedS > 0 else 0.0
        return cls(
            size,
            c.sent,
            c.answered,
            c.lost,
            c.late,
            c.duplicated,
            c.reordered,
            c.corrupted,
            loss,
            latency.percentileUs(50),
            latency.percentileUs(99),
            round(elapsedS, 6),
            round(rate, 3),
        )

    def asJSON(self) -> Dict[str, object]:
        """
        The row as the C{--json} document's C{sweep.sizes} item.
        """
        return {
            "size": self.size,
            "sent": self.sent,
            "answered": self.answered,
            "lost": self.lost,
            "late": self.late,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "corrupted": self.corrupted,
            "loss_pct": self.lossPct,
            "p50_us": self.p50Us,
            "p99_us": self.p99Us,
            "elapsed_s": self.elapsedS,
            "mbytes_per_s": self.mbytesPerS,
        }


def sweepFindings(rows: Sequence[SizeRow]) -> Tuple[Optional[int], Optional[int]]:
    """
    The largest size with a verified reply, and the smallest size with a
    request lost (each C{None} if there is none).
    """
    ok = [row.size for row in rows if row.answered]
    lossy = [row.size for row in rows if row.lost]
    return (max(ok) if ok else None), (min(lossy) if lossy else None)


HEADING = "    size  sent answered  lost corrupt  loss%     p50 ms     p99 ms     MB/s"
"""The table's heading; L{tableRow} writes its rows."""


def _ms(us: Optional[float]) -> str:
    return "-" if us is None else f"{us / 1000:.3f}"


def tableRow(row: SizeRow) -> str:
    """
    One size's line of the table (also the live line of each size).
    """
    return (
        f"{row.size:8d} {row.sent:5d} {row.answered:8d} {row.lost:5d} {row.corrupted:7d} "
        f"{row.lossPct:6.1f} {_ms(row.p50Us):>10} {_ms(row.p99Us):>10} {row.mbytesPerS:8.3f}"
    )


def sweepTable(rows: Sequence[SizeRow], peer: str, protocol: str, elapsedS: float) -> str:
    """
    The closing table: every size tried, in ascending order, and what the
    sweep found.
    """
    lines = [f"--- {peer} {protocol} size sweep ---", HEADING]
    lines += [tableRow(row) for row in sorted(rows, key=lambda row: row.size)]
    largest, lossFrom = sweepFindings(rows)
    found = "largest that round-trips: " + ("none" if largest is None else f"{largest} B")
    found += "; loss from: " + ("none" if lossFrom is None else f"{lossFrom} B")
    lines.append(f"{found} ({len(rows)} sizes, time {elapsedS * 1000:.0f} ms)")
    return "\n".join(lines) + "\n"
