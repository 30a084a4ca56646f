# -*- test-case-name: tests.test_servicecommands -*-
"""
The C{time}, C{chat} and C{command} subcommands of C{sockservice-client}:
an options class and a coroutine C{run(reactor, options, console)} each.

    sockservice-client time [--host H] [--port P] [--tcp] [FORMAT ...]
    sockservice-client chat --name NAME [--host H] [--port P]
    sockservice-client command [--host H] [--port P] [--token-file F] NAME [ARG ...]

The coroutines raise L{ClientError} (one line for the person) on a network
failure or a refusal. C{runCommand} returns the remote command's exit
status (128 + N when a signal killed it) so the script can exit with it, as
C{ssh} does. The network work is in L{sockservice.timeserver.client},
L{sockservice.chat.client} and L{sockservice.command.client}.

The console is a L{sockservice.cli.console.Console}; L{sockservice.cli.main}
lists these subcommands next to C{tcp} and C{udp}.
"""

from __future__ import annotations

from typing import Any, Awaitable, Optional, TypeVar

from twisted.python import usage

from sockservice.chat.client import DEFAULT_PORT as CHAT_PORT
from sockservice.chat.client import ChatClient, ChatError
from sockservice.chat.console import HELP, ChatConsole
from sockservice.cli.console import Console
from sockservice.cli.options import Help, retriesParameter, serverParameters
from sockservice.client.errors import ClientError, describeError
from sockservice.client.resolve import hostAddress
from sockservice.client.udp import closePort, openPort
from sockservice.coerce import fileName
from sockservice.command.client import DEFAULT_PORT as COMMAND_PORT
from sockservice.command.client import CommandRefused, runRemoteCommand
from sockservice.command.token import readToken
from sockservice.peer import formatPeer
from sockservice.timeserver.client import DEFAULT_PORT as TIME_PORT
from sockservice.timeserver.client import queryTimeTCP, queryTimeUDP

__all__ = [
    "TimeOptions",
    "ChatOptions",
    "CommandOptions",
    "runTime",
    "runChat",
    "runCommand",
]

_WAIT = "Seconds to wait for the server."

T = TypeVar("T")


class TimeOptions(Help):
    """
    Ask a time service for the time in a C{strftime} FORMAT (words are joined
    by spaces; none means the server's default, C{%Y-%m-%d %X}).
    """

    name = "time"
    synopsis = "[--host HOST] [--port PORT] [--tcp] [FORMAT ...]"
    optFlags = [["tcp", None, "Ask over TCP instead of UDP."]]
    optParameters = serverParameters(TIME_PORT, 2.0, _WAIT) + [
        retriesParameter(2, "UDP: resend this many times on timeout.")
    ]

    def parseArgs(self, *words: str) -> None:
        self["format"] = " ".join(words)


async def runTime(reactor: Any, options: TimeOptions, console: Console) -> None:
    """
    Print the server's time; an C{error: ...} reply is an error.
    """
    host, port, fmt = options["host"], options["port"], options["format"].encode("utf-8")
    try:
        if options["tcp"]:
            reply = await queryTimeTCP(reactor, host, port, fmt, options["timeout"])
        else:
            reply = await queryTimeUDP(
                reactor, host, port, fmt, options["timeout"], options["retries"]
            )
    except Exception as e:
        raise describeError(e, host, port) from None
    if reply.startswith(b"error: "):
        raise ClientError(f"{formatPeer(host, port)} says {reply.decode('utf-8', 'replace')}")
    console.stdout.write(reply + b"\n")
    console.stdout.flush()


class ChatOptions(Help):
    """
    Join a chat relay and talk: typed lines go to everyone, C{@name text} to
    one member; C{/who} lists the members, C{/quit} or end of input leaves.
    """

    name = "chat"
    synopsis = "--name NAME [--host HOST] [--port PORT]"
    optParameters = serverParameters(CHAT_PORT, 2.0, _WAIT) + [
        ["name", "n", None, "Your name (1-24 letters, digits, _ . -)."]
    ]

    def postOptions(self) -> None:
        if not self["name"]:
            raise usage.UsageError("--name is required")


async def _chatStep(step: Awaitable[T], host: str, port: int) -> T:
    """
    Wait for a step of joining or chatting.

    @return: What C{step} gives.
    @raise ClientError: Its failure, in one line naming the server.
    """
    try:
        return await step
    except ChatError as e:
        raise ClientError(f"{formatPeer(host, port)}: {e}") from None
    except Exception as e:
        raise describeError(e, host, port) from None


async def runChat(reactor: Any, options: ChatOptions, console: Console) -> None:
    """
    Join, then relay between the person and the chat until they leave.
    """
    host, port = options["host"], options["port"]
    ip = await _chatStep(hostAddress(reactor, host, port), host, port)

    def early(line: str) -> None:
        console.stdout.write(line.encode("utf-8", "replace") + b"\n")

    client = ChatClient(reactor, ip, port, options["name"], early, timeout=options["timeout"])
    listening = openPort(reactor, ip, client)
    try:
        await _chatStep(client.joined, host, port)
        typed = ChatConsole()
        typed.client = client
        client.show = typed.show
        console.attach(typed)
        typed.show(f"* joined as {options['name']}. {HELP}")
        try:
            await _chatStep(client.done, host, port)
        finally:
            await typed.finish(reactor)
    finally:
        await closePort(listening)


class CommandOptions(Help):
    """
    Run the allow-listed command NAME on a command service; its stdout and
    stderr are copied to ours, and its exit status becomes ours.
    """

    name = "command"
    synopsis = "[--host HOST] [--port PORT] [--token-file FILE] NAME [ARG ...]"
    optParameters = serverParameters(COMMAND_PORT, 60.0, _WAIT) + [
        [
            "token-file",
            None,
            None,
            "File holding the server's shared secret.",
            fileName("--token-file"),
        ]
    ]

    # usage.Options.parseArgs takes no arguments, but parseOptions passes
    # the positional ones and turns a TypeError (a wrong count) into its
    # "Wrong number of arguments." UsageError: NAME is required that way.
    def parseArgs(self, name: str, *args: str) -> None:  # type: ignore[override]
        self["name"], self["args"] = name, args

    def postOptions(self) -> None:
        self["token"] = None
        if self["token-file"] is not None:
            self["token"] = readToken(self["token-file"], "--token-file")


async def runCommand(reactor: Any, options: CommandOptions, console: Console) -> Optional[int]:
    """
    Run the command and copy its output.

    @return: Its exit status, or 128 + the signal that killed it.
    """
    host, port, name = options["host"], options["port"], options["name"]
    try:
        result = await runRemoteCommand(
            reactor, host, port, name, options["args"], options["token"], options["timeout"]
        )
    except CommandRefused as e:
        raise ClientError(f"{formatPeer(host, port)} refused to run {name!r}: {e}") from None
    except Exception as e:
        raise describeError(e, host, port) from None
    console.stdout.write(result.stdout)
    console.stdout.flush()
    console.stderr.write(result.stderr.decode("utf-8", "replace"))
    for flag, words in (("timeout", "timed out"), ("truncated", "output was cut at its cap")):
        if flag in result.flags:
            console.stderr.write(f"sockservice-client: {name}: {words}, killed\n")
    console.stderr.flush()
    return result.exitCode if result.exitCode is not None else 128 + (result.signal or 0)
