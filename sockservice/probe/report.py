# -*- test-case-name: tests.test_probereport -*-
"""
What a probe run says: the gates and the exit status, the closing summary
in the style of C{ping}, and the live line of each second (the C{--json}
document is L{sockservice.probe.document}).  Pure: no Twisted, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from sockservice.probe.accounting import Interval
from sockservice.probe.modes import Outcome
from sockservice.probe.streamer import StreamOutcome
from sockservice.probe.sweeper import SweepOutcome

__all__ = [
    "GATE_FAILED",
    "Gate",
    "INTERRUPTED",
    "exitStatus",
    "gates",
    "liveLine",
    "lossPct",
    "streamGates",
    "summaryText",
    "sweepGates",
]

GATE_FAILED = 3
"""The exit status when a gate fails."""

INTERRUPTED = 130
"""The exit status when Ctrl-C came before any reply."""


@dataclass(frozen=True)
class Gate:
    """
    One gate: C{value} must not exceed C{limit}.
    """

    name: str
    limit: float
    value: float

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def describe(self) -> str:
        """
        One line saying how the gate went.
        """
        what = {"max-loss": "loss {}%", "max-p99": "p99 {} ms", "max-corrupt": "{} corrupted"}
        verdict = "<=" if self.ok else ">"
        value = what[self.name].format(_number(self.value))
        return f"{self.name}: {value} {verdict} {_number(self.limit)}"


def _number(value: float) -> str:
    return f"{value:.6g}"


def lossPct(outcome: Outcome) -> float:
    """
    The share of the requests sent that were lost, in percent.
    """
    c = outcome.accounting.counts
    return round(100.0 * c.lost / c.sent, 3) if c.sent else 0.0


def gates(
    outcome: Outcome,
    maxLoss: Optional[float],
    maxP99: Optional[float],
    maxCorrupt: Optional[int],
) -> List[Gate]:
    """
    The gates asked for, checked against C{outcome}.  With no reply at all,
    p99 is taken as the timeout.
    """
    found = []
    if maxLoss is not None:
        found.append(Gate("max-loss", maxLoss, lossPct(outcome)))
    if maxP99 is not None:
        p99 = outcome.accounting.latency.percentileUs(99)
        value = outcome.settings.timeoutS * 1000 if p99 is None else p99 / 1000
        found.append(Gate("max-p99", maxP99, value))
    if maxCorrupt is not None:
        found.append(Gate("max-corrupt", maxCorrupt, outcome.accounting.counts.corrupted))
    return found


def sweepGates(
    sweep: SweepOutcome,
    maxLoss: Optional[float],
    maxP99: Optional[float],
    maxCorrupt: Optional[int],
) -> List[Gate]:
    """
    The gates of a size sweep: the worst size's loss, the worst p99 of the
    sizes answered (the timeout if none was), and every corrupted reply.
    """
    found = []
    if maxLoss is not None:
        found.append(Gate("max-loss", maxLoss, max((r.lossPct for r in sweep.rows), default=0.0)))
    if maxP99 is not None:
        p99s = [r.p99Us / 1000 for r in sweep.rows if r.p99Us is not None]
        found.append(Gate("max-p99", maxP99, max(p99s, default=sweep.settings.timeoutS * 1000)))
    if maxCorrupt is not None:
        found.append(Gate("max-corrupt", maxCorrupt, sweep.counts.corrupted))
    return found


def streamGates(stream: StreamOutcome, maxCorrupt: Optional[int]) -> List[Gate]:
    """
    The gate of a stream: its corrupted bytes.
    """
    if maxCorrupt is None:
        return []
    return [Gate("max-corrupt", maxCorrupt, stream.check.corrupted)]


def exitStatus(
    failed: bool, error: Optional[Exception], sent: int, replied: int, interrupted: bool
) -> int:
    """
    The status of a run: 1 on a network failure, or when nothing came back
    to what was sent; 130 when interrupted before anything came back; 3 when
    a gate C{failed}; else 0.
    """
    if error is not None or (sent and not replied and not interrupted):
        return 1
    if interrupted and not replied:
        return INTERRUPTED
    return GATE_FAILED if failed else 0


def _ms(us: Optional[float]) -> str:
    return "-" if us is None else f"{us / 1000:.3f}"


def summaryText(outcome: Outcome, peer: str) -> str:
    """
    The closing statistics, as C{ping} prints them, with percentiles.
    """
    s = outcome.settings
    c = outcome.accounting.counts
    lat = outcome.accounting.latency.summary()
    elapsed = outcome.elapsedS
    rate = c.sent / elapsed if elapsed else 0.0
    lines = [
        f"--- {peer} {s.protocol} probe statistics ---",
        f"{c.sent} sent, {c.answered} answered, {lossPct(outcome):g}% loss "
        f"({c.lost} lost, {c.late} late), {c.duplicated} duplicated, "
        f"{c.reordered} reordered, {c.corrupted} corrupted, "
        f"time {elapsed * 1000:.0f} ms, {rate:.1f}/s",
        "latency ms: min/p50/p90/p99/p99.9/max = "
        + "/".join(_ms(lat[k]) for k in ("min", "p50", "p90", "p99", "p999", "max"))
        + f", mean {_ms(lat['mean'])}, stddev {_ms(lat['stddev'])}",
    ]
    if outcome.connect is not None:
        con = outcome.connect.summary()
        lines.append(
            "connect ms: min/p50/p99/max = "
            + "/".join(_ms(con[k]) for k in ("min", "p50", "p99", "max"))
        )
    first = outcome.accounting.firstCorruption
    if first is not None:
        which = "an unknown request" if first[0] is None else f"request {first[0]}"
        lines.append(f"first corrupted reply: to {which}, first differing offset {first[1]}")
    return "\n".join(lines) + "\n"


def liveLine(row: Interval, sentTotal: int, progress: Optional[float]) -> str:
    """
    The line of one second on a terminal: the second's counts, loss and
    percentiles, and the progress in percent with C{--count} or
    C{--duration}.
    """
    loss = 100.0 * row.lost / row.sent if row.sent else 0.0
    text = (
        f"t={row.tS:.0f}s sent={row.sent} received={row.answered} loss={loss:.1f}% "
        f"p50={_ms(row.p50Us)}ms p99={_ms(row.p99Us)}ms rate={row.sent}/s total={sentTotal}"
    )
    if progress is not None:
        filled = int(min(progress, 100.0) / 5)
        text += f" [{'#' * filled}{'.' * (20 - filled)}] {progress:.0f}%"
    return text
