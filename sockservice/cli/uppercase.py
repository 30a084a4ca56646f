# -*- test-case-name: tests.test_scripts -*-
"""
The C{tcp} and C{udp} subcommands of C{sockservice-client}: their options
and the coroutines that run them, sending the MESSAGE or each line of
standard input through L{sockservice.client} and printing the replies.

A subcommand is an options class and a coroutine C{run(reactor, options,
console)} that raises L{ClientError} on a network failure;
L{sockservice.cli.main.SUBCOMMANDS} lists them.
"""

from __future__ import annotations

import os
from typing import Any, Awaitable, Callable, List

from twisted.internet.defer import Deferred
from twisted.python import usage

from sockservice.cli.console import Console
from sockservice.cli.options import Help, retriesParameter, serverParameters
from sockservice.cli.stdin import LinePump, OutputClosed
from sockservice.client.calls import lineClient
from sockservice.client.udp import DatagramClient

__all__ = ["PROMPT", "TCPOptions", "UDPOptions", "runTCP", "runUDP"]

PROMPT = b"Input lowercase sentence: "


def _parameters(
    timeout: float, timeoutHelp: str, retries: int, retriesHelp: str
) -> List[List[Any]]:
    """
    The C{optParameters} of an upper-casing subcommand, with its defaults.
    """
    return serverParameters(12000, timeout, timeoutHelp) + [retriesParameter(retries, retriesHelp)]


class _UppercaseOptions(Help):
    """
    The options of an upper-casing subcommand: where, how long, and what.
    """

    synopsis = "[options] [MESSAGE ...]"

    def __init__(self) -> None:
        super().__init__()
        self["message"] = ()

    def parseArgs(self, *message: str) -> None:
        """
        MESSAGE words, joined by spaces, are the one request to send.
        """
        self["message"] = message


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
    request: Callable[[bytes], Deferred[bytes]],
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
