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

#: How many exempt hosts a L{SourceGuard} remembers (in C{exempt}) at most.
MAX_EXEMPT = 256


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

    A service may skip the call to L{refusal} for a datagram it would answer
    anyway: L{refusal} is L{None} whenever the source port is 1024 or above
    and not in C{ports}, and either there is no C{limiter} or the host is in
    C{exempt} (the loopback hosts L{refusal} found exempt, up to
    L{MAX_EXEMPT} of them).  That test is a few attribute and set look-ups,
    no call: the UDP service makes it for every datagram.

    @ivar ports: the UDP ports of this process, source ports never answered.
    @ivar exempt: hosts that L{refusal} found exempt from the rate limit.
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
        self._limitLoopback = limitLoopback
        self.seconds = seconds
        self.ports: Set[int] = set() if ports is None else ports
        self.key = PrefixKey() if key is None else key
        self.exempt: Set[str] = set()

    @property
    def limitLoopback(self) -> bool:
        """
        Whether loopback hosts are rate-limited too; setting it forgets the
        hosts in C{exempt}.
        """
        return self._limitLoopback

    @limitLoopback.setter
    def limitLoopback(self, value: bool) -> None:
        self._limitLoopback = value
        self.exempt.clear()

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

    def allowsAtOnce(self, host: str, port: int) -> bool:
        """
        Whether L{refusal} is sure to be L{None} for C{(host, port)}, found
        without a call: the UDP service makes this test in line.
        """
        return (
            port >= 1024
            and port not in self.ports
            and (self.limiter is None or host in self.exempt)
        )

    def refusal(self, host: str, port: int) -> Optional[str]:
        """
        @return: L{None} if the datagram may be answered, else why not:
            C{"source-port"} or C{"rate"}.
        """
        if port < 1024 or port in self.ports:
            return "source-port"
        limiter = self.limiter
        if limiter is None:
            return None
        if not self._limitLoopback and isLoopback(host):
            if len(self.exempt) < MAX_EXEMPT:
                self.exempt.add(host)
            return None
        if not limiter.allow(self.key(host), self.seconds()):
            return "rate"
        return None
