# -*- test-case-name: tests.test_fragments -*-
"""
The command service's part of C{twistd sockservice}: C{--command},
C{--command-allow}, C{--command-token-file}, C{--command-max-runs}.

C{--command DESC} is TCP; a bare port means C{tcp:PORT:interface=127.0.0.1},
and a C{unix:PATH} socket is created C{0600} unless it says C{mode=}.
Anything that is not loopback (or a UNIX socket) needs
C{--command-token-file}; C{--command-allow FILE} is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from twisted.application.service import IServiceCollection
from twisted.python import usage

from sockservice.coerce import fileName, isDecimal, whole
from sockservice.command.allowlist import AllowList, AllowListError, loadAllowList
from sockservice.command.factory import CommandFactory
from sockservice.command.token import MIN_TOKEN_LENGTH, readToken
from sockservice.server.addresses import descriptionKeywords, splitDescription, tcpEndpoint
from sockservice.server.guard import GuardedFactory
from sockservice.server.limits import isLoopback
from sockservice.server.options import ServerConfig, Shared

__all__ = ["CommandConfig", "CommandOptions", "addServices", "isLocalDescription"]


class CommandOptions(usage.Options):
    """
    The command service's options, composed into L{sockservice.tap.Options}.
    """

    optParameters: list[list[Any]] = [
        [
            "command-allow",
            None,
            None,
            "Allow-list of the command service (INI; see docs/protocols.md).",
            fileName("--command-allow"),
        ],
        [
            "command-token-file",
            None,
            None,
            "File holding the command service's shared secret; required to listen beyond loopback.",
            fileName("--command-token-file"),
        ],
        [
            "command-max-runs",
            None,
            4,
            "Most commands running at once, all clients together.",
            whole("--command-max-runs", 1, template="{option}: must be at least 1"),
        ],
    ]

    def opt_command(self, description: str) -> None:
        """Serve allow-listed commands on TCP: a port (127.0.0.1 only) or an endpoint description; beyond loopback needs --command-token-file (repeatable)."""
        self.setdefault("command", []).append(description)

    def commandConfig(self, server: ServerConfig) -> CommandConfig:
        """
        Check the C{--command} values, load the allow-list and the token.

        @return: this service's options, parsed and checked.
        """
        descriptions = list(dict.fromkeys(self.get("command", [])))
        if not descriptions:
            for name in ("command-allow", "command-token-file"):
                if self[name] is not None:
                    raise usage.UsageError(f"--{name} given without --command")
            return CommandConfig()
        if self["command-allow"] is None:
            raise usage.UsageError("--command requires --command-allow FILE")
        try:
            allowList = loadAllowList(self["command-allow"])
        except AllowListError as e:
            raise usage.UsageError(f"--command-allow: {e}") from None
        token = None
        if self["command-token-file"] is not None:
            token = readToken(self["command-token-file"], "--command-token-file", MIN_TOKEN_LENGTH)
        tcp = []
        for description in descriptions:
            full = tcpEndpoint("--command", _private(description), server.backlog)
            if token is None and not isLocalDescription(full):
                raise usage.UsageError(
                    f"--command {description}: listening beyond loopback requires --command-token-file"
                )
            tcp.append((description, full))
        return CommandConfig(tcp, allowList, token, self["command-max-runs"])


def _private(description: str) -> str:
    """
    A bare port means loopback only; a UNIX socket is made C{0600} (only
    the server's user may connect) unless the description sets C{mode=}.
    """
    if isDecimal(description):
        return f"tcp:{description}:interface=127.0.0.1"
    if splitDescription(description)[0] == "unix" and ":mode=" not in description:
        return f"{description}:mode=600"
    return description


def isLocalDescription(description: str) -> bool:
    """
    @param description: A full server endpoint description.
    @return: Whether it can only be reached from this machine: a UNIX
        socket, or C{tcp}/C{tcp6} bound to a loopback address.
    @raise usage.UsageError: when a parameter is repeated.
    """
    kind = splitDescription(description)[0]
    if kind == "unix":
        return True
    interface = descriptionKeywords(description, "--command").get("interface")
    return kind in ("tcp", "tcp6") and interface is not None and isLoopback(interface)


@dataclass(frozen=True)
class CommandConfig:
    """
    The command service's options, parsed.

    @ivar tcp: C{(description as given, full endpoint description)} pairs.
    @ivar token: the shared secret clients must present (L{None}: none, and
        only loopback clients are served).
    """

    tcp: List[Tuple[str, str]] = field(default_factory=list)
    allowList: Optional[AllowList] = None
    token: Optional[bytes] = None
    maxRuns: int = 4

    def __bool__(self) -> bool:
        return bool(self.tcp)


def addServices(top: IServiceCollection, config: CommandConfig, shared: Shared) -> None:
    """
    Add the command service's listeners to C{top}, sharing one factory (so
    the limit on concurrent runs is global) under the process's caps.
    """
    if not config.tcp or config.allowList is None:
        return
    commands = CommandFactory(
        config.allowList, shared.reactor, token=config.token, maxConcurrent=config.maxRuns
    )
    factory = GuardedFactory(commands, shared.guard, "command")
    shared.metrics.track("command", "tcp", factory.counters)
    shared.metrics.source(commands.samples)
    for description, full in config.tcp:
        shared.listenTCP(top, f"TCP {description} (command)", full, factory)
