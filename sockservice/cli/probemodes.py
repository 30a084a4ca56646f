# -*- test-case-name: tests.test_probesweep -*-
"""
The size sweep (C{--sizes}) and the stream (C{--stream}) of
C{sockservice-client probe}: run one, show it live on a terminal (a row
per size; a line per second), then write its table or summary, or its
C{--json} document, and say its exit status.  The options are
L{sockservice.cli.probe.ProbeOptions}; the work is in
L{sockservice.probe.sweeper} and L{sockservice.probe.streamer}.
"""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING, Any, Awaitable, Dict, List, Optional, TypeVar

from sockservice.cli.console import Console
from sockservice.cli.options import PROGRAM
from sockservice.client.errors import ClientError
from sockservice.peer import formatPeer
from sockservice.probe.document import streamDocument, sweepDocument
from sockservice.probe.report import Gate, exitStatus, streamGates, sweepGates
from sockservice.probe.stream import StreamInterval, streamLine, streamSummary
from sockservice.probe.streamer import Streamer
from sockservice.probe.sweep import HEADING, SizeRow, sweepTable, tableRow
from sockservice.probe.sweeper import Sweeper

if TYPE_CHECKING:
    from sockservice.cli.probe import ProbeOptions

__all__ = ["finish", "interruptibly", "runStream", "runSweep"]

_T = TypeVar("_T")


async def interruptibly(reactor: Any, probe: Any, running: Awaitable[_T]) -> _T:
    """
    Await C{running} (a run of C{probe}) with Ctrl-C calling
    C{probe.interrupt()} (once), as the previous handler was before and
    after.
    """
    try:
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda *_: reactor.callFromThread(interrupted))
    except ValueError:  # not the main thread: no Ctrl-C to catch
        return await running

    def interrupted() -> None:
        signal.signal(signal.SIGINT, previous)
        probe.interrupt()

    try:
        return await running
    finally:
        if signal.getsignal(signal.SIGINT) is not previous:
            signal.signal(signal.SIGINT, previous)


def _isLive(console: Console, options: ProbeOptions) -> bool:
    """
    Whether to show the run as it goes: on a terminal, without C{--json}.
    """
    isatty = getattr(console.stdout, "isatty", None)
    return bool(isatty and isatty()) and not options["json"]


def _say(console: Console, text: str) -> None:
    console.stdout.write(text.encode())
    console.stdout.flush()


async def runSweep(reactor: Any, options: ProbeOptions, console: Console) -> int:
    """
    C{probe --sizes}: one short run per size.
    """
    live = _isLive(console, options)
    settings = options.settings()
    rows: List[SizeRow] = []

    def onRow(row: SizeRow) -> None:
        if live:
            _say(console, ("" if rows else HEADING + "\n") + tableRow(row) + "\n")
        rows.append(row)

    sweeper = Sweeper(
        reactor, settings, options["sizes"], options["count"], options["window"], onRow
    )
    sweep = await interruptibly(reactor, sweeper, sweeper.run())
    c = sweep.counts
    replied = c.answered + c.late + c.corrupted + c.duplicated
    checked = sweepGates(sweep, options["max-loss"], options["max-p99"], options["max-corrupt"])
    failed = [g for g in checked if not g.ok]
    status = exitStatus(bool(failed), sweep.error, c.sent, replied, sweeper.interrupted)
    peer = formatPeer(settings.host, settings.port)
    if options["json"]:
        _json(console, sweepDocument(sweep, checked, status))
    elif sweep.rows:
        _say(console, sweepTable(sweep.rows, peer, settings.protocol, sweep.elapsedS))
    return finish(console, status, sweep.error, peer, failed)


async def runStream(reactor: Any, options: ProbeOptions, console: Console) -> int:
    """
    C{probe tcp --stream}: verified throughput on one connection.
    """
    live = _isLive(console, options)
    count, duration = options["count"], options["duration"]
    streamer: Streamer

    def onInterval(row: StreamInterval) -> None:
        if not live:
            return
        progress = None
        if count:
            progress = 100.0 * streamer.verified / count
        elif duration:
            progress = 100.0 * row.tS / duration
        _say(console, streamLine(row, streamer.verified, progress) + "\n")

    host, port = options["host"], options["port"]
    streamer = Streamer(reactor, host, port, options["timeout"], count, duration, onInterval)
    stream = await interruptibly(reactor, streamer, streamer.run())
    check = stream.check
    checked = streamGates(stream, options["max-corrupt"])
    failed = [g for g in checked if not g.ok]
    status = exitStatus(
        bool(failed), stream.error, check.sent, check.received, streamer.interrupted
    )
    peer = formatPeer(host, port)
    if options["json"]:
        _json(console, streamDocument(stream, checked, status))
    else:
        _say(console, streamSummary(check, stream.elapsedS, peer))
    return finish(console, status, stream.error, peer, failed)


def _json(console: Console, document: Dict[str, Any]) -> None:
    _say(console, json.dumps(document, indent=2) + "\n")


def finish(
    console: Console, status: int, error: Optional[ClientError], peer: str, failed: List[Gate]
) -> int:
    """
    Raise the network failure, or say which gates failed; return C{status}.
    """
    if error is not None:
        raise error
    if status == 1:
        raise ClientError(f"no reply from {peer}")
    if failed:
        console.stderr.write(
            f"{PROGRAM}: gate failed: " + "; ".join(g.describe() for g in failed) + "\n"
        )
    return status
