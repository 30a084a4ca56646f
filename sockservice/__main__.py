# -*- test-case-name: tests.test_scripts -*-
"""
C{python -m sockservice}: the same as C{sockservice-client}.
"""

from __future__ import annotations

from sockservice.cli.main import runMain

__all__: list[str] = []

if __name__ == "__main__":
    runMain()
