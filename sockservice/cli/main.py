# -*- test-case-name: tests.test_scripts -*-
"""
C{sockservice-client}: the command line over L{sockservice.client.calls}.

    sockservice-client tcp|udp [--host HOST] [--port PORT] [--timeout S]
                               [--retries N] [MESSAGE ...]
    sockservice-client time [--tcp] [FORMAT ...]
    sockservice-client chat --name NAME
    sockservice-client command [--token-file FILE] NAME [ARG ...]
    sockservice-client probe tcp|udp [options]   (see sockservice.cli.probe)

With MESSAGE words, send them joined by spaces and print the reply. Without,
send each line of standard input and print each reply; on a terminal, prompt
for each line as the textbook client does, until Ctrl-D.

Exit status: 0 on success, 1 on a network failure (one line on standard
error), 2 on a usage error (with the usage text); C{command} exits with the
remote command's status instead of 0.

Each subcommand is a row of L{SUBCOMMANDS}: its options class (a
L{sockservice.cli.options.Help}) and the coroutine that runs it, which
raises L{ClientError} on a network failure. A new subcommand is a new row.
This module only parses, calls, prints and maps failures to exit codes; the
network work is in the library.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Generic,
    List,
    NoReturn,
    Optional,
    Sequence,
    Type,
    TypeVar,
)

from twisted.internet.defer import Deferred
from twisted.python import usage

from sockservice.cli.console import Console
from sockservice.cli.options import PROGRAM, Help
from sockservice.cli.probe import ProbeOptions, runProbe
from sockservice.cli.services import (
    ChatOptions,
    CommandOptions,
    TimeOptions,
    runChat,
    runCommand,
    runTime,
)
from sockservice.cli.uppercase import TCPOptions, UDPOptions, runTCP, runUDP
from sockservice.client.errors import ClientError

__all__ = ["Options", "SUBCOMMANDS", "Subcommand", "main", "run", "runMain"]

INTERRUPTED = 130
"""
The exit status after Ctrl-C (or any signal that stops the reactor).
"""

_OptionsT = TypeVar("_OptionsT", bound=usage.Options)


@dataclass(frozen=True)
class Subcommand(Generic[_OptionsT]):
    """
    One subcommand of C{sockservice-client}.

    @ivar name: What to type.
    @ivar options: Its options class.
    @ivar run: Runs it with an instance of C{options}, parsed; raises
        L{ClientError} for a network failure; may return an exit status
        (C{None} means 0).
    @ivar summary: One line for the usage text.
    """

    name: str
    options: Type[_OptionsT]
    run: Callable[[Any, _OptionsT, Console], Awaitable[Optional[int]]]
    summary: str


# Each row is checked on its own (its run takes its options); the table
# holds rows of different options classes.
SUBCOMMANDS: Sequence[Subcommand[Any]] = (
    Subcommand("tcp", TCPOptions, runTCP, "Upper-case lines over TCP."),
    Subcommand("udp", UDPOptions, runUDP, "Upper-case datagrams over UDP."),
    Subcommand("time", TimeOptions, runTime, "Ask a time service for the time."),
    Subcommand("chat", ChatOptions, runChat, "Join a chat relay and talk."),
    Subcommand("command", CommandOptions, runCommand, "Run an allow-listed command."),
    Subcommand("probe", ProbeOptions, runProbe, "Measure latency, loss and corruption."),
)


class Options(Help):
    """
    Talk to a sockservice (or the textbook servers) from the shell.
    """

    subCommands = [(s.name, None, s.options, s.summary) for s in SUBCOMMANDS]
    longdesc = (
        "Exit status: 0 on success, 1 on a network failure (one line on "
        "standard error), 2 on a usage error; 'command' exits with the "
        "remote command's status. "
        f"Run '{PROGRAM} COMMAND --help' for a command's options."
    )

    def getSynopsis(self) -> str:
        names = "|".join(s.name for s in SUBCOMMANDS)
        return f"Usage: {PROGRAM} {names} [options] [ARG ...]"

    def postOptions(self) -> None:
        if self.subCommand is None:
            names = ", ".join(s.name for s in SUBCOMMANDS)
            raise usage.UsageError(f"name a subcommand: {names}")


_byName: Dict[str, Subcommand[Any]] = {s.name: s for s in SUBCOMMANDS}


async def run(reactor: Any, argv: Sequence[str], console: Console) -> int:
    """
    Parse C{argv}, run the subcommand, and say how it went; even a bug is
    one line on standard error, never a traceback or a hang.

    @return: The exit status: 0, 1 (network failure), 2 (usage error), or
        the subcommand's own.
    """
    try:
        return await _run(reactor, argv, console)
    except Exception as error:
        console.stderr.write(f"{PROGRAM}: unexpected error: {error!r}\n")
        return 1


async def _run(reactor: Any, argv: Sequence[str], console: Console) -> int:
    """
    L{run}, but for an unexpected error.
    """
    config = Options()
    try:
        config.parseOptions(list(argv))
    except usage.UsageError as error:
        parser = getattr(config, "subOptions", None) or config
        console.stderr.write(f"{parser}\n{PROGRAM}: {error}\n")
        return 2
    except SystemExit as exit:  # --help, --version
        return exit.code if isinstance(exit.code, int) else 0
    assert config.subCommand is not None
    subcommand = _byName[config.subCommand]
    try:
        code = await subcommand.run(reactor, config.subOptions, console)
    except ClientError as error:
        console.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    return code or 0


async def main(reactor: Any, *argv: str) -> None:
    """
    The L{react} entry point: exits with L{run}'s status, or L{INTERRUPTED}
    when a signal stops the reactor first.
    """
    finished: Deferred[int] = Deferred()

    def interrupted() -> None:
        if not finished.called:
            finished.callback(INTERRUPTED)

    reactor.addSystemEventTrigger("before", "shutdown", interrupted)
    working = Deferred.fromCoroutine(run(reactor, argv, Console.fromSystem(reactor)))
    working.addCallback(lambda code: None if finished.called else finished.callback(code))
    code = await finished
    if code:
        raise SystemExit(code)


def runMain(argv: Optional[List[str]] = None) -> NoReturn:
    """
    The C{sockservice-client} console script.

    @param argv: The arguments; by default, the process's.
    """
    from twisted.internet.task import react

    react(main, sys.argv[1:] if argv is None else argv)
