# -*- test-case-name: tests.test_scripts -*-
"""
What the options of every C{sockservice-client} subcommand share: the
program's name, the C{--version} option (L{Help}), and the rows of
C{optParameters} naming the server, the wait and the retries.

Numbers are checked as they are parsed, by the coercers of
L{sockservice.coerce} in the fifth column of each row, so every subcommand
refuses a bad port, timeout or count with the same words.
"""

from __future__ import annotations

import sys
from typing import Any, List, NoReturn

from twisted.python import usage

from sockservice import __version__, coerce

__all__ = ["Help", "PROGRAM", "retriesParameter", "serverParameters"]

PROGRAM = "sockservice-client"

MAX_TIMEOUT = 1e6
"""The longest wait accepted, in seconds."""

MAX_RETRIES = 1000
"""The most retries accepted."""


class Help(usage.Options):
    """
    Options with this program's own C{--version} and usage line: the base of
    every subcommand's options.

    @cvar name: The subcommand, as typed.
    @cvar synopsis: What follows it on the usage line.
    """

    name = ""
    synopsis = "[options]"

    def getSynopsis(self) -> str:
        return f"Usage: {PROGRAM} {self.name} {self.synopsis}"

    def opt_version(self) -> NoReturn:
        """
        Display the version and exit.
        """
        print(f"{PROGRAM} {__version__}")
        sys.exit(0)


def serverParameters(port: int, timeout: float, timeoutHelp: str) -> List[List[Any]]:
    """
    The C{optParameters} rows C{--host}, C{--port} and C{--timeout}.

    @param port: The server's conventional port, the default.
    @param timeout: The default wait, in seconds.
    @param timeoutHelp: What the wait is for, for C{--help}.
    """
    return [
        ["host", None, "127.0.0.1", "The server: a host name, IPv4 or IPv6 address."],
        ["port", "p", port, "The server's port.", coerce.port("--port")],
        [
            "timeout",
            "t",
            timeout,
            timeoutHelp,
            coerce.number(
                "--timeout",
                high=MAX_TIMEOUT,
                lowOpen=True,
                template="{option} must be a positive number, not {value!r}",
            ),
        ],
    ]


def retriesParameter(retries: int, retriesHelp: str) -> List[Any]:
    """
    The C{optParameters} row C{--retries}.

    @param retries: The default count.
    @param retriesHelp: What is tried again, for C{--help}.
    """
    return [
        "retries",
        "r",
        retries,
        retriesHelp,
        coerce.whole(
            "--retries",
            0,
            MAX_RETRIES,
            f"{{option}} must be a number from 0 to {MAX_RETRIES}, not {{value!r}}",
        ),
    ]
