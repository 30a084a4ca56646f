# -*- test-case-name: tests.test_tap -*-
"""
The C{twistd sockservice} entry point: L{Options} and L{makeService}.

Each service package contributes one fragment: its options (with their own
checks) and an C{addServices} function.  L{Options} composes the fragments'
options; L{makeService} composes their services under one
L{SockService}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from twisted.application.service import IService
from twisted.python import usage

import sockservice.chat.tap
import sockservice.command.tap
import sockservice.timeserver.tap
import sockservice.uppercase.tap
from sockservice.chat.tap import ChatConfig, ChatOptions
from sockservice.command.tap import CommandConfig, CommandOptions
from sockservice.server.drain import DrainService
from sockservice.server.interfaces import IServerReactor
from sockservice.server.listeners import SockService
from sockservice.server.options import ServerConfig, ServerOptions, Shared
from sockservice.server.parent import ParentWatch
from sockservice.server.systemd import Notifier, ReadinessService
from sockservice.timeserver.tap import TimeConfig, TimeOptions
from sockservice.uppercase.tap import DEFAULT_PORT, UppercaseConfig, UppercaseOptions

__all__ = ["Config", "Options", "makeService"]


@dataclass(frozen=True)
class Config:
    """
    Everything L{Options} parsed: the shared options and each service's.
    """

    server: ServerConfig
    uppercase: UppercaseConfig
    time: TimeConfig
    chat: ChatConfig
    command: CommandConfig


class Options(UppercaseOptions, TimeOptions, ChatOptions, CommandOptions, ServerOptions):
    """
    Command line of C{twistd sockservice}: the fragments' options together.

    @ivar config: after parsing, the L{Config}.
    """

    synopsis = "[--tcp DESC]... [--udp DESC]... [options]"
    longdesc = (
        "Serve the textbook upper-casing service: every byte sent over TCP comes "
        "back upper-cased on the same connection, and every UDP datagram is "
        "answered with its upper-cased payload. With neither --tcp nor --udp, "
        f"listens on TCP {DEFAULT_PORT} and UDP {DEFAULT_PORT} on all IPv4 "
        "interfaces."
    )

    def postOptions(self) -> None:
        """
        Check every fragment's options into L{config}; a failure is a
        L{usage.UsageError} of one line, whatever words it quotes (an
        allow-list's parser, Twisted's endpoint parser).
        """
        try:
            server = self.serverConfig()
            time = self.timeConfig(server)
            chat = self.chatConfig(server)
            command = self.commandConfig(server)
            uppercase = self.uppercaseConfig(server, not (time or chat or command))
        except usage.UsageError as e:
            raise usage.UsageError(" ".join(str(e).split())) from None
        self.config = Config(server, uppercase, time, chat, command)

    def workerArguments(self) -> list[str]:
        """
        The options that every worker of C{--workers} runs with: C{--case}
        and the shared ones (the UDP rate divided among the workers), without
        the listeners and the worker count.
        """
        return [f"--case={self['case']}", *self.sharedArguments(self["workers"])]


def makeService(options: Options, reactor: Optional[IServerReactor] = None) -> IService:
    """
    Build the service tree: each service's listeners (the uppercase one
    possibly as a pool of C{--workers}); the drain of every open TCP
    connection on stop; and, when started by systemd with C{Type=notify},
    the readiness notification.

    @param options: parsed L{Options}.
    @param reactor: the reactor to listen with; by default the global one,
        set up for a server process (L{sockservice._fast.switch}).
    """
    if reactor is None:
        from sockservice._fast.switch import serverReactor

        reactor = serverReactor()
    config = options.config
    shared = Shared.forProcess(config.server, reactor)
    top = SockService(config.server.maxConnections + 256, shared.guard)
    # In this process even with --workers: a chat's members and the limit on
    # concurrent commands belong to one process.
    sockservice.timeserver.tap.addServices(top, config.time, shared)
    sockservice.chat.tap.addServices(top, config.chat, shared)
    sockservice.command.tap.addServices(top, config.command, shared)
    sockservice.uppercase.tap.addServices(top, config.uppercase, shared, options.workerArguments())
    DrainService(shared.guard.openConnections, config.server.drain, reactor).setServiceParent(top)
    if config.server.parentPipe is not None:
        # A worker of --workers: stop when the parent is gone.
        ParentWatch(config.server.parentPipe, reactor).setServiceParent(top)
    _notifyReadiness(top)
    return top


def _notifyReadiness(top: SockService) -> None:
    """
    When started by systemd with C{Type=notify}, add the readiness service
    last: started once every listener is up, stopped first.  C{NOTIFY_SOCKET}
    is taken out of the environment, so that C{--workers} processes do not
    notify too.
    """
    notifier = Notifier.fromEnvironment(unset=True)
    if notifier is not None:
        ReadinessService(notifier).setServiceParent(top)
