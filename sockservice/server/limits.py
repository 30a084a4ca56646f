# -*- test-case-name: tests.test_limits -*-
"""
Abuse limits, as pure bookkeeping: no sockets, time passed in by the caller.

  - L{RateLimiter}: a token bucket per source address, in a table of bounded
    size (the least recently seen source is forgotten first), so a flood of
    spoofed sources cannot grow memory.
  - L{ConnectionCounter}: total and per-address counts of open connections.
  - L{SourceGuard}: the source checks every UDP service here applies.
  - L{isLoopback}: whether an address is on this machine's loopback.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, OrderedDict
from functools import lru_cache
from typing import Any, Callable, Optional

from twisted.logger import Logger

__all__ = ["RateLimiter", "ConnectionCounter", "SourceGuard", "isLoopback"]


@lru_cache(maxsize=4096)
def isLoopback(host: str) -> bool:
    """
    Cached: it is asked once per datagram, of a few recurring addresses.

    @return: whether C{host} (a literal IPv4 or IPv6 address, possibly
        IPv4-mapped) is a loopback address.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class RateLimiter:
    """
    Allow each source C{rate} events per second, with bursts of C{burst}.

    @ivar sources: the per-source state: C{key -> [tokens, lastTime]}, most
        recently seen last; never longer than C{maxSources}.
    """

    def __init__(self, rate: float, burst: float, maxSources: int) -> None:
        if rate <= 0 or burst < 1 or maxSources < 1:
            raise ValueError("rate, burst and maxSources must be positive")
        self.rate = rate
        self.burst = burst
        self.maxSources = maxSources
        self.sources: OrderedDict[str, list[float]] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """
        Record one event from C{key} at time C{now}.

        @return: C{True} if it is within the limit, C{False} if it should be
            refused.
        """
        state = self.sources.get(key)
        if state is None:
            if len(self.sources) >= self.maxSources:
                self.sources.popitem(last=False)
            state = self.sources[key] = [self.burst, now]
        else:
            self.sources.move_to_end(key)
            elapsed = now - state[1]
            if elapsed > 0:
                state[0] = min(self.burst, state[0] + elapsed * self.rate)
                state[1] = now
        if state[0] >= 1:
            state[0] -= 1
            return True
        return False


class ConnectionCounter:
    """
    Count open connections in total and per peer address, against caps.

    A cap of 0 means no cap.  Only addresses with open connections are kept,
    so the table is never larger than the number of open connections.
    """

    def __init__(self, maxTotal: int, maxPerAddress: int) -> None:
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
        self.total = 0
        self.perAddress: Counter[str] = Counter()

    def refusal(self, host: str, exempt: bool = False) -> str | None:
        """
        Decide whether a new connection from C{host} may open, and if it may,
        count it.

        @param exempt: skip the per-address cap (not the total one).
        @return: L{None} if it was counted, else the name of the cap that
            refuses it (C{"total"} or C{"per-address"}).
        """
        if self.maxTotal and self.total >= self.maxTotal:
            return "total"
        if (
            not exempt
            and self.maxPerAddress
            and self.perAddress[host] >= self.maxPerAddress
        ):
            return "per-address"
        self.total += 1
        self.perAddress[host] += 1
        return None

    def closed(self, host: str) -> None:
        """
        Forget one connection from C{host}, counted earlier by L{refusal}.
        """
        self.total -= 1
        self.perAddress[host] -= 1
        if self.perAddress[host] <= 0:
            del self.perAddress[host]


class SourceGuard:
    """
    Decide whether a UDP service may answer a datagram from C{(host, port)}.

    UDP sources can be forged, so a service that answers anybody is a
    reflector.  Never answered: source port 0 and the privileged ports (below
    1024, where echo, chargen, DNS and NTP live), and the service's own port
    (two instances would otherwise ping-pong forever).  Then, if there is a
    C{limiter}, each source host within its rate; loopback hosts are exempt
    unless C{limitLoopback}.

    @ivar ownPort: the service's port, set once it is bound (0 until then).
    """

    def __init__(
        self,
        limiter: Optional[RateLimiter] = None,
        limitLoopback: bool = False,
        seconds: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """
        @param seconds: the clock of the rate limit, asked only when a
            datagram is subject to it.
        """
        self.limiter = limiter
        self.limitLoopback = limitLoopback
        self.seconds = seconds
        self.ownPort = 0

    def bound(self, transport: Any, log: Logger, service: str = "") -> None:
        """
        Learn the port a UDP service's C{transport} is bound to, and log
        where it listens (C{service}: a name for the log line, if any).
        """
        address = transport.getHost()
        self.ownPort = address.port
        named = f" ({service})" if service else ""
        log.info(
            "sockservice: listening on UDP {host}:{port}" + named,
            host=address.host,
            port=address.port,
        )

    def refusal(self, host: str, port: int) -> Optional[str]:
        """
        @return: L{None} if the datagram may be answered, else why not:
            C{"source-port"} or C{"rate"}.
        """
        if port < 1024 or port == self.ownPort:
            return "source-port"
        if (
            self.limiter is not None
            and (self.limitLoopback or not isLoopback(host))
            and not self.limiter.allow(host, self.seconds())
        ):
            return "rate"
        return None
