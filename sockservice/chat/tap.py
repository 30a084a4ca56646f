# -*- test-case-name: tests.test_fragments -*-
"""
The chat relay's part of C{twistd sockservice}: C{--chat DESC}, a UDP port
or C{udp:PORT[:interface=ADDR]}, one room per listener; and
C{--chat-members-per-ip}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Iterable, List, Tuple

from twisted.application.service import IServiceCollection
from twisted.python import usage

from sockservice.chat.relay import DEFAULT_MEMBERS_PER_ADDRESS, ChatProtocol
from sockservice.coerce import whole
from sockservice.server.addresses import InetAddress, udpAddress
from sockservice.server.counters import Sample
from sockservice.server.options import ServerConfig, Shared

__all__ = ["ChatConfig", "ChatOptions", "addServices"]


class ChatOptions(usage.Options):
    """
    The chat relay's options, composed into L{sockservice.tap.Options}.
    """

    optParameters = [
        [
            "chat-members-per-ip",
            None,
            DEFAULT_MEMBERS_PER_ADDRESS,
            "Most chat members from one IP address (0: no cap); loopback is exempt "
            "unless --limit-loopback.",
            whole("--chat-members-per-ip"),
        ],
    ]

    def opt_chat(self, description: str) -> None:
        """Serve the chat relay on UDP: a port or udp:PORT[:interface=ADDR] (repeatable)."""
        self.setdefault("chat", []).append(description)

    def chatConfig(self, server: ServerConfig) -> ChatConfig:
        """
        @return: this service's options, parsed and checked.
        """
        return ChatConfig(
            [(d, udpAddress("--chat", d)) for d in dict.fromkeys(self.get("chat", []))],
            self["chat-members-per-ip"],
        )


@dataclass(frozen=True)
class ChatConfig:
    """
    The chat relay's options, parsed.

    @ivar udp: C{(description as given, address)} pairs.
    """

    udp: List[Tuple[str, InetAddress]] = field(default_factory=list)
    membersPerAddress: int = DEFAULT_MEMBERS_PER_ADDRESS

    def __bool__(self) -> bool:
        return bool(self.udp)


def addServices(top: IServiceCollection, config: ChatConfig, shared: Shared) -> None:
    """
    Add one relay per C{--chat} to C{top}.
    """
    for description, address in config.udp:
        protocol = ChatProtocol(
            shared.reactor,
            udpPorts=shared.udpPorts,
            maxPerAddress=config.membersPerAddress,
            limitLoopback=shared.config.limitLoopback,
        )
        shared.metrics.track("chat", "udp", protocol.counters)
        shared.metrics.source(partial(_samples, protocol))
        shared.listenUDP(top, f"UDP {description} (chat)", address, protocol)


def _samples(relay: ChatProtocol) -> Iterable[Sample]:
    """
    @return: the chat's own samples: members, joins, messages relayed.
    """
    yield ("sockservice_chat_members", {}, len(relay.members))
    yield ("sockservice_chat_joins_total", {}, relay.joins)
    yield ("sockservice_chat_messages_relayed_total", {}, relay.relayed)
