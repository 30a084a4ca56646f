# -*- test-case-name: tests.test_chat -*-
"""
Tests for L{sockservice.chat.relay}: the relay over an in-memory datagram transport
with a fixed clock.
"""

from __future__ import annotations

from typing import List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.chat.text import isValidName
from sockservice.server.limits import RateLimiter
from tests.servicefakes import FakeDatagramTransport

ALICE = ("127.0.0.1", 40001)
BOB = ("127.0.0.1", 40002)
CAROL = ("192.0.2.3", 40003)
VICTIM = ("198.51.100.9", 40009)


def pad(data: bytes, size: int = 64) -> bytes:
    """@return: C{data} padded with spaces to C{size} bytes, as clients send joins."""
    return data.ljust(size)


class ChatTestCase(TestCase):
    """
    A chat relay on a fake transport, with helpers to join members.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.transport = FakeDatagramTransport(port=9999)
        self.chat = ChatProtocol(self.clock, secret=b"k" * 32)
        self.chat.makeConnection(self.transport)

    def send(self, data: bytes, addr: Tuple[str, int]) -> List[Tuple[bytes, object]]:
        """Deliver one datagram; @return: what the relay sent in answer."""
        self.transport.pop()
        self.chat.datagramReceived(data, addr)
        return self.transport.pop()

    def join(self, name: str, addr: Tuple[str, int]) -> List[Tuple[bytes, object]]:
        """Do the cookie round trip for C{name}; @return: what the final JOIN caused."""
        [(reply, to)] = self.send(pad(b"JOIN " + name.encode()), addr)
        self.assertEqual((reply[:7], to), (b"COOKIE ", addr))
        return self.send(pad(b"JOIN %s %s" % (name.encode(), reply[7:])), addr)


class JoinTests(ChatTestCase):
    """
    Joining: the cookie round trip, names and the member table bound.
    """

    def test_join(self) -> None:
        """A join with the cookie sent to its address makes a member, told with JOINED."""
        self.assertEqual(self.join("alice", ALICE), [(b"JOINED alice", ALICE)])
        self.assertEqual(list(self.chat.members), [ALICE])

    def test_joinAnnounced(self) -> None:
        """Every member is told when someone joins."""
        self.join("alice", ALICE)
        self.assertEqual(
            sorted(self.join("bob", BOB)), [(b"JOINED bob", ALICE), (b"JOINED bob", BOB)]
        )

    def test_forgedJoinNeverMember(self) -> None:
        """A forged source cannot join: without its cookie it gets at most an error."""
        self.join("alice", ALICE)
        self.assertEqual(
            self.send(pad(b"JOIN mallory 0123456789abcdef"), VICTIM),
            [(b"ERROR bad cookie", VICTIM)],
        )
        self.assertEqual(self.send(b"MSG hi", ALICE), [])
        self.assertNotIn(VICTIM, self.chat.members)

    def test_cookieBoundToAddress(self) -> None:
        """A cookie sent to one address does not admit another address."""
        [(reply, _)] = self.send(pad(b"JOIN alice"), ALICE)
        answer = self.send(pad(b"JOIN alice " + reply[7:]), BOB)
        self.assertEqual(answer, [(b"ERROR bad cookie", BOB)])

    def test_cookieExpires(self) -> None:
        """A cookie is accepted for one more period, not two."""
        [(reply, _)] = self.send(pad(b"JOIN alice"), ALICE)
        self.clock.advance(60)
        answer = self.send(pad(b"JOIN alice " + reply[7:]), ALICE)
        self.assertEqual(answer, [(b"ERROR bad cookie", ALICE)])
        [(reply, _)] = self.send(pad(b"JOIN alice"), ALICE)
        self.clock.advance(30)
        self.assertEqual(
            self.send(pad(b"JOIN alice " + reply[7:]), ALICE), [(b"JOINED alice", ALICE)]
        )

    def test_shortJoinUnanswered(self) -> None:
        """A join request shorter than its reply gets no reply at all (no amplification)."""
        self.assertEqual(self.send(b"JOIN alice", ALICE), [])
        self.assertEqual(self.send(b"JOIN al 0123", ALICE), [])

    def test_uniqueNames(self) -> None:
        """A name already in use, in any letter case, is refused."""
        self.join("alice", ALICE)
        self.assertEqual(self.send(pad(b"JOIN ALICE"), BOB), [(b"ERROR name taken", BOB)])

    def test_badName(self) -> None:
        """A name with characters outside letters, digits, C{_.-} is refused."""
        self.assertEqual(self.send(pad(b"JOIN a;b"), ALICE), [(b"ERROR bad name", ALICE)])
        self.assertTrue(isValidName("小明"))
        self.assertFalse(isValidName("x" * 25))
        self.assertFalse(isValidName("\x1b[31m"))

    def test_tableBound(self) -> None:
        """Once the table is full, further joins are refused."""
        self.chat.maxMembers = 2
        self.join("alice", ALICE)
        self.join("bob", BOB)
        self.assertEqual(self.send(pad(b"JOIN carol"), CAROL), [(b"ERROR chat full", CAROL)])
        self.assertEqual(len(self.chat.members), 2)

    def test_rejoinIdempotent(self) -> None:
        """A member repeating its join (its JOINED was lost) is told again, alone."""
        self.join("alice", ALICE)
        self.join("bob", BOB)
        self.assertEqual(self.send(b"JOIN alice", ALICE), [(b"JOINED alice", ALICE)])
        self.assertEqual(
            self.send(b"JOIN alicia", ALICE), [(b"ERROR already joined as alice", ALICE)]
        )

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.binary(max_size=80) | st.sampled_from([b"JOIN x", pad(b"JOIN x")])))
    def test_strangersNeverAmplified(self, datagrams: List[bytes]) -> None:
        """A non-member gets at most one reply per datagram, never larger than it."""
        self.setUp()
        self.join("alice", ALICE)
        for data in datagrams:
            replies = self.send(data, VICTIM)
            self.assertLessEqual(len(replies), 1)
            for reply, to in replies:
                self.assertEqual(to, VICTIM)
                self.assertLessEqual(len(reply), len(data))
        self.assertEqual(list(self.chat.members), [ALICE])


class RelayTests(ChatTestCase):
    """
    Messages between members.
    """

    def setUp(self) -> None:
        super().setUp()
        self.join("alice", ALICE)
        self.join("bob", BOB)
        self.join("carol", CAROL)

    def test_strangerIgnored(self) -> None:
        """Anything but a join from a non-member is dropped without a reply."""
        for data in (b"WHO", b"PING", b"MSG hello", b"TO alice hi", b"LEAVE", b"\xff"):
            self.assertEqual(self.send(data, VICTIM), [])

    def test_who(self) -> None:
        """WHO lists the members' names, sorted."""
        self.assertEqual(self.send(b"WHO\n", BOB), [(b"MEMBERS alice bob carol", BOB)])

    def test_broadcast(self) -> None:
        """MSG reaches every other member as FROM."""
        self.assertEqual(
            sorted(self.send("MSG hello 世界\r\n".encode(), ALICE)),
            [("FROM alice hello 世界".encode(), addr) for addr in (BOB, CAROL)],
        )

    def test_private(self) -> None:
        """TO reaches only the named member, as PRIVATE."""
        self.assertEqual(self.send(b"TO Bob psst", ALICE), [(b"PRIVATE alice psst", BOB)])

    def test_privateUnknown(self) -> None:
        """TO an unknown name is an error for the sender only."""
        self.assertEqual(self.send(b"TO dave hi", ALICE), [(b"ERROR no such member dave", ALICE)])

    def test_badText(self) -> None:
        """Empty, over-long, control-character and non-UTF-8 messages are refused."""
        self.assertEqual(self.send(b"MSG  ", ALICE), [(b"ERROR empty message", ALICE)])
        self.assertEqual(
            self.send(b"MSG " + b"x" * 513, ALICE),
            [(b"ERROR message longer than 512 bytes", ALICE)],
        )
        self.assertEqual(
            self.send(b"MSG \x1b[2J", ALICE), [(b"ERROR control characters in message", ALICE)]
        )
        self.assertEqual(self.send(b"MSG \xff", ALICE), [(b"ERROR not UTF-8", ALICE)])
        self.assertEqual(self.send(b"x" * 2000, ALICE), [(b"ERROR datagram too long", ALICE)])
        self.assertEqual(self.send(b"DANCE", ALICE), [(b"ERROR unknown command", ALICE)])

    def test_leave(self) -> None:
        """LEAVE tells everyone, the leaver included, and the leaver then gets nothing."""
        self.assertEqual(
            sorted(self.send(b"LEAVE", BOB)),
            sorted([(b"LEFT bob", ALICE), (b"LEFT bob", CAROL), (b"LEFT bob", BOB)]),
        )
        self.assertEqual(sorted(to for _, to in self.send(b"MSG hi", ALICE)), [CAROL])

    def test_expiry(self) -> None:
        """A member silent for the expiry period is dropped and everyone is told."""
        self.clock.advance(59)
        self.send(b"PING", ALICE)
        self.send(b"PING", CAROL)
        self.transport.pop()
        self.clock.advance(1)
        self.assertEqual(sorted(self.transport.pop()), [(b"LEFT bob", ALICE), (b"LEFT bob", CAROL)])
        self.assertEqual(sorted(m.name for m in self.chat.members.values()), ["alice", "carol"])

    def test_pingKeepsAlive(self) -> None:
        """PING is answered with PONG and postpones the expiry."""
        for _ in range(5):
            self.clock.advance(50)
            self.assertEqual(self.send(b"PING", ALICE), [(b"PONG", ALICE)])
        self.assertIn(ALICE, self.chat.members)

    def test_rateLimit(self) -> None:
        """A member over its rate limit has its datagrams dropped; other hosts' are not."""
        self.chat.limiter = RateLimiter(rate=1, burst=3, maxSources=100)
        relayed = [len(self.send(b"MSG spam", CAROL)) for _ in range(10)]
        self.assertEqual(relayed, [2, 2, 2] + [0] * 7)
        self.assertEqual(len(self.send(b"MSG hi", BOB)), 2)
        self.clock.advance(1)
        self.assertEqual(len(self.send(b"MSG again", CAROL)), 2)

    def test_rateLimitPerAddress(self) -> None:
        """
        The rate limit counts an IP address, whatever its ports: two members
        on one host share one allowance (with C{--limit-loopback}, for
        loopback ones).
        """
        self.chat.limitLoopback = True
        self.chat.limiter = RateLimiter(rate=1, burst=4, maxSources=100)
        relayed = [len(self.send(b"MSG spam", addr)) for addr in [ALICE, BOB] * 4]
        self.assertEqual(relayed, [2, 2, 2, 2, 0, 0, 0, 0])

    def test_loopbackExempt(self) -> None:
        """By default loopback members are not rate-limited (the project's rule)."""
        self.chat.limiter = RateLimiter(rate=1, burst=1, maxSources=100)
        relayed = [len(self.send(b"MSG hi", ALICE)) for _ in range(5)]
        self.assertEqual(relayed, [2] * 5)

    def test_inadmissiblePorts(self) -> None:
        """Datagrams from port 0, privileged ports or the relay's own port are ignored."""
        for port in (0, 7, 19, 9999):
            self.assertEqual(self.send(pad(b"JOIN x"), ("127.0.0.1", port)), [])

    def test_stopCancelsTimers(self) -> None:
        """Stopping the protocol forgets the members and leaves no timer behind."""
        self.chat.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.chat.members, {})


class PerAddressTests(ChatTestCase):
    """
    One host cannot fill the room (issue 14, finding 5).
    """

    def remote(self, n: int) -> Tuple[str, int]:
        return ("203.0.113.5", 41000 + n)

    def test_memberCap(self) -> None:
        """
        One address gets at most C{maxPerAddress} members; the next join is
        refused, and another address still joins.
        """
        self.chat.maxPerAddress = 2
        self.join("m0", self.remote(0))
        self.join("m1", self.remote(1))
        self.assertEqual(
            self.join("m2", self.remote(2)), [(b"ERROR too many members", self.remote(2))]
        )
        self.assertEqual(len(self.chat.members), 2)
        self.assertEqual(self.join("carol", CAROL)[-1], (b"JOINED carol", CAROL))

    def test_leaveFreesPlace(self) -> None:
        """A member that leaves frees its address's place."""
        self.chat.maxPerAddress = 1
        self.join("m0", self.remote(0))
        self.send(b"LEAVE", self.remote(0))
        self.assertIn((b"JOINED m1", self.remote(1)), self.join("m1", self.remote(1)))

    def test_defaultCap(self) -> None:
        """
        By default one remote address holds 4 members, however fast it asks.
        """
        for n in range(96):
            self.join(f"m{n}", self.remote(n)) if n < 4 else self.send(
                pad(b"JOIN m%d" % n), self.remote(n)
            )
        self.assertEqual(len(self.chat.members), 4)

    def test_loopbackExempt(self) -> None:
        """Loopback is exempt from the member cap unless C{limitLoopback}."""
        self.chat.maxPerAddress = 1
        self.join("alice", ALICE)
        self.assertEqual(self.join("bob", BOB)[-1][0], b"JOINED bob")
        self.chat.limitLoopback = True
        self.assertEqual(
            self.join("dave", ("127.0.0.1", 40004)),
            [(b"ERROR too many members", ("127.0.0.1", 40004))],
        )


class InvisibleTextTests(ChatTestCase):
    """
    Message text with bidirectional overrides or invisible format characters
    is refused.
    """

    def test_refused(self) -> None:
        """Cf, Zl and Zp characters in a message are refused like control characters."""
        self.join("alice", ALICE)
        self.join("bob", BOB)
        for text in (
            "abc\u202egnp.exe",
            "zero\u200bwidth",
            "line\u2028sep",
            "para\u2029sep",
            "\ufeffbom",
        ):
            self.assertEqual(
                self.send(b"MSG " + text.encode(), ALICE),
                [(b"ERROR control characters in message", ALICE)],
            )

    def test_names(self) -> None:
        """Names carrying them are refused."""
        for name in ("a\u202eb", "a\u200db", "a\ufeffb"):
            self.assertEqual(
                self.send(pad(b"JOIN " + name.encode()), ALICE), [(b"ERROR bad name", ALICE)]
            )
