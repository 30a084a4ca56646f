# -*- test-case-name: tests.test_logs -*-
"""
Tests for L{sockservice.logs}: the JSON lines, the journal's priority
prefix, C{JOURNAL_STREAM}, and where the observers write.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sys
import tempfile
from datetime import datetime
from typing import Any, Dict, List

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from sockservice import logs
from sockservice.server.workers import twistdCommand


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def _lines(observerFactory: Any, emit: Any) -> List[str]:
    """
    Log through an observer of C{observerFactory} writing to memory; return
    what it wrote, line by line.
    """
    out = io.StringIO()
    emit(Logger(namespace="test.logs", observer=observerFactory(outFile=out)))
    text = out.getvalue()
    return text.split("\n")[:-1] if text.endswith("\n") else [text]


def _records(emit: Any) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in _lines(logs.json, emit)]


class JSONLineTests(SynchronousTestCase):
    """
    C{sockservice.logs.json} writes each event as one JSON object per line.
    """

    def test_standardKeys(self) -> None:
        """A line has the time (ISO 8601, UTC), level, namespace and formatted message."""
        [record] = _records(lambda log: log.warn("refused {peer}", peer="192.0.2.1"))
        self.assertEqual(list(record)[:4], ["time", "level", "namespace", "message"])
        self.assertEqual(record["level"], "warn")
        self.assertEqual(record["namespace"], "test.logs")
        self.assertEqual(record["message"], "refused 192.0.2.1")
        self.assertEqual(record["peer"], "192.0.2.1")
        self.assertTrue(record["time"].endswith("Z"), record["time"])
        moment = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        self.assertEqual(moment.utcoffset().total_seconds(), 0)  # type: ignore[union-attr]

    def test_fieldsAsJSONValues(self) -> None:
        """Numbers, booleans, lists and nested mappings keep their JSON types."""
        [record] = _records(
            lambda log: log.info(
                "x", count=3, ratio=0.5, ok=True, none=None, dropped={"rate": 2, "list": (1, [2])}
            )
        )
        self.assertEqual(
            (record["count"], record["ratio"], record["ok"], record["none"]), (3, 0.5, True, None)
        )
        self.assertEqual(record["dropped"], {"rate": 2, "list": [1, [2]]})

    def test_nonASCII(self) -> None:
        """Non-ASCII text comes back as it was, written as UTF-8 rather than escaped."""
        [line] = _lines(logs.json, lambda log: log.info("straße {name}", name="Łukasz 你好"))
        self.assertIn("straße", line)
        record = json.loads(line)
        self.assertEqual(record["message"], "straße Łukasz 你好")
        self.assertEqual(record["name"], "Łukasz 你好")

    def test_ensureASCII(self) -> None:
        """For an output that is not UTF-8, every non-ASCII character is escaped."""
        line = logs.eventAsJSONLine({"log_format": "straße", "log_time": 0.0}, ensureASCII=True)
        self.assertTrue(line.isascii(), line)
        self.assertEqual(json.loads(line)["message"], "straße")

    def test_bytes(self) -> None:
        """Bytes are decoded as UTF-8, and bytes that are not UTF-8 written as C{\\xNN}."""
        [record] = _records(
            lambda log: log.info("x", good="é".encode(), bad=b"caf\xe9", nested=[b"\xff"])
        )
        self.assertEqual(record["good"], "é")
        self.assertEqual(record["bad"], "caf\\xe9")
        self.assertEqual(record["nested"], ["\\xff"])

    def test_loneSurrogate(self) -> None:
        """A string with a lone surrogate (undecodable bytes) still makes valid UTF-8 JSON."""
        [line] = _lines(logs.json, lambda log: log.info("{x}", x="caf\udce9"))
        line.encode("utf-8")
        self.assertEqual(json.loads(line)["x"], "caf\udce9")

    def test_addresses(self) -> None:
        """Twisted's addresses become objects with their type, host and port (or name)."""
        [record] = _records(
            lambda log: log.info(
                "x",
                v4=IPv4Address("TCP", "127.0.0.1", 5),
                v6=IPv6Address("UDP", "::1", 6),
                unix=UNIXAddress(b"/run/s.sock"),
                pair=("127.0.0.1", 7),
            )
        )
        self.assertEqual(record["v4"], {"type": "TCP", "host": "127.0.0.1", "port": 5})
        self.assertEqual(record["v6"], {"type": "UDP", "host": "::1", "port": 6})
        self.assertEqual(record["unix"], {"type": "UNIX", "name": "/run/s.sock"})
        self.assertEqual(record["pair"], ["127.0.0.1", 7])

    def test_failure(self) -> None:
        """A logged failure is a field with its type, message and traceback text."""

        def emit(log: Logger) -> None:
            try:
                raise ZeroDivisionError("division by zero")
            except ZeroDivisionError:
                log.failure("command {name} failed", name="ls", event="boom")

        [record] = _records(emit)
        self.assertEqual(record["level"], "critical")
        self.assertEqual(record["event"], "boom")
        self.assertEqual(record["failure"]["type"], "builtins.ZeroDivisionError")
        self.assertEqual(record["failure"]["message"], "division by zero")
        self.assertIn("Traceback", record["failure"]["traceback"])
        self.assertIn("ZeroDivisionError", record["failure"]["traceback"])

    def test_exceptionAndFailureFields(self) -> None:
        """An exception or a failure in an ordinary field is made safe the same way."""
        [record] = _records(
            lambda log: log.info("x", error=OSError(9, "bad fd"), reason=Failure(ValueError("v")))
        )
        self.assertEqual(
            record["error"], {"type": "builtins.OSError", "message": "[Errno 9] bad fd"}
        )
        self.assertEqual(record["reason"]["type"], "builtins.ValueError")
        self.assertIn("traceback", record["reason"])

    def test_oddValues(self) -> None:
        """NaN, infinities, log levels, unprintable and self-containing values never break a line."""
        loop: List[Any] = []
        loop.append(loop)
        line = logs.eventAsJSONLine(
            {
                "log_format": "x",
                "nan": float("nan"),
                "inf": float("-inf"),
                "level": LogLevel.warn,
                "bad": _Unprintable(),
                "loop": loop,
            }
        )
        record = json.loads(line)
        self.assertEqual((record["nan"], record["inf"]), ("nan", "-inf"))
        self.assertEqual(record["field_level"], "warn")
        self.assertEqual(record["bad"], "<unprintable _Unprintable>")
        self.assertIsInstance(record["loop"], list)

    def test_reservedNames(self) -> None:
        """A field named like a standard key is kept, as C{field_NAME}."""
        [record] = _records(lambda log: log.info("hello", message="mine", time=5))
        self.assertEqual(record["message"], "hello")
        self.assertEqual((record["field_message"], record["field_time"]), ("mine", 5))

    def test_badFormat(self) -> None:
        """An event whose format cannot be filled is still written, saying so."""
        [record] = _records(lambda log: log.info("{missing} and {", other=1))
        self.assertIn("Unable to format event", record["message"])
        self.assertEqual(record["other"], 1)

    def test_oneLine(self) -> None:
        """Newlines and Unicode line separators in a message stay inside the one line."""
        lines = _lines(logs.json, lambda log: log.info("a\nb\u2028c {x}", x="d\re"))
        self.assertEqual(len(lines), 1)
        self.assertEqual(json.loads(lines[0])["message"], "a\nb\u2028c d\re")

    def test_legacy(self) -> None:
        """An event of L{twisted.python.log.err} has its failure field, not its legacy keys."""
        failure = Failure(ValueError("bad"))
        event = {"message": (), "isError": 1, "failure": failure, "why": "w", "time": 0.0}
        event.update(log_format="{log_text}", log_text="w", log_level=LogLevel.critical)
        record = json.loads(logs.eventAsJSONLine(event))
        self.assertEqual(sorted(record), ["failure", "level", "message", "namespace", "time"])
        self.assertEqual(record["message"], "w")
        self.assertEqual(record["failure"]["type"], "builtins.ValueError")

    def test_noLogKeys(self) -> None:
        """Twisted's own C{log_*} keys are not written; the reactor's context is C{system}."""
        line = logs.eventAsJSONLine(
            {"log_format": "x", "log_level": LogLevel.info, "log_system": "Factory,1,127.0.0.1"}
        )
        record = json.loads(line)
        self.assertFalse([key for key in record if key.startswith("log_")])
        self.assertEqual(record["system"], "Factory,1,127.0.0.1")
        self.assertIsNone(record["time"])


class JournalTests(SynchronousTestCase):
    """
    Lines for the journal start with the syslog priority of their level.
    """

    def test_priorities(self) -> None:
        """critical 2, error 3, warn 4, info 6, debug 7."""
        expected = {"critical": 2, "error": 3, "warn": 4, "info": 6, "debug": 7}
        self.assertEqual({level.name: n for level, n in logs.PRIORITIES.items()}, expected)
        for name, priority in expected.items():
            level = LogLevel.levelWithName(name)
            lines = _lines(logs.journal, lambda log, level=level: log.emit(level, "hi"))
            self.assertEqual(lines, [f"<{priority}>hi"])

    def test_noLevel(self) -> None:
        """An event without a level is informational."""
        self.assertEqual(logs.syslogPriority({}), 6)

    def test_tracebackLines(self) -> None:
        """Every line of a failure's traceback carries the priority too."""

        def emit(log: Logger) -> None:
            try:
                raise ZeroDivisionError("division by zero")
            except ZeroDivisionError:
                log.failure("oops", level=LogLevel.error)

        lines = _lines(logs.journal, emit)
        self.assertGreater(len(lines), 2)
        self.assertEqual(lines[0], "<3>oops")
        self.assertEqual([line for line in lines if not line.startswith("<3>")], [])
        self.assertIn("ZeroDivisionError", lines[-1])

    def test_multiLineMessage(self) -> None:
        """Each line of a message of several lines is prefixed."""
        self.assertEqual(_lines(logs.journal, lambda log: log.warn("a\nb")), ["<4>a", "<4>b"])


class JournalStreamTests(SynchronousTestCase):
    """
    C{JOURNAL_STREAM} names the journal's stream by device and inode: the
    JSON and text observers prefix their lines only when they write to it.
    """

    def setUp(self) -> None:
        handle, path = tempfile.mkstemp()
        self.addCleanup(os.unlink, path)
        self.path = path
        self.out = os.fdopen(handle, "w", encoding="utf-8")
        self.addCleanup(self.out.close)
        status = os.fstat(handle)
        self.stream = f"{status.st_dev}:{status.st_ino}"

    def test_detection(self) -> None:
        """Only the device and inode of the file itself match."""
        self.assertTrue(logs.journalStream(self.out, {"JOURNAL_STREAM": self.stream}))
        other = self.stream + "1"
        self.assertFalse(logs.journalStream(self.out, {"JOURNAL_STREAM": other}))
        for bad in ("", "x:y", "1", "1:2:3"):
            self.assertFalse(logs.journalStream(self.out, {"JOURNAL_STREAM": bad}), bad)
        self.assertFalse(logs.journalStream(self.out, {}))
        self.assertFalse(logs.journalStream(io.StringIO(), {"JOURNAL_STREAM": self.stream}))

    def written(self, factory: Any, stream: str) -> str:
        self.patch(os, "environ", dict(os.environ, JOURNAL_STREAM=stream))
        Logger(observer=factory(outFile=self.out)).warn("careful {x}", x=1)
        self.out.flush()
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def test_jsonOnTheJournal(self) -> None:
        """JSON lines to the journal's stream start with C{<N>}."""
        text = self.written(logs.json, self.stream)
        self.assertTrue(text.startswith("<4>{"), text)
        self.assertEqual(json.loads(text[3:])["message"], "careful 1")

    def test_jsonElsewhere(self) -> None:
        """JSON lines to another file are plain JSON."""
        text = self.written(logs.json, "1:2")
        self.assertEqual(json.loads(text)["message"], "careful 1")

    def test_textOnTheJournal(self) -> None:
        """Text lines to the journal's stream start with C{<N>} too."""
        text = self.written(logs.text, self.stream)
        self.assertTrue(text.startswith("<4>"), text)
        self.assertIn("careful 1", text)


class OutputTests(SynchronousTestCase):
    """
    The observers write where twistd would have, and tell C{--workers} how
    this process logs.
    """

    def test_twistdLogFile(self) -> None:
        """twistd's own options decide: standard output, a named file, or C{twistd.log}."""
        cases = {
            ("--nodaemon", "sockservice"): None,
            ("-n", "--logfile", "s.log", "sockservice"): "s.log",
            ("-nl", "s.log", "sockservice"): "s.log",
            ("--logfile=-", "-n"): None,
            ("sockservice",): "twistd.log",
            ("-n", "sockservice", "--logfile", "s.log"): None,
            ("--no-such-option",): None,
        }
        for argv, expected in cases.items():
            self.assertEqual(logs.twistdLogFile(argv), expected, argv)

    def test_logFile(self) -> None:
        """With C{--logfile}, the JSON lines go to that file."""
        # Not self.mktemp(): under pytest it is relative to the checkout.
        directory = tempfile.mkdtemp(prefix="sockservice-logs-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "s.log")
        self.addCleanup(signal.signal, signal.SIGUSR1, signal.getsignal(signal.SIGUSR1))
        observer = logs.json(argv=["--logfile", path, "-n", "sockservice"])
        Logger(observer=observer).info("to {where}", where="file")
        observer._outFile.close()  # type: ignore[attr-defined]
        with open(path, encoding="utf-8") as f:
            self.assertEqual(json.loads(f.read())["message"], "to file")

    def test_standardOutput(self) -> None:
        """With C{--nodaemon} and no log file, they go to standard output."""
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        Logger(observer=logs.json(argv=["-n", "sockservice"])).info("hello")
        self.assertEqual(json.loads(out.getvalue())["message"], "hello")

    def test_workersLogTheSameWay(self) -> None:
        """Once twistd made its observer with a factory here, its workers are told to use it."""
        self.patch(logs, "_chosen", [])
        self.patch(sys, "argv", ["twistd", "-n", "sockservice"])
        self.patch(sys, "stdout", io.StringIO())
        self.assertEqual(logs.loggerArguments(), [])
        self.assertNotIn("--logger=sockservice.logs.json", twistdCommand())
        logs.json()
        self.assertEqual(logs.loggerArguments(), ["--logger=sockservice.logs.json"])
        command = twistdCommand("--tcp", "0")
        self.assertLess(
            command.index("--logger=sockservice.logs.json"), command.index("sockservice")
        )
