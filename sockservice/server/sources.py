# -*- test-case-name: tests.test_limits,tests.test_udpguards -*-
"""
The source checks every UDP service applies before it answers a datagram:
L{SourceGuard}.
"""

from __future__ import annotations

from typing import Callable, Hashable, Optional, Set

from twisted.internet.interfaces import IUDPTransport
from twisted.logger import Logger

from sockservice.server.limits import PrefixKey, RateLimiter, isLoopback

__all__ = ["SourceGuard"]


class SourceGuard:
    """
    Decide whether a UDP service may answer a datagram from C{(host, port)}.

    UDP sources can be forged, so a service that answers anybody is a
    reflector.  Never answered: source port 0 and the privileged ports (below
    1024, where echo, chargen, DNS and NTP live), and every UDP port this
    process listens on, C{ports}: a set that all the process's UDP services
    share and add their port to once bound, so that no two of them (nor two
    instances of one) can be made to ping-pong by one forged datagram.  Then,
    if there is a C{limiter}, each source's prefix (C{key}) within its rate;
    loopback hosts are exempt unless C{limitLoopback}, and that check comes
    first, so that exempt datagrams cost no more.

    @ivar ports: the UDP ports of this process, source ports never answered.
    """

    def __init__(
        self,
        limiter: Optional[RateLimiter] = None,
        limitLoopback: bool = False,
        seconds: Callable[[], float] = lambda: 0.0,
        ports: Optional[Set[int]] = None,
        key: Optional[Callable[[str], Hashable]] = None,
    ) -> None:
        """
        @param seconds: the clock of the rate limit, asked only when a
            datagram is subject to it.
        @param ports: the set of the process's UDP ports, shared with its
            other UDP services; a set of its own by default.
        @param key: maps a source host to its rate-limit key (by default its
            /24 or /56 prefix, L{PrefixKey}).
        """
        self.limiter = limiter
        self.limitLoopback = limitLoopback
        self.seconds = seconds
        self.ports: Set[int] = set() if ports is None else ports
        self.key = PrefixKey() if key is None else key

    def bound(self, transport: IUDPTransport, log: Logger, service: str = "") -> None:
        """
        Learn the port a UDP service's C{transport} is bound to (adding it to
        C{ports}), and log where it listens (C{service}: a name for the log
        line, if any).
        """
        address = transport.getHost()
        self.ports.add(address.port)
        named = f" ({service})" if service else ""
        log.info(
            "sockservice: listening on UDP {host}:{port}" + named,
            host=address.host,
            port=address.port,
            event="listening",
        )

    def refusal(self, host: str, port: int) -> Optional[str]:
        """
        @return: L{None} if the datagram may be answered, else why not:
            C{"source-port"} or C{"rate"}.
        """
        if port < 1024 or port in self.ports:
            return "source-port"
        limiter = self.limiter
        if (
            limiter is not None
            and (self.limitLoopback or not isLoopback(host))
            and not limiter.allow(self.key(host), self.seconds())
        ):
            return "rate"
        return None
