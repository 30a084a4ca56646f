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
import os
from collections import deque
from typing import TYPE_CHECKING, Callable, Deque, List, Optional, Set, Tuple, cast

from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IPushProducer
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.command.allowlist import AllowedCommand, AllowList, Refused
from sockservice.command.backoff import AuthBackoff
from sockservice.command.netstrings import decodeFields, encodeFields
from sockservice.command.process import CommandProcess
from sockservice.command.session import SESSIONS, inSession, killGroup
from sockservice.peer import describePeer
from sockservice.server.interfaces import IServerReactor, IStreamTransport
from sockservice.server.limits import isLoopback

__all__ = [
    "CommandFactory",
    "CommandProtocol",
    "isLocalPeer",
    "CHILD_ENV",
]

CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
"""The whole environment of every command (nothing of the server's leaks)."""


def isLocalPeer(addr: Optional[IAddress]) -> bool:
    """
    @return: Whether C{addr} is on this machine: a loopback IP address
        (IPv4-mapped included) or a UNIX socket.
    """
    if isinstance(addr, UNIXAddress):
        return True
    host = getattr(addr, "host", None)
    return isinstance(host, str) and isLoopback(host)


@implementer(IPushProducer)
class CommandProtocol(NetstringReceiver):
    """
    One client connection: requests are handled one at a time, in order;
    while one runs, or while the transport's write buffer is full (the
    client is not reading its replies), the connection is not read from and
    no queued request starts.  So a connection holds at most about the
    transport's buffer plus one reply.

    The protocol is its transport's streaming producer (the requests it
    reads produce the replies it writes): the transport calls
    L{pauseProducing} when its buffer fills and L{resumeProducing} once it
    has drained.
    """

    MAX_LENGTH = 4096
    maxPending = 8
    log = Logger()
    factory: CommandFactory
    transport: IStreamTransport

    def connectionMade(self) -> None:
        """
        Nothing is allowed before C{auth} when the service has a token.
        """
        self.authenticated = self.factory.token is None
        self.peer = describePeer(self.transport.getPeer())
        self._pending: Deque[bytes] = deque()
        self._busy = False
        self._lost = False
        self._writePaused = False
        self._producing = True
        self._registered = True
        self.transport.registerProducer(self, True)

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """
        Replies still due are dropped; their commands run to their end.
        """
        self._lost = True

    def dataReceived(self, data: bytes) -> None:
        """
        Parse requests; a malformed frame closes the connection (see
        L{_close}).
        """
        super().dataReceived(data)
        if self.brokenPeer:
            self._close()

    def pauseProducing(self) -> None:
        """
        The client is not reading its replies: read and start nothing more
        until it has.
        """
        self._writePaused = True
        self._updateReading()

    def resumeProducing(self) -> None:
        """
        The client has read its replies: read and run requests again.
        """
        self._writePaused = False
        self._updateReading()
        self._next()

    def stopProducing(self) -> None:
        """
        The connection is gone; L{connectionLost} follows.
        """

    def stringReceived(self, request: bytes) -> None:
        """
        Queue one request (within L{maxPending}) and start it if none runs.
        """
        if self.transport.disconnecting:
            return
        if len(self._pending) >= self.maxPending:
            self.log.info("command: {peer} pipelined too much, closing", peer=self.peer)
            self._close()
            return
        self._pending.append(request)
        self._next()

    def _updateReading(self) -> None:
        """
        Read from the client unless a request runs or its replies wait.
        """
        if self._lost or self.transport.disconnecting:
            return
        producing = not (self._busy or self._writePaused)
        if producing != self._producing:
            self._producing = producing
            if producing:
                self.transport.resumeProducing()
            else:
                self.transport.pauseProducing()

    def _close(self) -> None:
        """
        Close the connection once the replies already written are sent.

        The producer is unregistered first: a transport does not close while
        a producer it has paused is registered.
        """
        if self._registered:
            self._registered = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _next(self) -> None:
        """
        Start the next pending request if none is running and the client
        reads its replies.
        """
        if self._busy or self._writePaused or not self._pending or self.transport.disconnecting:
            return
        self._busy = True
        self._updateReading()
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
            self._close()
            return
        self._updateReading()
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
            return self.factory.refuseAuth(self.transport.getPeer())
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


if TYPE_CHECKING:
    _Factory = Factory[CommandProtocol]
else:  # Factory is generic only in recent Twisted releases
    _Factory = Factory


class CommandFactory(_Factory):
    """
    The command service: shared allow-list, token and concurrency limit.

    @ivar running: How many commands run now.
    @ivar runs: The runs in progress.
    @ivar sessions: Whether each run leads a session (and process group) of
        its own, killed as a whole (see L{sockservice.command.session}).
    @ivar killGroup: Kills every process of a group, given its ID.
    """

    protocol = CommandProtocol
    log = Logger()
    noisy = False

    def __init__(
        self,
        allowList: AllowList,
        reactor: Optional[IServerReactor] = None,
        token: Optional[bytes] = None,
        maxConcurrent: int = 4,
        sessions: bool = SESSIONS,
    ) -> None:
        """
        @param allowList: What may run.
        @param reactor: Spawns the commands and times them out (by default,
            the global reactor).
        @param token: The shared secret clients must present; C{None} for
            none, in which case only loopback clients are served.
        @param maxConcurrent: Most commands running at once, all clients
            together; requests beyond it are refused with C{busy}.
        @param sessions: Whether to run each command in a session of its own
            (by default, wherever the platform allows it).
        """
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = cast(IServerReactor, globalReactor)
        self.allowList = allowList
        self.reactor = reactor
        self.token = token
        self.maxConcurrent = maxConcurrent
        self.sessions = sessions
        self.killGroup: Callable[[int], None] = killGroup
        self.running = 0
        self.runs: Set[CommandProcess] = set()
        self.authBackoff = AuthBackoff()

    def buildProtocol(self, addr: Optional[IAddress]) -> Optional[CommandProtocol]:
        """
        Refuse clients off this machine unless a token is required.
        """
        if self.token is None and not isLocalPeer(addr):
            self.log.warn(
                "command: refused {peer}: not loopback and no token",
                peer=describePeer(addr) if addr is not None else "?",
            )
            return None
        return super().buildProtocol(addr)

    def refuseAuth(self, addr: IAddress) -> Deferred[List[bytes]]:
        """
        Refuse a bad token from C{addr}, after a wait that doubles with each
        recent failure from its host (L{AuthBackoff}), so that guessing is
        slow.
        """
        host = getattr(addr, "host", None) or str(addr)
        delay = self.authBackoff.failed(host, self.reactor.seconds())
        reply: Deferred[List[bytes]] = deferLater(
            self.reactor, delay, lambda: [b"refused unauthorized", b"", b""]
        )
        return reply

    def stopFactory(self) -> None:
        """
        The service stops listening: kill every run in progress, with all
        it started.
        """
        for run in list(self.runs):
            run.kill("shutdown")

    def run(
        self, command: AllowedCommand, argv: Tuple[str, ...], peer: str
    ) -> Deferred[List[bytes]]:
        """
        Spawn C{argv} for C{command} unless too many already run.

        @return: A Deferred firing with the reply fields.
        """
        if self.running >= self.maxConcurrent:
            self.log.info("command: {peer} {name}: busy", peer=peer, name=command.name)
            return succeed([b"refused busy", b"", b""])
        args = list(argv)
        if self.sessions:
            run = CommandProcess(command, self.reactor, self.killGroup)
            args = inSession(args)
        else:
            run = CommandProcess(command, self.reactor)
        self.running += 1
        try:
            if self.sessions and not os.access(argv[0], os.X_OK):
                raise OSError(f"{argv[0]}: not executable")
            self.reactor.spawnProcess(run, args[0], args, env=CHILD_ENV, path="/")
        except Exception as e:
            self.running -= 1
            run._timer.cancel()
            self.log.failure("command: {name} could not start", Failure(e), name=command.name)
            return succeed([b"refused cannot start", b"", b""])
        self.runs.add(run)

        def ended(fields: List[bytes]) -> List[bytes]:
            self.running -= 1
            self.runs.discard(run)
            self.log.info(
                "command: {peer} ran {name}: {status}",
                peer=peer,
                name=command.name,
                status=fields[0].decode(),
            )
            return fields

        return run.finished.addCallback(ended)
