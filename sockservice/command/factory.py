# -*- test-case-name: tests.test_command, tests.test_commandflow -*-
"""
The command service's factory: what every connection shares (the
allow-list, the token, the limit on concurrent runs, the runs themselves,
the backoff of failed C{auth}), and where runs are started and killed.
The per-connection protocol is L{sockservice.command.protocol}.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional, Set, Tuple, cast

from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockservice.command.allowlist import AllowedCommand, AllowList
from sockservice.command.backoff import AuthBackoff
from sockservice.command.process import CommandProcess
from sockservice.command.protocol import CommandProtocol
from sockservice.command.session import SESSIONS, inSession, killGroup
from sockservice.peer import describePeer
from sockservice.server.counters import Sample, ServiceCounters
from sockservice.server.interfaces import IServerReactor
from sockservice.server.limits import isLoopback

__all__ = ["CHILD_ENV", "CommandFactory", "isLocalPeer", "runStatus"]

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


_REFUSALS = {
    "unauthorized",
    "bad request",
    "busy",
    "cannot start",
    "too many arguments",
    "argument not UTF-8",
    "argument not allowed",
    "unknown command",
}


def runStatus(status: bytes) -> Optional[str]:
    """
    How a reply's status counts in C{sockservice_command_runs_total}: the
    first flag (C{timeout}, C{truncated}, C{shutdown}) or else C{exit} or
    C{signal}; C{refused-REASON} (a known reason, or C{refused-other}).

    @return: that label, or L{None} for a reply that is no run (C{ok}).
    """
    words = status.decode("ascii", "replace").split(" ")
    if words[0] == "refused":
        reason = " ".join(words[1:])
        return "refused-" + (reason if reason in _REFUSALS else "other").replace(" ", "-").lower()
    if words[0] in ("exit", "signal"):
        return words[2] if len(words) > 2 else words[0]
    return None


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
    @ivar counters: The requests received and answered (the bytes and
        connections are counted by the L{GuardedFactory} that shares them).
    @ivar statuses: The replies by L{runStatus}.
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
        self.counters = ServiceCounters()
        self.statuses: Counter[str] = Counter()

    def replied(self, status: bytes) -> None:
        """
        Count a reply, of C{status}.
        """
        label = runStatus(status)
        if label is not None:
            self.statuses[label] += 1

    def samples(self) -> Iterable[Sample]:
        """
        @return: the runs by status, and in progress.
        """
        for status, count in sorted(self.statuses.items()):
            yield ("sockservice_command_runs_total", {"status": status}, count)
        yield ("sockservice_command_runs_in_progress", {}, self.running)

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
