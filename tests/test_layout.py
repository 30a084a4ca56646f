# -*- test-case-name: tests.test_layout -*-
"""
The package's architecture, checked: imports point only down the floors
of docs/architecture.md, there is no import cycle, no client module imports
a server module, and every module stays one readable idea.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set

from twisted.trial.unittest import SynchronousTestCase

PACKAGE = Path(__file__).resolve().parent.parent / "sockservice"

FLOORS = {
    "sockservice.tap": 3,
    "sockservice.cli": 3,
    "sockservice.__main__": 4,
    "sockservice.uppercase": 2,
    "sockservice.timeserver": 2,
    "sockservice.chat": 2,
    "sockservice.command": 2,
    "sockservice.probe": 2,
    "sockservice.server": 1,
    "sockservice.client": 1,
    "sockservice._fast": 1,
    "sockservice.casing": 0,
    "sockservice.coerce": 0,
    "sockservice.peer": 0,
    "sockservice.logs": 0,
    "sockservice": 0,
}
"""The floor of each top-level part: imports go to a lower floor or stay
within their own package."""

CLIENT_SIDE = ("sockservice.client", "sockservice.cli", "client", "console")
SERVER_SIDE = ("sockservice.server", "sockservice.uppercase", "sockservice.tap")
SERVER_MODULES = {"protocol", "relay", "process", "session", "tap", "backoff"}

MAX_LINES = 300


def _modules() -> Dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtimeNodes(tree: ast.AST) -> Iterator[ast.AST]:
    """
    The nodes of C{tree}, less the blocks of C{if TYPE_CHECKING:} (imports
    for type hints only, which never run).
    """
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in ast.walk(child))
            continue
        yield node
        yield from _runtimeNodes(node)


def _imports(path: Path) -> Set[str]:
    names: Set[str] = set()
    for node in _runtimeNodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    modules = _modules()
    return {n for n in names if n in modules and n.startswith("sockservice")}


def _part(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _isClient(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith(CLIENT_SIDE[:2]) or last in CLIENT_SIDE[2:]


def _isServer(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith(SERVER_SIDE) or (module.count(".") == 2 and last in SERVER_MODULES)


class LayoutTests(SynchronousTestCase):
    """
    The import graph of C{sockservice}.
    """

    def test_onlyDown(self) -> None:
        """Every import goes to a lower floor, or within the same package."""
        wrong = []
        for module, path in _modules().items():
            for target in _imports(path):
                if target == "sockservice" or _part(target) == _part(module):
                    continue
                if FLOORS[_part(target)] >= FLOORS[_part(module)]:
                    wrong.append(f"{module} -> {target}")
        self.assertEqual(wrong, [])

    def test_noCycle(self) -> None:
        """No module imports itself through others."""
        graph = {m: _imports(p) - {"sockservice"} for m, p in _modules().items()}
        done: Set[str] = set()

        def visit(module: str, path: tuple) -> None:
            if module in path:
                self.fail("import cycle: " + " -> ".join(path + (module,)))
            if module in done:
                return
            for target in graph.get(module, ()):
                visit(target, path + (module,))
            done.add(module)

        for module in graph:
            visit(module, ())

    def test_clientNeverImportsServer(self) -> None:
        """No client module imports a server module."""
        wrong = [
            f"{module} -> {target}"
            for module, path in _modules().items()
            if _isClient(module)
            for target in _imports(path)
            if _isServer(target)
        ]
        self.assertEqual(wrong, [])

    def test_small(self) -> None:
        """Every module is under about 300 lines."""
        long = {
            name: n
            for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        }
        self.assertEqual(long, {})
