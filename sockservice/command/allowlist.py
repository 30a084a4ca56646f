# -*- test-case-name: tests.test_allowlist -*-
"""
The command service's allow-list: which names may be run, as which argv.

The file is INI (read with L{configparser}, no interpolation); one section
per command, the section name being what clients ask for::

    [uptime]
    argv = uptime

    [disk]
    argv = df -h --
    args = /[A-Za-z0-9/_.-]{0,200}
    max-args = 2
    timeout = 5
    max-output = 65536

Keys: C{argv} (required; split like a shell would with L{shlex.split}, but
no shell ever runs; the program is looked up on C{PATH} once, when the file
is loaded, and stored as an absolute path), C{args} (a regular expression
that every client argument must match in full; without it no arguments are
accepted), C{max-args} (default 1 when C{args} is given), C{timeout}
(seconds, default 10), C{max-output} (bytes of stdout and stderr together,
default 65536). Unknown keys are errors, so a typo cannot silently loosen a
rule. Values in C{[DEFAULT]} apply to every section.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
from typing import Dict, Optional, Pattern, Sequence, Tuple

__all__ = ["AllowList", "AllowedCommand", "AllowListError", "Refused", "loadAllowList"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_KEYS = {"argv", "args", "max-args", "timeout", "max-output"}


class AllowListError(Exception):
    """
    The allow-list file is missing or malformed; the message says where.
    """


class Refused(Exception):
    """
    A request names nothing that may be run; the message is the reason sent
    back to the client.
    """


class AllowedCommand:
    """
    One allowed command.

    @ivar name: What clients ask for.
    @ivar argv: The fixed argv; C{argv[0]} is an absolute path.
    @ivar argPattern: Full-match pattern for each client argument, or C{None}
        if the command takes none.
    @ivar maxArgs: Most client arguments accepted.
    @ivar timeout: Seconds before the process is killed.
    @ivar maxOutput: Bytes of output kept before the process is killed.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        argPattern: Optional[Pattern[str]] = None,
        maxArgs: int = 0,
        timeout: float = 10.0,
        maxOutput: int = 65536,
    ) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.argPattern = argPattern
        self.maxArgs = maxArgs if argPattern is not None else 0
        self.timeout = timeout
        self.maxOutput = maxOutput

    def argvFor(self, args: Sequence[bytes]) -> Tuple[str, ...]:
        """
        @param args: Client arguments, as received.
        @return: The full argv to run.
        @raise Refused: If the arguments are not allowed.
        """
        if len(args) > self.maxArgs:
            raise Refused("too many arguments")
        extra = []
        for raw in args:
            try:
                arg = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused("argument not UTF-8") from None
            if self.argPattern is None or "\x00" in arg or not self.argPattern.fullmatch(arg):
                raise Refused("argument not allowed")
            extra.append(arg)
        return self.argv + tuple(extra)


class AllowList:
    """
    The allowed commands, by name.
    """

    def __init__(self, commands: Sequence[AllowedCommand]) -> None:
        self.commands: Dict[str, AllowedCommand] = {c.name: c for c in commands}

    def resolve(self, name: bytes, args: Sequence[bytes]) -> Tuple[AllowedCommand, Tuple[str, ...]]:
        """
        @param name: The requested name, as received.
        @param args: The client's arguments, as received.
        @return: The command and the argv to run.
        @raise Refused: If C{name} is not allowed or the arguments are not.
        """
        try:
            command = self.commands[name.decode("ascii")]
        except (UnicodeDecodeError, KeyError):
            raise Refused("unknown command") from None
        return command, command.argvFor(args)


def _number(section: configparser.SectionProxy, key: str, default: float, top: float) -> float:
    """
    Read a positive number no larger than C{top} from C{section}.
    """
    raw = section.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= top:
        raise AllowListError(f"[{section.name}] {key} must be a number in (0, {top:g}]")
    return value


def _command(section: configparser.SectionProxy, path: Optional[str]) -> AllowedCommand:
    """
    Build one L{AllowedCommand} from its section.
    """
    name = section.name
    if not _NAME.fullmatch(name):
        raise AllowListError(f"[{name}] command names are 1-64 of A-Z a-z 0-9 _ . -")
    unknown = set(section.keys()) - _KEYS
    if unknown:
        raise AllowListError(f"[{name}] unknown key(s): {', '.join(sorted(unknown))}")
    try:
        argv = shlex.split(section.get("argv", ""))
    except ValueError as e:
        raise AllowListError(f"[{name}] argv: {e}") from None
    if not argv:
        raise AllowListError(f"[{name}] argv is required")
    program = shutil.which(argv[0], path=path) if not os.path.isabs(argv[0]) else argv[0]
    if program is None or not (os.path.isfile(program) and os.access(program, os.X_OK)):
        raise AllowListError(f"[{name}] program not found or not executable: {argv[0]}")
    argPattern = None
    if "args" in section:
        try:
            argPattern = re.compile(section["args"])
        except re.error as e:
            raise AllowListError(f"[{name}] args: {e}") from None
    return AllowedCommand(
        name,
        [os.path.abspath(program)] + argv[1:],
        argPattern,
        int(_number(section, "max-args", 1, 32)) if argPattern is not None else 0,
        _number(section, "timeout", 10, 3600),
        int(_number(section, "max-output", 65536, 16 * 1024 * 1024)),
    )


def loadAllowList(filename: str, path: Optional[str] = None) -> AllowList:
    """
    Read and check an allow-list file.

    @param filename: The INI file.
    @param path: Where to look up programs; C{PATH} by default.
    @raise AllowListError: If the file cannot be read or is malformed.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(filename, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        raise AllowListError(f"cannot read allow-list {filename}: {e}") from None
    return AllowList([_command(parser[name], path) for name in parser.sections()])
