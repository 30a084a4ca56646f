# -*- test-case-name: tests.test_coerce -*-
"""
Option coercers for L{twisted.python.usage.Options}: the one place where a
command-line number, port or file name is checked, for the server and the
client alike.

Each function here takes the option's name and returns a coercer for the
fifth column of C{optParameters}, so that C{usage.Options} applies it as it
parses.  A coercer raises L{UsageError} with a one-line message that names
the option; NaN and the infinities are refused everywhere.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, TypeVar, Union

from twisted.python.usage import UsageError

__all__ = ["EXPECTED", "fileName", "isDecimal", "number", "port", "whole"]

Number = TypeVar("Number", int, float)

EXPECTED = "{option}: expected a non-negative number, got {value!r}"
"""The default error of a coercer."""


def isDecimal(text: str) -> bool:
    """
    @return: Whether C{text} is ASCII decimal digits only (C{str.isdigit}
        alone admits C{"¹"} and other digits that C{int} refuses).
    """
    return text.isascii() and text.isdigit()


def _inRange(value: Number, low: Number, high: Optional[Number], lowOpen: bool) -> bool:
    if lowOpen and value <= low or value < low:
        return False
    return high is None or value <= high


def number(
    option: str,
    low: float = 0.0,
    high: Optional[float] = None,
    lowOpen: bool = False,
    template: str = "",
) -> Callable[[Union[str, float]], float]:
    """
    A coercer to a finite C{float} in C{[low, high]} (C{(low, high]} with
    C{lowOpen}).

    @param option: the option as the user writes it, e.g. C{"--drain"}.
    @param template: the error, with C{{option}} and C{{value}} fields; by
        default L{EXPECTED}.
    """

    def coerce(text: Union[str, float]) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or not _inRange(value, low, high, lowOpen):
            raise _error(template, option, text)
        return value

    return coerce


def whole(
    option: str,
    low: int = 0,
    high: Optional[int] = None,
    template: str = "",
) -> Callable[[Union[str, int]], int]:
    """
    A coercer to an C{int} in C{[low, high]}, written in decimal digits.

    @param option: the option as the user writes it, e.g. C{"--workers"}.
    @param template: as for L{number}.
    """

    def coerce(text: Union[str, int]) -> int:
        digits = str(text).strip()
        if not isDecimal(digits):
            raise _error(template, option, text)
        value = int(digits)
        if not _inRange(value, low, high, False):
            raise _error(template, option, text)
        return value

    return coerce


def port(option: str, low: int = 1) -> Callable[[Union[str, int]], int]:
    """
    A coercer to a port number, C{low} (1, or 0 for "any free port") to 65535.
    """
    return whole(
        option, low, 65535, f"{{option}} must be a number from {low} to 65535, not {{value!r}}"
    )


def fileName(option: str) -> Callable[[str], str]:
    """
    A coercer that refuses a file name no file can have: one with a NUL
    byte (C{open} would raise C{ValueError}, not C{OSError}).
    """

    def coerce(text: str) -> str:
        if "\0" in text:
            raise UsageError(f"{option}: not a file name: {text!r}")
        return text

    return coerce


def _error(template: str, option: str, text: object) -> UsageError:
    return UsageError((template or EXPECTED).format(option=option, value=str(text)))
