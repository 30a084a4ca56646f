# -*- test-case-name: tests.test_logs -*-
"""
Log observers for C{twistd --logger}: JSON lines, Twisted's text, the journal.

twistd's C{--logger NAME} names a zero-argument factory of a log observer and
then ignores C{--logfile}; so each factory here reads twistd's C{--logfile}
and C{--nodaemon} from the command line, with twistd's own option table, and
writes where twistd would (L{twistdLogFile}).  L{json}: one JSON object per
line, which log shippers and C{jq} read (not Twisted's record-separated JSON
sequence); L{text}: Twisted's text lines; L{journal}: each line prefixed
with its syslog priority (C{<4>}), for C{journalctl -p warning}, without a
timestamp.  L{json} and L{text} prefix them too when writing to the stream
that systemd names in C{JOURNAL_STREAM}.
"""

from __future__ import annotations

import getopt
import json as _json
import math
import os
import signal
import sys
from datetime import datetime, timezone
from functools import partial
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

from twisted.internet.interfaces import IAddress
from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    LogEvent,
    LogLevel,
    eventAsText,
    formatEvent,
    formatEventAsClassicLogText,
)
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile
from twisted.python.reflect import qual

__all__ = [
    "PRIORITIES",
    "eventAsJSONLine",
    "journal",
    "journalStream",
    "json",
    "jsonValue",
    "loggerArguments",
    "syslogPriority",
    "text",
    "twistdLogFile",
]

PRIORITIES: Dict[LogLevel, int] = {
    LogLevel.critical: 2,
    LogLevel.error: 3,
    LogLevel.warn: 4,
    LogLevel.info: 6,
    LogLevel.debug: 7,
}
"""The syslog priority of each Twisted log level (C{<N>} in the journal)."""

#: The keys of every JSON line (an event's own field of such a name is
#: written as C{field_NAME}), and those that L{twisted.python.log.msg} adds.
_RESERVED = ("time", "level", "namespace", "message")
_LEGACY = {"message", "time", "system", "isError", "format", "why", "failure"}
_MAX_DEPTH = 8
_NamedConstant = type(LogLevel.info)
#: The name of the factory that made this process's observer, if any.
_chosen: List[str] = []


def syslogPriority(event: LogEvent) -> int:
    """@return: the syslog priority of C{event}'s level (6 when it has none)."""
    return PRIORITIES.get(event.get("log_level", LogLevel.info), 6)


def jsonValue(value: object, depth: int = 0) -> Any:
    """
    Make C{value} something that L{json.dumps} writes as valid JSON.

    Strings, integers, finite floats, booleans and L{None} stay as they are;
    other floats, L{bytes} (decoded as UTF-8, other bytes escaped as
    C{\\xNN}), addresses (an object with C{host} and C{port}, or C{name}),
    L{Failure}s (type, message and traceback), exceptions (type and
    message), mappings and sequences (recursively) are converted; anything
    else is written as its C{str}.  Never raises.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if depth >= _MAX_DEPTH:
        return _safeStr(value)
    try:
        return _structured(value, depth + 1)
    except Exception:
        return _safeStr(value)


def _structured(value: object, depth: int) -> Any:
    if isinstance(value, Failure):
        error, tb = value.value, value.getTraceback()
        return {"type": qual(type(error)), "message": _safeStr(error), "traceback": tb}
    if isinstance(value, BaseException):
        return {"type": qual(type(value)), "message": _safeStr(value)}
    if isinstance(value, _NamedConstant):
        return value.name
    if isinstance(value, Mapping):
        return {_safeStr(k): jsonValue(v, depth) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonValue(v, depth) for v in value]
    host, port = getattr(value, "host", None), getattr(value, "port", None)
    kind, name = getattr(value, "type", None), getattr(value, "name", None)
    if isinstance(host, (str, bytes)) and isinstance(port, int):
        return {"type": jsonValue(kind), "host": jsonValue(host), "port": port}
    if IAddress.providedBy(value) and isinstance(name, (str, bytes)):
        return {"type": "UNIX", "name": jsonValue(name)}
    return _safeStr(value)


def _safeStr(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _isoTime(when: object) -> Optional[str]:
    if not isinstance(when, (int, float)) or not math.isfinite(when):
        return None
    moment = datetime.fromtimestamp(when, timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def eventAsJSONLine(event: LogEvent, ensureASCII: bool = False) -> str:
    """
    Format C{event} as one line of JSON (without the newline): C{time},
    C{level}, C{namespace}, C{message}, then the event's own fields (not
    Twisted's C{log_*} keys), a failure as the C{failure} field, and the
    reactor's log context (when there is one) as C{system}.

    @param ensureASCII: escape every non-ASCII character (C{\\u00df}), for
        an output that is not UTF-8.
    @return: the line; lone surrogates are escaped, so it always encodes.
    """
    level = event.get("log_level")
    record: Dict[str, Any] = {
        "time": _isoTime(event.get("log_time")),
        "level": level.name if isinstance(level, _NamedConstant) else "info",
        "namespace": jsonValue(event.get("log_namespace")),
        "message": formatEvent(event),
    }
    legacy = "isError" in event  # from twisted.python.log.msg
    for key, value in event.items():
        if key.startswith("log_") or (legacy and key in _LEGACY):
            continue
        record[f"field_{key}" if key in _RESERVED else key] = jsonValue(value)
    failure = event.get("log_failure", event.get("failure") if legacy else None)
    if failure is not None:
        record["failure"] = jsonValue(failure)
    system = event.get("log_system")
    if system not in (None, "-"):
        record["system"] = jsonValue(system)
    line = _json.dumps(record, ensure_ascii=ensureASCII, default=_safeStr)
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def _prefixed(text: str, priority: int) -> str:
    """Prefix every line (a traceback's too) with C{<priority>}."""
    return "".join(f"<{priority}>{line}\n" for line in text.rstrip("\n").split("\n"))


def journalStream(outFile: IO[Any], environ: Optional[Mapping[str, str]] = None) -> bool:
    """
    @return: whether C{outFile} is the journal's stream: its descriptor's
        device and inode are those that systemd put in C{JOURNAL_STREAM}.
    """
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        status = os.fstat(outFile.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (device, inode)


def _lineObserver(
    outFile: IO[Any], formatLine: Callable[[LogEvent], Optional[str]], prefix: bool
) -> ILogObserver:
    """
    Write each event as C{formatLine} makes it, every line prefixed with its
    syslog priority if C{prefix}.
    """

    def formatEventLine(event: LogEvent) -> Optional[str]:
        try:
            text = formatLine(event)
        except Exception:
            text = "Unable to format event " + _safeStr(event.get("log_format"))
        if not text:
            return None
        return _prefixed(text, syslogPriority(event)) if prefix else text.rstrip("\n") + "\n"

    return FileLogObserver(outFile, formatEventLine)


def twistdLogFile(argv: Sequence[str]) -> Optional[str]:
    """
    Where twistd, run with the arguments C{argv}, sends its log: L{None}
    for standard output (C{--nodaemon} without C{--logfile}, C{--logfile -},
    or C{argv} not twistd's), else the log file (by default C{twistd.log}).
    """
    from twisted.scripts.twistd import ServerOptions  # type: ignore[attr-defined]

    table = ServerOptions()
    try:
        options, _ = getopt.getopt(list(argv), table.shortOpt, table.longOpt)
    except getopt.GetoptError:
        return None
    logFile, noDaemon = "", False
    for name, value in options:
        if name in ("-l", "--logfile"):
            logFile = value
        elif name in ("-n", "--nodaemon"):
            noDaemon = True
    if logFile == "-" or (noDaemon and not logFile):
        return None
    return logFile or "twistd.log"


def _output(argv: Optional[Sequence[str]], factory: str) -> IO[Any]:
    """
    The file twistd would log to (see L{twistdLogFile}); called by twistd
    (without C{argv}), remember C{factory}'s name for L{loggerArguments}.
    """
    if argv is None:
        _chosen[:] = [factory]
    path = twistdLogFile(sys.argv[1:] if argv is None else argv)
    if path is None:
        return sys.stdout
    logFile: IO[Any] = LogFile.fromFullPath(path)
    if not signal.getsignal(signal.SIGUSR1):

        def rotate(number: int, frame: object) -> None:
            from twisted.internet import reactor

            reactor.callFromThread(logFile.rotate)  # type: ignore[attr-defined]

        signal.signal(signal.SIGUSR1, rotate)
    return logFile


def json(argv: Optional[Sequence[str]] = None, outFile: Optional[IO[Any]] = None) -> ILogObserver:
    """
    C{twistd --logger sockservice.logs.json}: one JSON object per line (see
    L{eventAsJSONLine}), to where twistd logs; prefixed with the syslog
    priority when that is the journal's stream.

    @param argv: twistd's arguments (by default this process's).
    @param outFile: write here instead.
    """
    out = _output(argv, "sockservice.logs.json") if outFile is None else outFile
    escape = (getattr(out, "encoding", None) or "utf-8").lower().replace("-", "") != "utf8"
    return _lineObserver(out, lambda event: eventAsJSONLine(event, escape), journalStream(out))


def text(argv: Optional[Sequence[str]] = None, outFile: Optional[IO[Any]] = None) -> ILogObserver:
    """
    C{twistd --logger sockservice.logs.text}: Twisted's text lines, to where
    twistd logs; prefixed with the syslog priority when that is the
    journal's stream.
    """
    out = _output(argv, "sockservice.logs.text") if outFile is None else outFile
    return _lineObserver(out, formatEventAsClassicLogText, journalStream(out))


def journal(
    argv: Optional[Sequence[str]] = None, outFile: Optional[IO[Any]] = None
) -> ILogObserver:
    """
    C{twistd --logger sockservice.logs.journal}: C{<N>MESSAGE} lines (a
    failure's traceback too), to where twistd logs: for systemd units.
    """
    out = _output(argv, "sockservice.logs.journal") if outFile is None else outFile
    formatLine = partial(eventAsText, includeTimestamp=False, includeSystem=False)
    return _lineObserver(out, formatLine, True)


def loggerArguments() -> List[str]:
    """
    @return: the twistd option that selects the observer factory this
        process logs with (C{--logger=NAME}), so that its C{--workers} log
        the same way; none if it logs as twistd does by default.
    """
    return [f"--logger={name}" for name in _chosen]
