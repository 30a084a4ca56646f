# -*- test-case-name: tests.test_limits -*-
"""
Abuse limits, as pure bookkeeping: no sockets, time passed in by the caller.

  - L{RateLimiter}: a token bucket per key (for UDP, a network prefix: see
    L{PrefixKey}), in a table of bounded size that never forgets a key whose
    bucket is not full, so that a flood of forged sources can neither grow
    memory nor hand a limited source a fresh burst.
  - L{PrefixKey}: the network prefix a source address is accounted under.
  - L{ConnectionCounter}: total and per-address counts of open connections.
  - L{isLoopback}: whether an address is on this machine's loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter, OrderedDict
from functools import lru_cache
from typing import Hashable, Optional

from twisted.internet.interfaces import IReactorTime

__all__ = [
    "RateLimiter",
    "PrefixKey",
    "ConnectionCounter",
    "LogThrottle",
    "isLoopback",
    "DEFAULT_PREFIX_V4",
    "DEFAULT_PREFIX_V6",
]

DEFAULT_PREFIX_V4 = 24
"""IPv4 sources are rate-limited per /24 by default, as DNS RRL does."""

DEFAULT_PREFIX_V6 = 56
"""IPv6 sources are rate-limited per /56 by default, as DNS RRL does."""


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


class PrefixKey:
    """
    Map a source address to the network prefix it is accounted under:
    C{(4, n)} or C{(6, n)}, C{n} the address's top C{v4} or C{v6} bits.

    Whoever can forge one source address can forge its whole prefix, so
    accounting by prefix keeps forged sources from multiplying their
    allowance (or flushing the table) more than the number of prefixes
    they can reach.  An IPv4-mapped IPv6 address (from a dual-stack socket)
    counts as the IPv4 address it maps; a host that is not a literal
    address is its own key.
    """

    #: How many hosts' keys are remembered.
    cacheSize = 4096

    def __init__(self, v4: int = DEFAULT_PREFIX_V4, v6: int = DEFAULT_PREFIX_V6) -> None:
        """
        @param v4: prefix length for IPv4 sources, 0 to 32.
        @param v6: prefix length for IPv6 sources, 0 to 128.
        """
        if not (0 <= v4 <= 32 and 0 <= v6 <= 128):
            raise ValueError("prefix lengths must be within 0-32 (IPv4) and 0-128 (IPv6)")
        self.v4 = v4
        self.v6 = v6
        self._shift4 = 32 - v4
        self._shift6 = 128 - v6
        self._known: dict[str, Hashable] = {}

    def __call__(self, host: str) -> Hashable:
        """
        Cached (up to L{cacheSize} hosts, then the cache starts afresh): it
        is asked once per datagram, mostly of recurring addresses.

        @return: the key of C{host}'s prefix.
        """
        key = self._known.get(host)
        if key is None:
            if len(self._known) >= self.cacheSize:
                self._known.clear()
            key = self._known[host] = self._prefix(host)
        return key

    def _prefix(self, host: str) -> Hashable:
        try:
            if ":" not in host:
                packed = socket.inet_pton(socket.AF_INET, host)
                return (4, int.from_bytes(packed, "big") >> self._shift4)
            host = host.partition("%")[0]
            if host[:7].lower() == "::ffff:" and "." in host:
                packed = socket.inet_pton(socket.AF_INET, host[7:])
                return (4, int.from_bytes(packed, "big") >> self._shift4)
            packed = socket.inet_pton(socket.AF_INET6, host)
            return (6, int.from_bytes(packed, "big") >> self._shift6)
        except OSError:
            return host


class RateLimiter:
    """
    Allow each key C{rate} events per second, with bursts of C{burst}.

    The table of keys is bounded, but a key is forgotten only once its
    bucket has refilled to C{burst} (forgetting it then costs it nothing: a
    new key starts with a full bucket).  A new key that finds the table full
    gets a slot from the least recently seen key whose bucket is full among
    the first L{scan} it looks at (a limited key it passes moves to the back
    of the order: a second chance); if there is none, the event is refused
    and counted in L{tableFull}.  So a flood of new sources may get new
    sources refused, but never gives a limited source a fresh burst.

    @ivar sources: the per-key state: C{key -> [tokens, lastTime]}, least
        recently seen first; never longer than C{maxSources}.
    @ivar tableFull: how many events were refused because every key looked
        at was still limited.
    """

    #: How many keys one new key looks at for a slot, at most.
    scan = 8

    def __init__(self, rate: float, burst: float, maxSources: int) -> None:
        if rate <= 0 or burst < 1 or maxSources < 1:
            raise ValueError("rate, burst and maxSources must be positive")
        self.rate = rate
        self.burst = burst
        self.maxSources = maxSources
        self.sources: OrderedDict[Hashable, list[float]] = OrderedDict()
        self.tableFull = 0

    def allow(self, key: Hashable, now: float) -> bool:
        """
        Record one event from C{key} at time C{now}.

        @return: C{True} if it is within the limit, C{False} if it should be
            refused.
        """
        state = self.sources.get(key)
        if state is None:
            if len(self.sources) >= self.maxSources and not self._evict(now):
                self.tableFull += 1
                return False
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

    def _evict(self, now: float) -> bool:
        """
        Forget one key whose bucket has refilled, looking at most at L{scan}
        keys from the least recently seen; move those still limited to the
        back.

        @return: whether a key was forgotten.
        """
        sources, rate, burst = self.sources, self.rate, self.burst
        for _ in range(min(self.scan, len(sources))):
            key, (tokens, last) = next(iter(sources.items()))
            if tokens + (now - last) * rate >= burst:
                del sources[key]
                return True
            sources.move_to_end(key)
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
        # dict's get and pop, not Counter's item methods: those run Python
        # code for an absent key, here on every connection's path.
        count = self.perAddress.get(host, 0)
        if not exempt and self.maxPerAddress and count >= self.maxPerAddress:
            return "per-address"
        self.total += 1
        self.perAddress[host] = count + 1
        return None

    def closed(self, host: str) -> None:
        """
        Forget one connection from C{host}, counted earlier by L{refusal}.
        """
        self.total -= 1
        count = self.perAddress.pop(host, 0) - 1
        if count > 0:
            self.perAddress[host] = count


class LogThrottle:
    """
    At most one log line per C{interval} seconds about one kind of refusal
    (a flood gives one line a second, with a count of the others).
    """

    def __init__(self, clock: IReactorTime, interval: float = 1.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last = float("-inf")
        self._unlogged = 0

    def due(self) -> Optional[int]:
        """
        @return: L{None} when a line was logged less than C{interval} ago
            (this one is counted instead); else the number left out since
            that line, and the caller logs now.
        """
        now = self._clock.seconds()
        if now - self._last < self._interval:
            self._unlogged += 1
            return None
        unlogged, self._last, self._unlogged = self._unlogged, now, 0
        return unlogged
