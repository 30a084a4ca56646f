# -*- test-case-name: tests.test_command -*-
"""
Tests for L{sockservice.command.protocol}: framing, the protocol over
L{StringTransport}, and a fake C{spawnProcess} that records what would run.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.protocols.basic import NetstringReceiver
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from sockservice.command.allowlist import AllowedCommand, AllowList
from sockservice.command.backoff import FIRST_DELAY
from sockservice.command.factory import CHILD_ENV, CommandFactory, isLocalPeer
from sockservice.command.netstrings import decodeFields, encodeFields
from sockservice.server.drain import IDrainable
from tests.servicefakes import FakeProcessReactor

LOCAL = IPv4Address("TCP", "127.0.0.1", 40000)
REMOTE = IPv4Address("TCP", "192.0.2.7", 40000)
OTHER_REMOTE = IPv4Address("TCP", "198.51.100.9", 40000)
ALLOWED = AllowList(
    [
        AllowedCommand("hello", ["/bin/echo", "hello"], timeout=5, maxOutput=20),
        AllowedCommand("ping", ["/bin/ping", "-c1", "--"], re.compile("[a-z0-9.]+"), 2),
    ]
)


def frame(*fields: bytes) -> bytes:
    """@return: One request frame: a netstring of netstrings."""
    payload = encodeFields(fields)
    return b"%d:%s," % (len(payload), payload)


class ReplyReader(NetstringReceiver):
    """Decodes the replies written to a L{StringTransport}."""

    MAX_LENGTH = 10**7

    def __init__(self) -> None:
        self.replies: List[List[bytes]] = []

    def stringReceived(self, string: bytes) -> None:
        self.replies.append(decodeFields(string))


def replies(transport: StringTransport) -> List[List[bytes]]:
    """@return: Every reply in C{transport}, decoded."""
    reader = ReplyReader()
    reader.makeConnection(StringTransport())
    reader.dataReceived(transport.value())
    return reader.replies


class FieldsTests(TestCase):
    """
    Tests for L{encodeFields} and L{decodeFields}.
    """

    @given(st.lists(st.binary()))
    def test_roundTrip(self, fields: List[bytes]) -> None:
        """Any fields decode back to themselves."""
        self.assertEqual(decodeFields(encodeFields(fields)), fields)

    def test_malformed(self) -> None:
        """Anything but an exact sequence of netstrings is refused."""
        for bad in [b"3:ab,", b"3:abcd", b"x:ab,", b"03:abc,", b"-1:,", b"3abc,", b"1:a,2", b":,"]:
            self.assertRaises(ValueError, decodeFields, bad)


class LoopbackTests(TestCase):
    """
    Tests for L{isLocalPeer}.
    """

    def test_addresses(self) -> None:
        """Loopback IPv4, IPv6, IPv4-mapped and UNIX peers are local; others are not."""
        self.assertTrue(isLocalPeer(LOCAL))
        self.assertTrue(isLocalPeer(IPv4Address("TCP", "127.9.9.9", 1)))
        self.assertTrue(isLocalPeer(IPv6Address("TCP", "::1", 1)))
        self.assertTrue(isLocalPeer(IPv6Address("TCP", "::ffff:127.0.0.1", 1)))
        self.assertTrue(isLocalPeer(UNIXAddress(b"/tmp/x")))
        self.assertFalse(isLocalPeer(REMOTE))
        self.assertFalse(isLocalPeer(IPv6Address("TCP", "::ffff:192.0.2.1", 1)))
        self.assertFalse(isLocalPeer(IPv4Address("TCP", "localhost", 1)))


class CommandTestCase(TestCase):
    """
    A command factory on a fake process reactor.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.events: List[dict] = []
        # The argv as spawned, unwrapped: sessions are tested in test_commandflow.
        self.factory = CommandFactory(ALLOWED, self.reactor, sessions=False)
        self.factory.log = Logger(observer=self.events.append)

    def connect(self, peer: Any = LOCAL) -> tuple:
        proto = self.factory.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        proto.makeConnection(transport)
        return proto, transport


class CommandProtocolTests(CommandTestCase):
    """
    Tests for L{CommandProtocol}.
    """

    def test_fakeReactor(self) -> None:
        """The fake reactor provides C{IReactorProcess}."""
        self.assertTrue(verifyObject(IReactorProcess, self.reactor))

    def test_run(self) -> None:
        """An allowed name runs its argv, no shell, minimal environment, stdin closed."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        [spawned] = self.reactor.spawned
        self.assertEqual((spawned.executable, spawned.args), ("/bin/echo", ["/bin/echo", "hello"]))
        self.assertEqual((spawned.env, spawned.path), (CHILD_ENV, "/"))
        self.assertTrue(spawned.transport.stdinClosed)
        spawned.protocol.childDataReceived(1, b"hel")
        spawned.protocol.childDataReceived(2, b"warn")
        spawned.protocol.childDataReceived(1, b"lo\n")
        self.assertEqual(transport.value(), b"")
        spawned.exit(0)
        self.assertEqual(replies(transport), [[b"exit 0", b"hello\n", b"warn"]])

    def test_exitStatusAndArgs(self) -> None:
        """Allowed arguments are appended; a non-zero exit code is reported."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"ping", b"example.org"))
        [spawned] = self.reactor.spawned
        self.assertEqual(spawned.args, ["/bin/ping", "-c1", "--", "example.org"])
        spawned.exit(2)
        self.assertEqual(replies(transport), [[b"exit 2", b"", b""]])

    def test_refusals(self) -> None:
        """Unknown names, shell syntax and bad arguments are refused; nothing runs."""
        proto, transport = self.connect()
        for request in [
            frame(b"run", b"rm", b"-rf", b"/"),
            frame(b"run", b"hello; id"),
            frame(b"run", b"hello", b"x"),
            frame(b"run", b"ping", b"a;id"),
            frame(b"run"),
            frame(b"exec", b"hello"),
            b"5:hello,",
        ]:
            proto.dataReceived(request)
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(
            [r[0] for r in replies(transport)],
            [b"refused unknown command"] * 2
            + [b"refused too many arguments", b"refused argument not allowed"]
            + [b"refused bad request"] * 3,
        )

    def test_splitAtEveryByte(self) -> None:
        """Requests split at any byte run the same, and replies stay in order."""
        data = frame(b"run", b"hello") + frame(b"run", b"nope") + frame(b"run", b"ping", b"a.b")
        for i in range(len(data) + 1):
            self.reactor.spawned = []
            proto, transport = self.connect()
            proto.dataReceived(data[:i])
            proto.dataReceived(data[i:])
            self.reactor.spawned[0].exit(0)
            self.reactor.spawned[1].exit(1)
            self.assertEqual(
                [r[0] for r in replies(transport)],
                [b"exit 0", b"refused unknown command", b"exit 1"],
            )
            self.assertEqual(self.reactor.spawned[1].args[-1], "a.b")

    def test_oneAtATime(self) -> None:
        """A connection's requests run in order; reading pauses while one runs."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello") * 2)
        self.assertEqual(len(self.reactor.spawned), 1)
        self.assertEqual(transport.producerState, "paused")
        self.reactor.spawned[0].exit(0)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.reactor.spawned[1].exit(0)
        self.assertEqual(transport.producerState, "producing")
        self.assertEqual(len(replies(transport)), 2)

    def test_tooMuchPipelining(self) -> None:
        """A client queueing more than C{maxPending} requests is disconnected."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello") * 20)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_badFraming(self) -> None:
        """A malformed or over-long outer frame closes the connection; nothing runs."""
        for data in [b"x", b"99999999:", b"5000:" + b"a" * 5000]:
            proto, transport = self.connect()
            proto.dataReceived(data)
            self.assertTrue(transport.disconnecting)
        self.assertEqual(self.reactor.spawned, [])

    def test_timeout(self) -> None:
        """A command still running at its timeout is killed, and the reply says so."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        [spawned] = self.reactor.spawned
        spawned.protocol.childDataReceived(1, b"partial")
        self.reactor.advance(4.9)
        self.assertEqual(spawned.transport.signals, [])
        self.reactor.advance(0.1)
        self.assertEqual(spawned.transport.signals, ["KILL"])
        spawned.exit(signal=9)
        self.assertEqual(replies(transport), [[b"signal 9 timeout", b"partial", b""]])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_pipesHeldOpen(self) -> None:
        """If the pipes stay open after the process exits, they are closed after a grace."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        [spawned] = self.reactor.spawned
        spawned.protocol.processExited(None)
        self.reactor.advance(1.9)
        self.assertFalse(spawned.transport.lostConnection)
        self.reactor.advance(0.1)
        self.assertTrue(spawned.transport.lostConnection)

    def test_outputCap(self) -> None:
        """Output beyond the cap (stdout and stderr together) is cut and the process killed."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        [spawned] = self.reactor.spawned
        spawned.protocol.childDataReceived(2, b"e" * 8)
        spawned.protocol.childDataReceived(1, b"o" * 100)
        spawned.protocol.childDataReceived(1, b"o" * 100)
        self.assertEqual(spawned.transport.signals, ["KILL"])
        spawned.exit(signal=9)
        self.assertEqual(replies(transport), [[b"signal 9 truncated", b"o" * 12, b"e" * 8]])

    def test_concurrencyLimit(self) -> None:
        """Beyond C{maxConcurrent} runs, requests are refused as busy until one ends."""
        self.factory.maxConcurrent = 2
        clients = [self.connect() for _ in range(3)]
        for proto, _ in clients:
            proto.dataReceived(frame(b"run", b"hello"))
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(replies(clients[2][1]), [[b"refused busy", b"", b""]])
        self.reactor.spawned[0].exit(0)
        clients[2][0].dataReceived(frame(b"run", b"hello"))
        self.assertEqual(len(self.reactor.spawned), 3)
        self.assertEqual(self.factory.running, 2)

    def test_clientGone(self) -> None:
        """A reply due to a client that has gone is dropped quietly."""
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        proto.connectionLost(None)
        self.reactor.spawned[0].exit(0)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.factory.running, 0)

    def test_logged(self) -> None:
        """Every run is logged with the peer, the name and the status."""
        proto, _ = self.connect()
        proto.dataReceived(frame(b"run", b"hello"))
        self.reactor.spawned[0].exit(3)
        [event] = [e for e in self.events if "status" in e]
        self.assertEqual(
            (event["peer"], event["name"], event["status"]), ("127.0.0.1:40000", "hello", "exit 3")
        )

    def assertOnlyAllowed(self, data: bytes, cuts: List[int]) -> None:
        """
        Feed C{data} cut at C{cuts}, ending each process at once, then check
        every argv that was spawned against L{ALLOWED}.
        """
        self.setUp()
        proto, _ = self.connect()
        for start, end in zip([0] + sorted(cuts), sorted(cuts) + [len(data)]):
            proto.dataReceived(data[start:end])
            for spawned in self.reactor.spawned:
                if not spawned.transport.exited:
                    spawned.exit(0)
        for spawned in self.reactor.spawned:
            self.assertEqual(spawned.executable, spawned.args[0])
            if spawned.args[0] == "/bin/echo":
                self.assertEqual(spawned.args, ["/bin/echo", "hello"])
            else:
                self.assertEqual(spawned.args[:3], ["/bin/ping", "-c1", "--"])
                self.assertLessEqual(len(spawned.args), 5)
                for arg in spawned.args[3:]:
                    self.assertRegex(arg, r"\A[a-z0-9.]+\Z")

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.builds(
                lambda verb, name, args: frame(verb, name, *args),
                st.sampled_from([b"run", b"run", b"run", b"auth", b"RUN", b""]),
                st.sampled_from([b"hello", b"ping", b"ping", b"rm", b"sh", b"hello;id"])
                | st.binary(max_size=8),
                st.lists(
                    st.sampled_from([b"a.b", b"x1", b"-c", b";id", b"a b", b"\x00"])
                    | st.binary(max_size=8),
                    max_size=3,
                ),
            ),
            max_size=8,
        ),
        st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    )
    def test_onlyAllowListRunsFrames(self, frames: List[bytes], cuts: List[int]) -> None:
        """Whatever well-framed requests arrive, however split, only allowed argvs run."""
        data = b"".join(frames)
        self.assertOnlyAllowed(data, [min(c, len(data)) for c in cuts])

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200), st.lists(st.integers(min_value=0, max_value=200), max_size=4))
    def test_onlyAllowListRunsBytes(self, data: bytes, cuts: List[int]) -> None:
        """Whatever bytes arrive, nothing outside the allow-list runs."""
        self.assertOnlyAllowed(data, [min(c, len(data)) for c in cuts])


class TokenTests(CommandTestCase):
    """
    Tests for the token check and the loopback-only default.
    """

    def test_remoteRefusedWithoutToken(self) -> None:
        """Without a token, a client that is not on loopback gets no protocol at all."""
        self.assertIsNone(self.factory.buildProtocol(REMOTE))
        self.assertIsNotNone(self.factory.buildProtocol(LOCAL))

    def tokenConnect(self, peer: Any = REMOTE) -> tuple:
        self.factory.token = b"s3cret-token-0123456789"
        return self.connect(peer)

    def test_runBeforeAuth(self) -> None:
        """With a token set, a run before C{auth} is refused and the connection closed."""
        proto, transport = self.tokenConnect()
        proto.dataReceived(frame(b"run", b"hello"))
        self.assertEqual(replies(transport), [[b"refused unauthorized", b"", b""]])
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.reactor.spawned, [])

    def test_badToken(self) -> None:
        """
        A wrong token is refused after a short wait, the connection closed,
        and the next request ignored.
        """
        proto, transport = self.tokenConnect()
        proto.dataReceived(frame(b"auth", b"guess") + frame(b"run", b"hello"))
        self.assertEqual(replies(transport), [])
        self.reactor.advance(FIRST_DELAY)
        self.assertEqual(replies(transport), [[b"refused unauthorized", b"", b""]])
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.reactor.spawned, [])

    def test_repeatedBadTokensSlowDown(self) -> None:
        """
        Each failed C{auth} from one address doubles the wait for the next
        one's reply; another address is not slowed down.
        """
        waits = []
        for _ in range(4):
            proto, transport = self.tokenConnect()
            proto.dataReceived(frame(b"auth", b"guess"))
            waited = 0.0
            while not replies(transport):
                self.reactor.advance(0.25)
                waited += 0.25
            waits.append(waited)
        self.assertEqual(waits, [0.5, 1.0, 2.0, 4.0])
        proto, transport = self.tokenConnect(OTHER_REMOTE)
        proto.dataReceived(frame(b"auth", b"guess"))
        self.reactor.advance(FIRST_DELAY)
        self.assertEqual(replies(transport), [[b"refused unauthorized", b"", b""]])

    def test_goodToken(self) -> None:
        """The right token lets a remote client run allowed commands."""
        proto, transport = self.tokenConnect()
        proto.dataReceived(frame(b"auth", b"s3cret-token-0123456789") + frame(b"run", b"hello"))
        self.reactor.spawned[0].exit(0)
        self.assertEqual([r[0] for r in replies(transport)], [b"ok", b"exit 0"])

    def test_tokenOnLoopbackToo(self) -> None:
        """Once a token is set, loopback clients must present it as well."""
        proto, transport = self.tokenConnect(LOCAL)
        proto.dataReceived(frame(b"run", b"hello"))
        self.assertEqual(replies(transport), [[b"refused unauthorized", b"", b""]])

    def test_constantTime(self) -> None:
        """The token is compared with C{hmac.compare_digest}."""
        calls: List[Optional[tuple]] = []
        import sockservice.command.protocol as module

        real = module.hmac.compare_digest
        self.patch(module.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
        proto, _ = self.tokenConnect()
        proto.dataReceived(frame(b"auth", b"guess"))
        self.assertEqual(calls, [(b"guess", b"s3cret-token-0123456789")])


class DrainTests(CommandTestCase):
    """
    The command protocol on stop (L{sockservice.server.drain}).
    """

    def test_idleClosesAtOnce(self) -> None:
        """A connection with no request in progress closes when asked."""
        self.assertTrue(verifyObject(IDrainable, self.connect()[0]))
        proto, transport = self.connect()
        proto.closeGracefully()
        self.assertTrue(transport.disconnecting)

    def test_busyClosesAfterItsReply(self) -> None:
        """
        A connection with a run in progress stays open until that run's reply
        is sent, then closes; a request queued behind it is not started.
        """
        proto, transport = self.connect()
        proto.dataReceived(frame(b"run", b"hello") + frame(b"run", b"hello"))
        proto.closeGracefully()
        self.assertFalse(transport.disconnecting)
        [spawned] = self.reactor.spawned
        spawned.exit(0)
        self.assertEqual([r[0] for r in replies(transport)], [b"exit 0"])
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.reactor.spawned), 1)
