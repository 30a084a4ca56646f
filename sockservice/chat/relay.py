# -*- test-case-name: tests.test_chat -*-
"""
The chat service: a UDP relay between named members.

The textbook "QQ" program is a server operator typing answers to whoever
wrote last. Here the server relays between clients, and because UDP sources
are forged as easily as written, it is built not to become a reflector:
nothing is ever sent to an address that has not proved it receives at that
address (a join takes a cookie round trip, as DTLS and QUIC do), a
non-member gets at most one reply no larger than its request, and every
source is rate-limited.

Wire format (docs/protocols.md, "Chat service"): one UTF-8 command per
datagram, fields separated by one space, a trailing LF or CRLF ignored.
Client to server: C{JOIN name [cookie]}, C{WHO}, C{MSG text}, C{TO name
text}, C{PING}, C{LEAVE}. Server to client: C{COOKIE cookie}, C{JOINED
name}, C{LEFT name}, C{MEMBERS name ...}, C{FROM name text}, C{PRIVATE name
text}, C{PONG}, C{ERROR reason}.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, Optional, Set, Tuple

from twisted.internet.interfaces import IDelayedCall, IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from sockservice.chat.cookies import JoinCookies
from sockservice.chat.text import MAX_DATAGRAM, isValidName, refusal, stripLineEnd
from sockservice.server.counters import ServiceCounters
from sockservice.server.limits import RateLimiter, isLoopback
from sockservice.server.sources import SourceGuard

__all__ = ["ChatProtocol", "DEFAULT_MEMBERS_PER_ADDRESS"]

Address = Tuple[str, int]

DEFAULT_MEMBERS_PER_ADDRESS = 4
"""Most members from one IP address, by default (C{--chat-members-per-ip})."""

DEFAULT_RATE = 5.0
"""Datagrams per second that one IP address may send, by default."""

DEFAULT_BURST = 10
"""Datagrams one IP address may send at once, by default."""


class _Member:
    """One joined member: its name, address and expiry timer."""

    def __init__(self, name: str, addr: Address, expiry: IDelayedCall) -> None:
        self.name = name
        self.addr = addr
        self.expiry = expiry


class ChatProtocol(DatagramProtocol):
    """
    The chat relay.

    @ivar members: Joined members by address.
    @ivar counters: What it counts (datagrams dropped without a reply, by
        reason: source-port, rate, invalid, oversize).
    @ivar joins: Joins accepted.
    @ivar relayed: Messages relayed (C{MSG} and C{TO}).
    """

    log = Logger()
    transport: IUDPTransport
    noisy = False

    def __init__(
        self,
        clock: IReactorTime,
        maxMembers: int = 100,
        expiry: float = 60.0,
        limiter: Optional[RateLimiter] = None,
        secret: Optional[bytes] = None,
        cookieLifetime: float = 30.0,
        udpPorts: Optional[Set[int]] = None,
        maxPerAddress: int = DEFAULT_MEMBERS_PER_ADDRESS,
        limitLoopback: bool = False,
    ) -> None:
        """
        @param clock: Timers and time (the reactor, or a C{task.Clock}).
        @param maxMembers: Most members at once; later joins are refused.
        @param expiry: Seconds of silence after which a member is dropped.
        @param limiter: Per-source limit keyed by IP address, whatever the
            port (one host does not get one allowance per port); by default
            L{DEFAULT_RATE} datagrams per second with bursts of
            L{DEFAULT_BURST}, for up to 4096 addresses.
        @param maxPerAddress: Most members from one IP address (0: no cap).
        @param limitLoopback: Apply the per-address cap and rate limit to
            loopback sources too; by default they are exempt.
        @param secret: Key for join cookies (L{JoinCookies}); random by default.
        @param cookieLifetime: The period of a join cookie, in seconds.
        @param udpPorts: The UDP ports of this process, shared by its UDP
            services: source ports never answered (see L{SourceGuard}).
        """
        self.clock = clock
        self.maxMembers = maxMembers
        self.expiry = expiry
        if limiter is None:
            limiter = RateLimiter(rate=DEFAULT_RATE, burst=DEFAULT_BURST, maxSources=4096)
        self.limiter = limiter
        self.maxPerAddress = maxPerAddress
        self.limitLoopback = limitLoopback
        self._perAddress: Counter[str] = Counter()
        self.cookies = JoinCookies(clock.seconds, secret, cookieLifetime)
        self.members: Dict[Address, _Member] = {}
        self._byName: Dict[str, _Member] = {}
        self.counters = ServiceCounters()
        self.joins = self.relayed = 0
        # Port checks only: the chat has its own limiter, keyed by host.
        self.guard = SourceGuard(ports=udpPorts)

    def startProtocol(self) -> None:
        """Announce where we listen."""
        self.guard.bound(self.transport, self.log, "chat")

    def stopProtocol(self) -> None:
        """Forget every member and cancel their timers."""
        for member in list(self.members.values()):
            member.expiry.cancel()
        self.members.clear()
        self._byName.clear()

    def _exempt(self, host: str) -> bool:
        """
        Whether C{host} is spared the per-address limits: loopback, unless
        C{limitLoopback}.
        """
        return not self.limitLoopback and isLoopback(host)

    def _addressFull(self, host: str) -> bool:
        """Whether C{host} already has as many members as one address may."""
        if not self.maxPerAddress or self._exempt(host):
            return False
        return self._perAddress[host] >= self.maxPerAddress

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        """
        Apply the guards (no privileged source ports, port 0 or a port of this
        process;
        the rate limit), then handle one command from a member, or a join.
        """
        addr = (addr[0], addr[1])
        self.counters.received += 1
        self.counters.receivedBytes += len(datagram)
        drop = self.guard.refusal(addr[0], addr[1])
        if drop is None and not (
            self._exempt(addr[0]) or self.limiter.allow(addr[0], self.clock.seconds())
        ):
            drop = "rate"
        if drop is not None:
            self.counters.dropped[drop] += 1
            return
        member = self.members.get(addr)
        try:
            text: Optional[str] = datagram.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if member is None:
            self._stranger(datagram, text, addr)
            return
        member.expiry.reset(self.expiry)
        if len(datagram) > MAX_DATAGRAM:
            self._send(b"ERROR datagram too long", addr)
        elif text is None:
            self._send(b"ERROR not UTF-8", addr)
        else:
            self._command(member, stripLineEnd(text))

    def _stranger(self, datagram: bytes, text: Optional[str], addr: Address) -> None:
        """
        Handle a datagram from a non-member: only a join is answered, and then
        with one reply no larger than the request.
        """
        words = text.split() if text is not None and len(datagram) <= MAX_DATAGRAM else []
        if not words or words[0].upper() != "JOIN" or len(words) not in (2, 3):
            self.counters.dropped["invalid"] += 1
            return
        name = words[1]
        if not isValidName(name):
            reply = b"ERROR bad name"
        elif name.casefold() in self._byName:
            reply = b"ERROR name taken"
        elif len(self.members) >= self.maxMembers:
            reply = b"ERROR chat full"
        elif len(words) == 2:
            reply = b"COOKIE " + self.cookies.make(addr).encode()
        elif not self.cookies.valid(addr, words[2]):
            reply = b"ERROR bad cookie"
        elif self._addressFull(addr[0]):
            # Checked once the address is proved: the reply is then no
            # larger than the request (which carries a cookie).
            reply = b"ERROR too many members"
        else:
            self._join(name, addr)
            return
        if len(reply) <= len(datagram):
            self._send(reply, addr)
        else:
            self.counters.dropped["oversize"] += 1

    def _join(self, name: str, addr: Address) -> None:
        """
        Add a member that proved its address, and tell everyone.
        """
        expiry = self.clock.callLater(self.expiry, self._expire, addr)
        member = _Member(name, addr, expiry)
        self.members[addr] = member
        self._byName[name.casefold()] = member
        self._perAddress[addr[0]] += 1
        self.joins += 1
        self.log.info(
            "chat: {name} joined from {host}:{port}", name=name, host=addr[0], port=addr[1]
        )
        self._broadcast(b"JOINED " + name.encode())

    def _remove(self, member: _Member, why: str) -> None:
        """
        Remove C{member} and tell everyone who is left (and the member).
        """
        if member.expiry.active():
            member.expiry.cancel()
        del self.members[member.addr]
        del self._byName[member.name.casefold()]
        host = member.addr[0]
        self._perAddress[host] -= 1
        if self._perAddress[host] <= 0:
            del self._perAddress[host]
        self.log.info("chat: {name} {why}", name=member.name, why=why)
        notice = b"LEFT " + member.name.encode()
        self._broadcast(notice)
        if why == "left":
            self._send(notice, member.addr)

    def _expire(self, addr: Address) -> None:
        """Drop a member that has been silent for too long."""
        member = self.members.get(addr)
        if member is not None:
            self._remove(member, "timed out")

    def _command(self, member: _Member, text: str) -> None:
        """Handle one command from a member."""
        verb, _, rest = text.partition(" ")
        verb = verb.upper()
        if verb == "PING":
            self._send(b"PONG", member.addr)
        elif verb == "WHO":
            names = " ".join(sorted((m.name for m in self.members.values()), key=str.casefold))
            self._send(b"MEMBERS " + names.encode(), member.addr)
        elif verb == "LEAVE":
            self._remove(member, "left")
        elif verb == "JOIN":
            if rest.split()[:1] == [member.name]:
                self._send(b"JOINED " + member.name.encode(), member.addr)
            else:
                self._send(b"ERROR already joined as " + member.name.encode(), member.addr)
        elif verb == "MSG":
            if self._checkText(member, rest):
                body = b"FROM %s %s" % (member.name.encode(), rest.encode())
                self._broadcast(body, exclude=member)
                self.relayed += 1
        elif verb == "TO":
            target, _, text = rest.partition(" ")
            recipient = self._byName.get(target.casefold())
            if recipient is None:
                self._send(b"ERROR no such member " + target.encode()[:100], member.addr)
            elif self._checkText(member, text):
                message = b"PRIVATE %s %s" % (member.name.encode(), text.encode())
                self._send(message, recipient.addr)
                self.relayed += 1
        else:
            self._send(b"ERROR unknown command", member.addr)

    def _checkText(self, member: _Member, text: str) -> bool:
        """
        @return: C{True} if C{text} may be relayed; else tell the member why not.
        """
        error = refusal(text)
        if error is not None:
            self._send(b"ERROR " + error.encode(), member.addr)
        return error is None

    def _broadcast(self, data: bytes, exclude: Optional[_Member] = None) -> None:
        """Send C{data} to every member but C{exclude}."""
        for member in list(self.members.values()):
            if member is not exclude:
                self._send(data, member.addr)

    def _send(self, data: bytes, addr: Address) -> None:
        """Send one datagram."""
        self.counters.answered += 1
        self.counters.sentBytes += len(data)
        self.transport.write(data, addr)
