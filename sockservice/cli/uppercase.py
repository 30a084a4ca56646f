# -*- test-case-name: tests.test_scripts -*-
"""
The C{tcp} and C{udp} subcommands of C{sockservice-client}, and what every
subcommand shares: L{Console}, the C{--version} option, option checks.

A subcommand is an options class and a coroutine C{run(reactor, options,
console)} that raises L{ClientError} on a network failure;
L{sockservice.cli.main.SUBCOMMANDS} lists them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import IO, Any, Awaitable, Callable, List, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocol
from twisted.python import usage

from sockservice import __version__
from sockservice.client.calls import DatagramClient, lineClient
from sockservice.cli.stdin import LinePump, OutputClosed

__all__ = [
    "Console",
    "Help",
    "PROGRAM",
    "PROMPT",
    "TCPOptions",
    "UDPOptions",
    "runTCP",
    "runUDP",
]

PROGRAM = "sockservice-client"
PROMPT = b"Input lowercase sentence: "


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
    def fromSystem(cls, reactor: Any) -> "Console":
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


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise usage.UsageError(
            f"--port must be a number from 1 to 65535, not {value!r}"
        )
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e6:
        raise usage.UsageError(f"--timeout must be a positive number, not {value!r}")
    return seconds


def _count(value: str) -> int:
    if not value.isdigit() or int(value) > 1000:
        raise usage.UsageError(
            f"--retries must be a number from 0 to 1000, not {value!r}"
        )
    return int(value)


class Help(usage.Options):
    """
    Options with this program's own C{--version}: the base of every
    subcommand's options.
    """

    def opt_version(self) -> NoReturn:
        """
        Display the version and exit.
        """
        print(f"{PROGRAM} {__version__}")
        sys.exit(0)


def _parameters(
    timeout: float, timeoutHelp: str, retries: int, retriesHelp: str
) -> List[List[Any]]:
    """
    The C{optParameters} of an upper-casing subcommand, with its defaults.
    """
    return [
        ["host", None, "127.0.0.1", "The server: a host name, IPv4 or IPv6 address."],
        ["port", "p", "12000", "The server's port."],
        ["timeout", "t", str(timeout), timeoutHelp],
        ["retries", "r", str(retries), retriesHelp],
    ]


class _UppercaseOptions(Help):
    """
    The options of an upper-casing subcommand: where, how long, and what.
    """

    name = ""

    def __init__(self) -> None:
        super().__init__()
        self["message"] = ()

    def getSynopsis(self) -> str:
        return f"Usage: {PROGRAM} {self.name} [options] [MESSAGE ...]"

    def parseArgs(self, *message: str) -> None:
        """
        MESSAGE words, joined by spaces, are the one request to send.
        """
        self["message"] = message

    def postOptions(self) -> None:
        self["port"] = _port(str(self["port"]))
        self["timeout"] = _seconds(str(self["timeout"]))
        self["retries"] = _count(str(self["retries"]))


class TCPOptions(_UppercaseOptions):
    """
    Upper-case over TCP: each request is a line; each reply, the line back.
    """

    name = "tcp"
    optParameters = _parameters(
        10.0,
        "Seconds to wait for the connection, and for each reply.",
        0,
        "How many more times to try connecting after a failure.",
    )

    longdesc = (
        "Sends MESSAGE (the words joined by spaces) as one line and prints "
        "the reply line. Without MESSAGE, sends each line of standard input "
        "and prints each reply; on a terminal, prompts for each line until "
        "Ctrl-D. If the server closes the connection after each reply, as "
        "the textbook server does, reconnects for the next line."
    )

    def postOptions(self) -> None:
        super().postOptions()
        if any("\n" in word for word in self["message"]):
            raise usage.UsageError("a TCP MESSAGE cannot contain a newline")


class UDPOptions(_UppercaseOptions):
    """
    Upper-case over UDP: each request is a datagram; each reply, one back.
    """

    name = "udp"
    optParameters = _parameters(
        1.0,
        "Seconds to wait for a reply before sending again.",
        2,
        "How many times to send again before giving up.",
    )
    longdesc = (
        "Sends MESSAGE (the words joined by spaces) as one datagram and "
        "prints the reply. Without MESSAGE, sends each line of standard "
        "input as a datagram (without its newline) and prints each reply; "
        "on a terminal, prompts for each line until Ctrl-D. Only a datagram "
        "from the server's address counts as a reply."
    )


async def _uppercase(
    request: Callable[[bytes], "Deferred[bytes]"],
    close: Callable[[], Awaitable[None]],
    options: usage.Options,
    console: Console,
) -> None:
    """
    Send the MESSAGE, or every line of standard input, and print the replies.
    """
    try:
        if options["message"]:
            reply = await request(os.fsencode(" ".join(options["message"])))
            console.stdout.write(reply + b"\n")
            console.stdout.flush()
        else:
            prompt = PROMPT if console.interactive else None
            pump = LinePump(request, window=1 if prompt else 64, prompt=prompt)
            console.attach(pump)
            try:
                await pump.done
            except OutputClosed:
                pass
    except Exception:
        # Not "finally": a coroutine abandoned at exit must not await.
        await close()
        raise
    await close()


def _client(makeClient: Any, reactor: Any, options: usage.Options) -> Any:
    """
    A client made by C{makeClient} for the host, port, timeout and retries
    of C{options}.
    """
    return makeClient(
        reactor, options["host"], options["port"], options["timeout"], options["retries"]
    )


async def runTCP(reactor: Any, options: usage.Options, console: Console) -> None:
    """
    The C{tcp} subcommand.
    """
    client = _client(lineClient, reactor, options)
    await _uppercase(client.request, client.close, options, console)


async def runUDP(reactor: Any, options: usage.Options, console: Console) -> None:
    """
    The C{udp} subcommand.
    """
    client = _client(DatagramClient, reactor, options)
    await _uppercase(client.request, client.close, options, console)
