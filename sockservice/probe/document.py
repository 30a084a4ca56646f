# -*- test-case-name: tests.test_probesweep -*-
"""
The C{--json} document of a probe run, version 1 (its schema is
C{docs/probe-schema.json}): L{document} for the latency and connect modes,
L{sweepDocument} for C{--sizes}, L{streamDocument} for C{--stream}.  Every
mode fills every key; what a mode does not measure is empty or C{None}.
Pure: no Twisted, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from sockservice.probe.accounting import Counts
from sockservice.probe.latency import Latency
from sockservice.probe.stream import mbytesPerS, streamIntervals
from sockservice.probe.sweep import sweepFindings

if TYPE_CHECKING:
    from sockservice.probe.modes import Outcome
    from sockservice.probe.report import Gate
    from sockservice.probe.streamer import StreamOutcome
    from sockservice.probe.sweeper import SweepOutcome

__all__ = ["document", "streamDocument", "sweepDocument"]


def document(outcome: Outcome, mode: str, checked: List[Gate], exitStatus: int) -> Dict[str, Any]:
    """
    The C{--json} document of a latency or connect run.
    """
    s = outcome.settings
    q = s.schedule
    doc = _document(
        mode,
        s.protocol,
        s,
        _parameters(s.size, q.rate, q.window, q.count, q.durationS, s.timeoutS, s.connections),
        _summary(outcome.accounting.counts, outcome.elapsedS),
        outcome.accounting.latency,
        checked,
        exitStatus,
    )
    doc["connect_us"] = None if outcome.connect is None else outcome.connect.summary()
    doc["intervals"] = [
        {
            "t_s": row.tS,
            "sent": row.sent,
            "answered": row.answered,
            "lost": row.lost,
            "p50_us": row.p50Us,
            "p99_us": row.p99Us,
        }
        for row in outcome.intervals
    ]
    return doc


def sweepDocument(sweep: SweepOutcome, checked: List[Gate], exitStatus: int) -> Dict[str, Any]:
    """
    The C{--json} document of a size sweep: the counts and round trips of
    every size together, and C{sweep} with each size's.
    """
    s = sweep.settings
    parameters = _parameters(
        None, s.schedule.rate, sweep.window, sweep.count, None, s.timeoutS, s.connections
    )
    summary = _summary(sweep.counts, sweep.elapsedS)
    doc = _document("sweep", s.protocol, s, parameters, summary, sweep.latency, checked, exitStatus)
    largest, lossFrom = sweepFindings(sweep.rows)
    doc["sweep"] = {
        "range": sweep.sizes.isRange,
        "asked": list(sweep.sizes.sizes),
        "largest_ok": largest,
        "loss_from": lossFrom,
        "sizes": [row.asJSON() for row in sweep.rows],
    }
    return doc


def streamDocument(stream: StreamOutcome, checked: List[Gate], exitStatus: int) -> Dict[str, Any]:
    """
    The C{--json} document of a stream: no requests (the summary counts
    only its corrupted bytes), and C{stream} with its bytes and rates.
    """
    c = stream.check
    parameters = _parameters(None, 0.0, None, stream.count, stream.durationS, stream.timeoutS, 1)
    summary = _summary(Counts(corrupted=c.corrupted), stream.elapsedS)
    doc = _document("stream", "tcp", stream, parameters, summary, Latency(), checked, exitStatus)
    doc["stream"] = {
        "bytes_sent": c.sent,
        "bytes_received": c.received,
        "verified_bytes": c.verified,
        "corrupted_bytes": c.corrupted,
        "first_corrupt_offset": c.firstCorruption,
        "mbytes_per_s": mbytesPerS(c.verified, stream.elapsedS),
        "intervals": streamIntervals(stream.intervals),
    }
    return doc


def _parameters(
    size: Optional[int],
    rate: float,
    window: Optional[int],
    count: Optional[int],
    durationS: Optional[float],
    timeoutS: float,
    connections: int,
) -> Dict[str, Any]:
    """
    The document's C{parameters}; C{size} and C{window} are C{None} in the
    modes that have none.
    """
    return {
        "size": size,
        "rate": rate,
        "window": window,
        "count": count,
        "duration_s": durationS,
        "timeout_s": timeoutS,
        "connections": connections,
    }


def _summary(c: Counts, elapsedS: float) -> Dict[str, Any]:
    elapsed = round(elapsedS, 6)
    return {
        "sent": c.sent,
        "answered": c.answered,
        "lost": c.lost,
        "late": c.late,
        "duplicated": c.duplicated,
        "reordered": c.reordered,
        "corrupted": c.corrupted,
        "elapsed_s": elapsed,
        "rate_per_s": round(c.sent / elapsed, 3) if elapsed else 0.0,
        "loss_pct": round(100.0 * c.lost / c.sent, 3) if c.sent else 0.0,
    }


def _document(
    mode: str,
    protocol: str,
    target: Any,
    parameters: Dict[str, Any],
    summary: Dict[str, Any],
    latency: Latency,
    checked: List[Gate],
    exitStatus: int,
) -> Dict[str, Any]:
    return {
        "version": 1,
        "mode": mode,
        "protocol": protocol,
        "target": {"host": target.host, "port": target.port},
        "parameters": parameters,
        "summary": summary,
        "latency_us": latency.summary(),
        "connect_us": None,
        "percentiles": latency.percentiles(),
        "intervals": [],
        "sweep": None,
        "stream": None,
        "gates": [
            {"name": g.name, "limit": g.limit, "value": g.value, "ok": g.ok} for g in checked
        ],
        "exit_status": exitStatus,
    }
