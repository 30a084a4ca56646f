# -*- test-case-name: tests.test_scripts -*-
"""
Where a C{sockservice-client} subcommand reads and writes: L{Console}, the
process's standard streams in use, fakes in the tests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable

from twisted.internet.interfaces import IProtocol

__all__ = ["Console"]


@dataclass
class Console:
    """
    Where a subcommand reads and writes.

    @ivar stdout: Replies are written here in the one-shot mode.
    @ivar stderr: The one error line, or the usage text, is written here.
    @ivar interactive: Whether standard input is a terminal.
    @ivar attach: Connects a protocol to standard input and output.
    """

    stdout: IO[bytes]
    stderr: IO[str]
    interactive: bool
    attach: Callable[[IProtocol], object]

    @classmethod
    def fromSystem(cls, reactor: Any) -> Console:
        """
        The process's own standard input, output and error.
        """
        from twisted.internet.stdio import StandardIO

        return cls(
            sys.stdout.buffer,
            sys.stderr,
            os.isatty(0),
            lambda protocol: StandardIO(protocol, reactor=reactor),
        )
