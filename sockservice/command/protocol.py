# -*- test-case-name: tests.test_command -*-
"""
The command service: run allow-listed commands for TCP clients, safely.

The textbook program runs C{Popen(request, shell=True)} on whatever arrives
and sends back up to 1024 bytes at a time, so long outputs spill into the
next reply (the "sticky packet" problem). Here:

  - every request and reply is one netstring, whose payload is itself a
    sequence of netstrings (L{sockservice.command.netstrings}), so output of any size and any
    bytes never mixes with the next reply;
  - only names in the L{AllowList} run, as their fixed argv through
    C{reactor.spawnProcess} (no shell, the reactor never blocks), with a
    timeout, an output cap, and a limit on concurrent runs;
  - clients that are not on loopback are refused unless a token is set, and
    then every connection must present it first (compared in constant time).

Requests: C{[b"run", name, arg...]} or C{[b"auth", token]}. Replies:
C{[status, stdout, stderr]} where status is C{exit N}, C{signal N} (either
followed by C{ timeout} and/or C{ truncated} when the service killed the
process), C{refused REASON} (nothing ran), or C{ok} (after C{auth}).
"""

from __future__ import annotations

import hmac
from collections import deque
from typing import Any, Deque, List, Optional, Tuple

from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure

from sockservice.command.allowlist import AllowedCommand, AllowList, Refused
from sockservice.command.process import CommandProcess
from sockservice.server.limits import isLoopback
from sockservice.command.netstrings import decodeFields, encodeFields
from sockservice.peer import describePeer

__all__ = [
    "CommandFactory",
    "CommandProtocol",
    "isLocalPeer",
    "CHILD_ENV",
]

CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
"""The whole environment of every command (nothing of the server's leaks)."""


def isLocalPeer(addr: IAddress) -> bool:
    """
    @return: Whether C{addr} is on this machine: a loopback IP address
        (IPv4-mapped included) or a UNIX socket.
    """
    if isinstance(addr, UNIXAddress):
        return True
    host = getattr(addr, "host", None)
    return isinstance(host, str) and isLoopback(host)


class CommandProtocol(NetstringReceiver):
    """
    One client connection: requests are handled one at a time, in order;
    while one runs, the connection is not read from.
    """

    MAX_LENGTH = 4096
    maxPending = 8
    log = Logger()

    def connectionMade(self) -> None:
        """
        Nothing is allowed before C{auth} when the service has a token.
        """
        self.authenticated = self.factory.token is None
        self.peer = describePeer(self.transport.getPeer())
        self._pending: Deque[bytes] = deque()
        self._busy = False
        self._lost = False

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """
        Replies still due are dropped; their commands run to their end.
        """
        self._lost = True

    def stringReceived(self, request: bytes) -> None:
        """
        Queue one request (within L{maxPending}) and start it if none runs.
        """
        if self.transport.disconnecting:
            return
        if len(self._pending) >= self.maxPending:
            self.log.info("command: {peer} pipelined too much, closing", peer=self.peer)
            self.transport.loseConnection()
            return
        self._pending.append(request)
        self._next()

    def _next(self) -> None:
        """
        Start the next pending request if none is running.
        """
        if self._busy or not self._pending or self.transport.disconnecting:
            return
        self._busy = True
        self.transport.pauseProducing()
        d = self._handle(self._pending.popleft())
        d.addCallback(self._reply)

    def _reply(self, fields: List[bytes]) -> None:
        """
        Send one reply, then read on (or hang up on an unauthenticated client).
        """
        self._busy = False
        if self._lost or self.transport.disconnecting:
            return
        self.sendString(encodeFields(fields))
        if not self.authenticated:
            self.transport.loseConnection()
            return
        self.transport.resumeProducing()
        self._next()

    def _handle(self, request: bytes) -> Deferred[List[bytes]]:
        """
        Check one request and run it if allowed.

        @return: A Deferred firing with the reply fields; never fails.
        """
        try:
            fields = decodeFields(request)
        except ValueError:
            fields = []
        verb, args = (fields[0], fields[1:]) if fields else (b"", [])
        if verb == b"auth" and len(args) == 1 and self.factory.token is not None:
            self.authenticated = hmac.compare_digest(args[0], self.factory.token)
            if self.authenticated:
                return succeed([b"ok", b"", b""])
            self.log.info("command: bad token from {peer}", peer=self.peer)
        if not self.authenticated:
            return succeed([b"refused unauthorized", b"", b""])
        if verb != b"run" or not args:
            return succeed([b"refused bad request", b"", b""])
        try:
            command, argv = self.factory.allowList.resolve(args[0], args[1:])
        except Refused as e:
            self.log.info(
                "command: {peer} refused {name}: {reason}",
                peer=self.peer,
                name=repr(args[0][:64])[1:],
                reason=str(e),
            )
            return succeed([b"refused " + str(e).encode(), b"", b""])
        return self.factory.run(command, argv, self.peer)


class CommandFactory(Factory):
    """
    The command service: shared allow-list, token and concurrency limit.

    @ivar running: How many commands run now.
    """

    protocol = CommandProtocol
    log = Logger()
    noisy = False

    def __init__(
        self,
        allowList: AllowList,
        reactor: Any = None,
        token: Optional[bytes] = None,
        maxConcurrent: int = 4,
    ) -> None:
        """
        @param allowList: What may run.
        @param reactor: An C{IReactorProcess} and C{IReactorTime}.
        @param token: The shared secret clients must present; C{None} for
            none, in which case only loopback clients are served.
        @param maxConcurrent: Most commands running at once, all clients
            together; requests beyond it are refused with C{busy}.
        """
        if reactor is None:
            from twisted.internet import reactor  # type: ignore[assignment]
        self.allowList = allowList
        self.reactor = reactor
        self.token = token
        self.maxConcurrent = maxConcurrent
        self.running = 0

    def buildProtocol(self, addr: IAddress) -> Optional[CommandProtocol]:
        """
        Refuse clients off this machine unless a token is required.
        """
        if self.token is None and not isLocalPeer(addr):
            self.log.warn(
                "command: refused {peer}: not loopback and no token", peer=describePeer(addr)
            )
            return None
        return super().buildProtocol(addr)  # type: ignore[no-any-return]

    def run(
        self, command: AllowedCommand, argv: Tuple[str, ...], peer: Any
    ) -> Deferred[List[bytes]]:
        """
        Spawn C{argv} for C{command} unless too many already run.

        @return: A Deferred firing with the reply fields.
        """
        if self.running >= self.maxConcurrent:
            self.log.info("command: {peer} {name}: busy", peer=peer, name=command.name)
            return succeed([b"refused busy", b"", b""])
        run = CommandProcess(command, self.reactor)
        self.running += 1
        try:
            self.reactor.spawnProcess(run, argv[0], list(argv), env=CHILD_ENV, path="/")
        except Exception as e:
            self.running -= 1
            run._timer.cancel()
            self.log.failure("command: {name} could not start", Failure(e), name=command.name)
            return succeed([b"refused cannot start", b"", b""])

        def ended(fields: List[bytes]) -> List[bytes]:
            self.running -= 1
            self.log.info(
                "command: {peer} ran {name}: {status}",
                peer=peer,
                name=command.name,
                status=fields[0].decode(),
            )
            return fields

        return run.finished.addCallback(ended)
