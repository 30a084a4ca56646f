# -*- test-case-name: tests.test_probecli -*-
"""
The C{probe} subcommand of C{sockservice-client}: measure the path to a
service (latency distribution, loss, reordering, corruption), with a live
line each second on a terminal, a closing summary, C{--json}, C{--hgrm},
C{--plot} and gates for scripts.

    sockservice-client probe tcp|udp [--host H] [--port P] [--size B]
        [--rate R] [--window N] [--count N | --duration S] [--timeout S]
        [--connections N] [--connect | --sizes LIST|A..B | --stream]
        [--json] [--hgrm FILE] [--plot FILE] [--max-loss PCT]
        [--max-p99 MS] [--max-corrupt N]

Exit status: 0, or 3 when a gate fails (one line naming it), 1 on a network
failure, 2 on a usage error, 130 on Ctrl-C before any reply.  Ctrl-C after
a reply ends the run as if it had ended.  The sweep and the stream are in
L{sockservice.cli.probemodes}; the work is in L{sockservice.probe}.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Optional, Sequence

from twisted.python import usage

from sockservice import coerce
from sockservice.cli.console import Console
from sockservice.cli.options import Help, serverParameters
from sockservice.cli.probemodes import finish, interruptibly, runStream, runSweep
from sockservice.client.errors import ClientError
from sockservice.peer import formatPeer
from sockservice.probe.accounting import Interval
from sockservice.probe.document import document
from sockservice.probe.modes import Outcome, Probe, Settings
from sockservice.probe.pacing import Schedule
from sockservice.probe.payload import HEADER
from sockservice.probe.report import exitStatus, gates, liveLine, summaryText
from sockservice.probe.sweep import MAX_TCP, MAX_UDP, parseSizes

__all__ = ["ProbeOptions", "runProbe"]

MAX_SIZE = MAX_UDP


def _positive(option: str) -> Any:
    return coerce.number(
        option, lowOpen=True, template="{option} must be a positive number, not {value!r}"
    )


class ProbeOptions(Help):
    """
    Measure the path to a service: latency, loss, reordering, corruption.
    """

    name = "probe"
    synopsis = "tcp|udp [options]"
    optFlags = [
        ["connect", None, "TCP: time connect, send, receive, close for each request."],
        ["json", None, "Write the results as one JSON document on standard output."],
        ["stream", None, "TCP: send and read back a stream on one connection; verified MB/s."],
    ]
    optParameters = serverParameters(
        12000, 1.0, "Seconds before a request without a reply counts as lost."
    ) + [
        ["size", "s", None, "Bytes per request (at least 28; default 64).",
         coerce.whole("--size", HEADER, MAX_SIZE,
                      f"{{option}} must be a number from {HEADER} to {MAX_SIZE}, not {{value!r}}")],
        ["rate", None, None, "Requests per second (default 10; with --sizes 0); "
         "0 for as fast as the window allows.",
         coerce.number("--rate", 0.0, 1e7)],
        ["window", "w", None, "The most requests waiting for a reply at once (default 1; "
         "with --sizes, as many as 64 KiB holds, up to --count).",
         coerce.whole("--window", 1, 65536,
                      "{option} must be a number from 1 to 65536, not {value!r}")],
        ["count", "c", None, "Send this many requests, then stop (with --sizes: per size, "
         "default 5; with --stream: this many bytes).",
         coerce.whole("--count", 1, None, "{option} must be a positive number, not {value!r}")],
        ["duration", "d", None, "Send for this many seconds, then stop.",
         _positive("--duration")],
        ["connections", None, 1, "TCP: requests spread over this many connections.",
         coerce.whole("--connections", 1, 1024,
                      "{option} must be a number from 1 to 1024, not {value!r}")],
        ["sizes", None, None, "Sweep request sizes: a list (64,512,1472) or a range "
         "(64..65507, searched for the UDP limit)."],
        ["hgrm", None, None, "Write the HdrHistogram percentile distribution to FILE.",
         coerce.fileName("--hgrm")],
        ["plot", None, None, "Draw the latency distribution to FILE.svg or FILE.png.",
         coerce.fileName("--plot")],
        ["max-loss", None, None, "Gate: fail (exit 3) if more than PCT percent is lost.",
         coerce.number("--max-loss", 0.0, 100.0)],
        ["max-p99", None, None, "Gate: fail (exit 3) if p99 latency exceeds MS.",
         coerce.number("--max-p99")],
        ["max-corrupt", None, None, "Gate: fail (exit 3) if more than N replies "
         "(with --stream: bytes) are corrupted.",
         coerce.whole("--max-corrupt")],
    ]  # fmt: skip
    longdesc = (
        "Sends requests carrying a sequence number and a send time, verifies "
        "every reply byte for byte (it must be the request upper-cased), and "
        "reports sent, answered, lost, late, duplicated, reordered and "
        "corrupted replies and the latency percentiles. --sizes tries each "
        "size in turn (the largest that round-trips, where loss starts); "
        "--stream measures verified TCP throughput. Without --count or "
        "--duration, runs until Ctrl-C. Exit status: 0; 3 when a gate fails; "
        "1 on a network failure; 2 on a usage error; 130 on Ctrl-C before any "
        "reply."
    )

    def __init__(self) -> None:
        super().__init__()
        self["protocol"] = None

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse, with the protocol first (C{probe udp --count 5}) or last.
        """
        given = list(options or ())
        if given and given[0] in ("tcp", "udp"):
            given = given[1:] + ["--", given[0]]
        super().parseOptions(given)

    def parseArgs(self, *protocol: str) -> None:
        """
        tcp or udp.
        """
        if len(protocol) != 1 or protocol[0] not in ("tcp", "udp"):
            raise usage.UsageError("name the protocol to probe: tcp or udp")
        self["protocol"] = protocol[0]

    def postOptions(self) -> None:
        super().postOptions()
        for mode in ("connect", "stream"):
            if self[mode] and self["protocol"] != "tcp":
                raise usage.UsageError(f"--{mode} is for tcp only")
        modes = [f"--{name}" for name in ("connect", "sizes", "stream") if self[name]]
        if len(modes) > 1:
            raise usage.UsageError(f"{modes[0]} and {modes[1]} cannot be combined")
        if self["sizes"] is not None:
            self._refuse("--sizes", "size", "duration", "hgrm", "plot")
            try:
                self["sizes"] = parseSizes(
                    self["sizes"], MAX_UDP if self["protocol"] == "udp" else MAX_TCP
                )
            except ValueError as error:
                raise usage.UsageError(str(error)) from None
            if self["sizes"].isRange and self["max-loss"] is not None:
                raise usage.UsageError(
                    "--max-loss needs --sizes as a list: a range looks for where loss starts"
                )
        if self["stream"]:
            self._refuse(
                "--stream", "size", "rate", "window", "hgrm", "plot", "max-loss", "max-p99"
            )
            if self["connections"] != 1:
                raise usage.UsageError("--connections is not for --stream")

    def _refuse(self, mode: str, *names: str) -> None:
        """
        Refuse any of C{names} given with C{mode}.
        """
        for name in names:
            if self[name] is not None:
                raise usage.UsageError(f"--{name} is not for {mode}")

    def settings(self) -> Settings:
        """
        What the options ask for (with --sizes: what every size shares).
        """
        sweep = self["sizes"] is not None
        rate = self["rate"] if self["rate"] is not None else 0.0 if sweep else 10.0
        return Settings(
            self["protocol"],
            self["host"],
            self["port"],
            64 if self["size"] is None else self["size"],
            Schedule(rate, self["window"] or 1, self["count"], self["duration"]),
            self["timeout"],
            self["connections"],
        )


class _Live:
    """
    The live view: a line a second when standard output is a terminal.
    """

    def __init__(self, console: Console, options: ProbeOptions) -> None:
        self._console = console
        self._options = options
        isatty = getattr(console.stdout, "isatty", None)
        self.enabled = bool(isatty and isatty()) and not options["json"]
        self.probe: Optional[Probe] = None

    def __call__(self, row: Interval) -> None:
        if not self.enabled or self.probe is None:
            return
        sent = self.probe.accounting.counts.sent
        progress = None
        if self._options["count"]:
            progress = 100.0 * sent / self._options["count"]
        elif self._options["duration"]:
            progress = 100.0 * row.tS / self._options["duration"]
        self._console.stdout.write(liveLine(row, sent, progress).encode() + b"\n")
        self._console.stdout.flush()


async def runProbe(reactor: Any, options: ProbeOptions, console: Console) -> int:
    """
    The C{probe} subcommand.
    """
    if options["sizes"] is not None:
        return await runSweep(reactor, options, console)
    if options["stream"]:
        return await runStream(reactor, options, console)
    live = _Live(console, options)
    probe = Probe(reactor, options.settings(), live)
    live.probe = probe
    outcome = await interruptibly(reactor, probe, probe.run(connect=options["connect"]))
    return _report(outcome, options, console, probe)


def _report(outcome: Outcome, options: ProbeOptions, console: Console, probe: Probe) -> int:
    """
    Write the summary and the files asked for; return the exit status.
    """
    counts = outcome.accounting.counts
    s = outcome.settings
    replied = counts.answered + counts.late + counts.corrupted + counts.duplicated
    checked = gates(outcome, options["max-loss"], options["max-p99"], options["max-corrupt"])
    failed = [g for g in checked if not g.ok]
    status = exitStatus(bool(failed), outcome.error, counts.sent, replied, probe.interrupted)
    mode = "connect" if options["connect"] else "latency"
    if options["json"]:
        text = json.dumps(document(outcome, mode, checked, status), indent=2)
        console.stdout.write(text.encode() + b"\n")
    elif replied or outcome.error is None:
        console.stdout.write(summaryText(outcome, formatPeer(s.host, s.port)).encode())
    console.stdout.flush()
    if options["hgrm"]:
        _write(options["hgrm"], outcome.accounting.latency.hgrm())
    if options["plot"]:
        _plot(document(outcome, mode, checked, status), options["plot"])
    return finish(console, status, outcome.error, formatPeer(s.host, s.port), failed)


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as out:
            out.write(text)
    except OSError as error:
        raise ClientError(f"cannot write {path}: {error.strerror}") from None


def _plot(document: Any, path: str) -> None:
    try:
        plot = importlib.import_module("sockservice.probe.plot")
    except ImportError:
        raise ClientError("--plot needs the [plot] extra: pip install sockservice[plot]") from None
    try:
        plot.plot(document, path)
    except plot.PlotUnavailable as error:
        raise ClientError(str(error)) from None
