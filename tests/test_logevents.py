# -*- test-case-name: tests.test_logevents -*-
"""
The log events of docs/logging.md are exactly those the code logs: every
C{event=} used under C{sockservice/} is documented with its level and
fields, every documented event is logged, and every log call names its
event.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sockservice"
DOC = ROOT / "docs" / "logging.md"

LEVELS = {"debug", "info", "warn", "error", "critical"}
_row = re.compile(r"^\| `([a-z_]+)` \| ([a-z]+) \| ([^|]*) \|")


def _logCalls(tree: ast.AST) -> Iterator[ast.Call]:
    """
    The calls of C{Logger} methods (C{log.info(...)}, C{self.log.warn(...)},
    C{Logger().warn(...)}, C{log.failure(...)}) in C{tree}.
    """
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in LEVELS | {"failure"}:
            continue
        target = node.func.value
        name = getattr(target, "attr", getattr(target, "id", ""))
        if isinstance(target, ast.Call):
            name = getattr(target.func, "id", "")
        if name in ("log", "_log", "Logger"):
            yield node


def _level(call: ast.Call) -> str:
    method = call.func.attr  # type: ignore[attr-defined]
    if method != "failure":
        return str(method)
    levels = [k.value for k in call.keywords if k.arg == "level"] + call.args[2:3]
    return str(getattr(levels[0], "attr", "critical")) if levels else "critical"


def _fields(call: ast.Call) -> Set[str]:
    fields = {k.arg for k in call.keywords if k.arg not in (None, "event", "level")}
    if call.func.attr == "failure":  # type: ignore[attr-defined]
        fields.add("failure")
    return {str(f) for f in fields}


def codeEvents() -> Tuple[Dict[str, Tuple[Set[str], Set[str]]], List[str]]:
    """
    @return: each event the code logs, with its levels and the union of its
        fields; and the log calls that name no event (as C{path:line}).
    """
    events: Dict[str, Tuple[Set[str], Set[str]]] = {}
    unnamed = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for call in _logCalls(ast.parse(path.read_text(encoding="utf-8"))):
            [event] = [k.value for k in call.keywords if k.arg == "event"] or [None]
            if not isinstance(event, ast.Constant):
                unnamed.append(f"{path.relative_to(ROOT)}:{call.lineno}")
                continue
            levels, fields = events.setdefault(event.value, (set(), set()))
            levels.add(_level(call))
            fields.update(_fields(call))
    return events, unnamed


def documentedEvents() -> Dict[str, Tuple[str, Set[str]]]:
    """
    @return: each event in the tables of docs/logging.md, with its level
        and fields.
    """
    documented = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _row.match(line)
        if match:
            name, level, fields = match.groups()
            documented[name] = (level, set(re.findall(r"`([A-Za-z_]+)`", fields)))
    return documented


class LogEventTests(SynchronousTestCase):
    """
    The code and docs/logging.md agree on the log events.
    """

    def test_everyCallNamed(self) -> None:
        """Every log call under sockservice/ carries an C{event=} name."""
        self.assertEqual(codeEvents()[1], [])

    def test_sameEvents(self) -> None:
        """The documented events are exactly those the code logs."""
        self.assertEqual(sorted(documentedEvents()), sorted(codeEvents()[0]))

    def test_levelsAndFields(self) -> None:
        """Each event is documented with the level and the fields it is logged with."""
        documented = documentedEvents()
        for name, (levels, fields) in codeEvents()[0].items():
            if name not in documented:
                continue
            self.assertEqual(levels, {documented[name][0]}, name)
            self.assertEqual(fields, documented[name][1], name)

    def test_found(self) -> None:
        """The checks are not vacuous: the known events are found both ways."""
        events, _ = codeEvents()
        self.assertEqual(events["cap_refused"][0], {"warn"})
        self.assertEqual(events["command_start_failed"][0], {"error"})
        self.assertIn("drain_end", documentedEvents())
        self.assertGreater(len(events), 20)
