# -*- test-case-name: tests.test_udp -*-
"""
The UDP service: one datagram in, one upper-cased datagram back to its sender.

UDP source addresses can be forged, so an echo-style service is a reflector
waiting to be abused.  The guards (L{sockservice.server.limits.SourceGuard}) keep it
from being one: no reply to source port 0, to privileged source ports (where
other UDP services such as echo, chargen, DNS and NTP live) or to any UDP
port of this process (two services or instances would otherwise ping-pong
forever), and a rate limit per source network prefix over a bounded table.
A reply that would not fit in one datagram is dropped and counted, never
truncated.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional, Set

from twisted.internet.error import MessageLengthError
from twisted.internet.interfaces import IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from sockservice.casing import checkMode, transform
from sockservice.server.counters import ServiceCounters
from sockservice.server.limits import (
    DEFAULT_PREFIX_V4,
    DEFAULT_PREFIX_V6,
    PrefixKey,
    RateLimiter,
)
from sockservice.server.sources import SourceGuard

__all__ = ["UppercaseDatagramProtocol", "maxPayload"]

#: The largest UDP payload over IPv4 (65,535 - 20 - 8) and over IPv6 (- 8).
maxPayload = {"IPv4": 65507, "IPv6": 65527}

#: Drop reasons, as counted in L{UppercaseDatagramProtocol.dropped}.
DROP_REASONS = ("source-port", "rate", "oversize", "send-error")


def _fitsIPv6(reply: bytes, host: str) -> bool:
    """
    Whether C{reply}, too large for IPv4, still fits one datagram because
    C{host} is a plain IPv6 address (not IPv4-mapped).
    """
    return len(reply) <= maxPayload["IPv6"] and ":" in host and "." not in host


class UppercaseDatagramProtocol(DatagramProtocol):
    """
    Answer each datagram with its upper-cased payload, within the guards.

    @ivar counters: what it counts; C{counters.dropped} (also
        C{dropped}): how many datagrams went unanswered, by reason (one of
        L{DROP_REASONS}).
    """

    log = Logger()
    transport: IUDPTransport
    noisy = False

    def __init__(
        self,
        mode: str = "unicode",
        rate: float = 50.0,
        burst: float = 100.0,
        maxSources: int = 10000,
        limitLoopback: bool = False,
        reactor: Optional[IReactorTime] = None,
        prefixV4: int = DEFAULT_PREFIX_V4,
        prefixV6: int = DEFAULT_PREFIX_V6,
        udpPorts: Optional[Set[int]] = None,
    ) -> None:
        """
        @param mode: the casing mode (see L{sockservice.casing}).
        @param rate: datagrams per second answered per source prefix; 0
            disables the rate limit.
        @param burst: how many datagrams a source prefix may send at once
            before the rate applies.
        @param maxSources: how many source prefixes the rate limiter
            remembers (one is forgotten only once its allowance is whole
            again; see L{RateLimiter}).
        @param limitLoopback: rate-limit loopback sources too (by default they
            are exempt, for local tests and benchmarks).
        @param reactor: the clock of the rate limiter.
        @param prefixV4: the IPv4 prefix length a source is accounted by.
        @param prefixV6: the IPv6 prefix length a source is accounted by.
        @param udpPorts: the UDP ports of this process, shared by its UDP
            services: source ports never answered (see L{SourceGuard}).

        The source checks (L{SourceGuard}) are in C{self.guard}.
        """
        if reactor is None:
            from twisted.internet import reactor as _reactor

            reactor = _reactor
        # Checked here: an ASCII datagram is upper-cased without transform.
        self.mode = checkMode(mode)
        self.guard = SourceGuard(
            RateLimiter(rate, max(burst, 1), maxSources) if rate > 0 else None,
            limitLoopback,
            lambda: reactor.seconds(),  # looked up late: any IReactorTime
            udpPorts,
            PrefixKey(prefixV4, prefixV6),
        )
        self.counters = ServiceCounters()
        self.dropped: Counter[str] = self.counters.dropped

    @property
    def answered(self) -> int:
        """
        How many datagrams were answered.
        """
        return self.counters.answered

    def startProtocol(self) -> None:
        self.guard.bound(self.transport, self.log)
        # Replies go to addresses that recvfrom gave, so Twisted's per-write
        # address validation can be skipped where the socket is at hand.
        sock = getattr(self.transport, "socket", None)
        self._sendto = sock.sendto if sock is not None else self.transport.write

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        counters = self.counters
        size = len(data)
        counters.received += 1
        counters.receivedBytes += size
        guard = self.guard
        host, port = addr[0], addr[1]
        # SourceGuard.allowsAtOnce in line: most datagrams need no call.
        if (
            port < 1024
            or port in guard.ports
            or (guard.limiter is not None and host not in guard.exempt)
        ):
            refusal = guard.refusal(host, port)
            if refusal is not None:
                counters.dropped[refusal] += 1
                return
        if data.isascii():
            reply = data.upper()  # what transform makes of ASCII in either mode
        else:
            reply = transform(data, self.mode)
            size = len(reply)
        if size > maxPayload["IPv4"] and not _fitsIPv6(reply, host):
            counters.dropped["oversize"] += 1
            return
        try:
            self._sendto(reply, addr)
        except (OSError, MessageLengthError) as e:
            counters.dropped["send-error"] += 1
            self.log.debug(
                "reply to {peer} failed: {error}", peer=addr, error=e, event="udp_reply_failed"
            )
            return
        counters.answered += 1
        counters.sentBytes += size

    def stopProtocol(self) -> None:
        if self.dropped:
            self.log.info(
                "sockservice: UDP answered {answered}, dropped {dropped}",
                answered=self.answered,
                dropped=dict(self.dropped),
                event="udp_dropped",
            )
