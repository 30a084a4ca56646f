# -*- test-case-name: tests.test_commandclient -*-
"""
The command service's client: run one allowed command on a server and get
its exit status, stdout and stderr back, separately and whole.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, List, NoReturn, Optional, Sequence, Tuple, Union

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.error import TimeoutError
from twisted.internet.interfaces import IReactorTime, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure

from sockservice.command.netstrings import decodeFields, encodeFields

__all__ = ["DEFAULT_PORT", "CommandClient", "CommandRefused", "CommandResult", "runRemoteCommand"]

DEFAULT_PORT = 12015
"""The command service's conventional port in the examples."""


class CommandRefused(Exception):
    """
    The server ran nothing; the message is its reason (C{unknown command},
    C{busy}, C{unauthorized}, ...).
    """


class CommandResult:
    """
    What a command did.

    @ivar status: The server's status line, e.g. C{exit 0}, C{signal 9 timeout}.
    @ivar stdout: Everything the command wrote to stdout (up to its cap).
    @ivar stderr: Everything the command wrote to stderr (up to its cap).
    @ivar exitCode: The exit code, or C{None} if it was killed by a signal.
    @ivar signal: The signal that killed it, or C{None}.
    @ivar flags: C{"timeout"} and/or C{"truncated"} if the server killed it.
    """

    def __init__(self, status: str, stdout: bytes, stderr: bytes) -> None:
        self.status, self.stdout, self.stderr = status, stdout, stderr
        words = status.split()
        kind, number = words[0], int(words[1])
        self.exitCode: Optional[int] = number if kind == "exit" else None
        self.signal: Optional[int] = number if kind == "signal" else None
        self.flags: Tuple[str, ...] = tuple(words[2:])

    def __repr__(self) -> str:
        return (
            f"<CommandResult {self.status!r} stdout={len(self.stdout)}B stderr={len(self.stderr)}B>"
        )


class CommandClient(NetstringReceiver):
    """
    Sends framed requests and matches replies to them in order.
    """

    MAX_LENGTH = 64 * 1024 * 1024
    # A TCP connection (HostnameEndpoint), or TLS with the same methods.
    transport: ITCPTransport

    def __init__(self) -> None:
        self._waiting: Deque[Deferred[List[bytes]]] = deque()

    def request(self, fields: Sequence[bytes]) -> Deferred[List[bytes]]:
        """
        @return: A Deferred firing with the reply's fields.
        """
        d: Deferred[List[bytes]] = Deferred()
        self._waiting.append(d)
        self.sendString(encodeFields(fields))
        return d

    def stringReceived(self, reply: bytes) -> None:
        if not self._waiting:
            self.transport.loseConnection()
            return
        d = self._waiting.popleft()
        try:
            fields = decodeFields(reply)
            if len(fields) != 3:
                raise ValueError("a reply has 3 fields")
        except ValueError as e:
            d.errback(Failure(e))
        else:
            d.callback(fields)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        while self._waiting:
            self._waiting.popleft().errback(reason)


async def runRemoteCommand(
    reactor: Any,
    host: str,
    port: int,
    name: str,
    args: Sequence[str] = (),
    token: Optional[bytes] = None,
    timeout: float = 60.0,
) -> CommandResult:
    """
    Run the allowed command C{name} on a command server.

    @param reactor: Connects by host name (see L{HostnameEndpoint}) and
        provides the clock.
    @param token: The shared secret, if the server requires one.
    @param timeout: Seconds for the whole exchange.
    @raise CommandRefused: If the server ran nothing.
    @raise TimeoutError: If the exchange took longer than C{timeout}.
    """
    proto = CommandClient()
    await connectProtocol(HostnameEndpoint(reactor, host, port, timeout=timeout), proto)
    try:
        if token is not None:
            status = (await _within(reactor, proto, proto.request([b"auth", token]), timeout))[0]
            if status != b"ok":
                raise CommandRefused(status.decode("utf-8", "replace").removeprefix("refused "))
        request = [b"run", name.encode()] + [a.encode() for a in args]
        status, out, err = await _within(reactor, proto, proto.request(request), timeout)
    finally:
        proto.transport.loseConnection()
    text = status.decode("utf-8", "replace")
    if not text.startswith(("exit ", "signal ")):
        raise CommandRefused(text.removeprefix("refused "))
    return CommandResult(text, out, err)


def _within(
    clock: IReactorTime, proto: CommandClient, d: Deferred[List[bytes]], timeout: float
) -> Deferred[List[bytes]]:
    """
    @return: C{d}, failing with L{TimeoutError} (and the connection aborted)
        if it has not fired within C{timeout} seconds.
    """

    def timedOut(result: Union[List[bytes], Failure], seconds: float) -> NoReturn:
        proto.transport.abortConnection()
        raise TimeoutError(f"no reply within {seconds:g} s")

    return d.addTimeout(timeout, clock, onTimeoutCancel=timedOut)
