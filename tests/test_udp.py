# -*- test-case-name: tests.test_udp -*-
"""
Tests for L{sockservice.uppercase.udp}, over a fake datagram transport.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.error import MessageLengthError
from twisted.internet.task import Clock
from twisted.internet.testing import FakeDatagramTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice.casing import MODES, transform
from sockservice.uppercase import udp
from sockservice.uppercase.udp import UppercaseDatagramProtocol

OWN_PORT = 12000
CLIENT = ("192.0.2.1", 50000)


class _Transport(FakeDatagramTransport):
    """
    L{FakeDatagramTransport} bound to a port, that can be made to fail.
    """

    error = None

    def getHost(self):
        return IPv4Address("UDP", "0.0.0.0", OWN_PORT)

    def write(self, packet, addr=FakeDatagramTransport.noAddr):
        if self.error is not None:
            raise self.error
        super().write(packet, addr)


def _start(**kwargs):
    kwargs.setdefault("reactor", Clock())
    protocol = UppercaseDatagramProtocol(**kwargs)
    transport = _Transport()
    protocol.makeConnection(transport)
    return protocol, transport


class AnswerTests(SynchronousTestCase):
    """
    Each datagram gets one upper-cased datagram back, to its sender.
    """

    def test_oneReply(self):
        """
        The reply goes to the sender's address with the payload upper-cased.
        """
        protocol, transport = _start()
        protocol.datagramReceived(b"hello", CLIENT)
        self.assertEqual(transport.written, [(b"HELLO", CLIENT)])
        self.assertEqual(protocol.answered, 1)

    def test_wholeDatagramDecoded(self):
        """
        The datagram is decoded as a whole, in unicode mode by default.
        """
        protocol, transport = _start()
        protocol.datagramReceived("straße".encode() + b"\xff", CLIENT)
        self.assertEqual(transport.written, [(b"STRASSE\xff", CLIENT)])

    def test_asciiMode(self):
        """
        In ascii mode only a-z change.
        """
        protocol, transport = _start(mode="ascii")
        protocol.datagramReceived("straße".encode(), CLIENT)
        self.assertEqual(transport.written, [("STRAßE".encode(), CLIENT)])

    def test_empty(self):
        """
        An empty datagram gets an empty reply.
        """
        protocol, transport = _start()
        protocol.datagramReceived(b"", CLIENT)
        self.assertEqual(transport.written, [(b"", CLIENT)])

    def test_ipv6Sender(self):
        """
        IPv6 senders are answered at their 4-tuple address.
        """
        protocol, transport = _start()
        sender = ("2001:db8::1", 50000, 0, 0)
        protocol.datagramReceived(b"v6", sender)
        self.assertEqual(transport.written, [(b"V6", sender)])


class OversizeTests(SynchronousTestCase):
    """
    A reply that does not fit in one datagram is dropped and counted, never
    truncated.
    """

    def test_growsPastIPv4Limit(self):
        """
        A request that fits but whose reply would exceed 65,507 bytes over
        IPv4 gets no reply, and the drop is counted.
        """
        protocol, transport = _start()
        # U+0149 is two bytes and upper-cases to three: 43,672 bytes in,
        # 65,508 out, one byte too many.
        protocol.datagramReceived("ŉ".encode() * 21836, CLIENT)
        self.assertEqual(transport.written, [])
        self.assertEqual(protocol.dropped["oversize"], 1)

    def test_largestIPv4Reply(self):
        """
        A reply of exactly 65,507 bytes is sent.
        """
        protocol, transport = _start()
        protocol.datagramReceived(b"a" * 65507, CLIENT)
        self.assertEqual(len(transport.written[0][0]), 65507)

    def test_ipv6Limit(self):
        """
        Over IPv6 the limit is 65,527 bytes.
        """
        protocol, transport = _start()
        sender = ("2001:db8::1", 50000, 0, 0)
        protocol.datagramReceived(b"a" * 65527, sender)
        protocol.datagramReceived("ŉ".encode() * 21843, sender)
        self.assertEqual([len(p) for p, _ in transport.written], [65527])
        self.assertEqual(protocol.dropped["oversize"], 1)

    def test_sendErrorCounted(self):
        """
        A failure to send (such as EMSGSIZE) is counted, not raised.
        """
        protocol, transport = _start()
        transport.error = MessageLengthError("message too long")
        protocol.datagramReceived(b"x", CLIENT)
        transport.error = OSError(11, "Resource temporarily unavailable")
        protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(protocol.dropped["send-error"], 2)


class SourcePortGuardTests(SynchronousTestCase):
    """
    No reply to source port 0, privileged source ports, or the service's own
    port.
    """

    def assertDropped(self, sender):
        protocol, transport = _start()
        protocol.datagramReceived(b"x", sender)
        self.assertEqual(transport.written, [])
        self.assertEqual(protocol.dropped["source-port"], 1)

    def test_portZero(self):
        """
        Source port 0 is never answered.
        """
        self.assertDropped(("192.0.2.1", 0))

    def test_privileged(self):
        """
        Privileged source ports (echo 7, chargen 19, DNS 53, 1023) are never
        answered, from loopback either.
        """
        for port in (7, 19, 53, 123, 1023):
            self.assertDropped(("192.0.2.1", port))
        self.assertDropped(("127.0.0.1", 7))

    def test_ownPort(self):
        """
        A datagram from the service's own port (another instance) is never
        answered, so two instances cannot ping-pong.
        """
        self.assertDropped(("192.0.2.1", OWN_PORT))

    def test_firstUnprivileged(self):
        """
        Port 1024 is answered.
        """
        protocol, transport = _start()
        protocol.datagramReceived(b"x", ("192.0.2.1", 1024))
        self.assertEqual(len(transport.written), 1)


class RateLimitTests(SynchronousTestCase):
    """
    Each source address is answered at most C{burst} at once and C{rate} per
    second after that; loopback is exempt unless C{limitLoopback}.
    """

    def test_burstThenRate(self):
        """
        Past the burst, datagrams are dropped until the clock refills the
        source's allowance.
        """
        clock = Clock()
        protocol, transport = _start(rate=10, burst=5, reactor=clock)
        for _ in range(8):
            protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(len(transport.written), 5)
        self.assertEqual(protocol.dropped["rate"], 3)
        clock.advance(0.1)
        protocol.datagramReceived(b"x", CLIENT)
        protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(len(transport.written), 6)

    def test_perSource(self):
        """
        One source's flood does not starve another network (other port, same
        host is the same source).
        """
        protocol, transport = _start(rate=1, burst=1)
        protocol.datagramReceived(b"x", CLIENT)
        protocol.datagramReceived(b"x", ("192.0.2.1", 50001))
        protocol.datagramReceived(b"x", ("198.51.100.2", 50000))
        self.assertEqual([a for _, a in transport.written], [CLIENT, ("198.51.100.2", 50000)])

    def test_loopbackExempt(self):
        """
        Loopback sources are not rate-limited by default.
        """
        protocol, transport = _start(rate=1, burst=1)
        for _ in range(50):
            protocol.datagramReceived(b"x", ("127.0.0.1", 50000))
        self.assertEqual(len(transport.written), 50)

    def test_limitLoopback(self):
        """
        With C{limitLoopback}, loopback sources are rate-limited too.
        """
        protocol, transport = _start(rate=1, burst=1, limitLoopback=True)
        for _ in range(5):
            protocol.datagramReceived(b"x", ("::1", 50000, 0, 0))
        self.assertEqual(len(transport.written), 1)

    def test_disabled(self):
        """
        A rate of 0 disables the limit.
        """
        protocol, transport = _start(rate=0)
        for _ in range(500):
            protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(len(transport.written), 500)

    def test_sourceTableBounded(self):
        """
        A flood from many (spoofable) sources keeps at most C{maxSources} in
        memory.
        """
        protocol, transport = _start(maxSources=100)
        for i in range(1000):
            protocol.datagramReceived(b"x", (f"10.{i // 256}.{i % 256}.1", 50000))
        self.assertEqual(len(protocol.guard.limiter.sources), 100)


class LoggingTests(SynchronousTestCase):
    """
    The protocol logs where it listens, and drop counts when it stops.
    """

    def test_startAndStop(self):
        """
        One event on start naming the address; one on stop with the counts.
        """
        from twisted.logger import capturedLogs

        with capturedLogs() as events:
            protocol, transport = _start()
            protocol.datagramReceived(b"x", ("192.0.2.1", 0))
            protocol.doStop()
        self.assertEqual(len(events), 2)
        self.assertEqual(events[0]["port"], OWN_PORT)
        self.assertEqual(events[1]["dropped"], {"source-port": 1})


class FastPathTests(SynchronousTestCase):
    """
    A datagram that is sure to be answered is answered without asking the
    source guard, and an ASCII one without the general transform; the
    replies are those of the general path.
    """

    def _askedGuard(self, protocol):
        asked = []
        refusal = protocol.guard.refusal

        def recording(host, port):
            asked.append((host, port))
            return refusal(host, port)

        protocol.guard.refusal = recording
        return asked

    def test_exemptHostAskedOnce(self):
        """
        Under the default rate limit, a loopback source is found exempt once;
        its later datagrams are answered without asking the guard.
        """
        protocol, transport = _start()
        asked = self._askedGuard(protocol)
        for _ in range(5):
            protocol.datagramReceived(b"x", ("127.0.0.1", 50000))
        self.assertEqual(asked, [("127.0.0.1", 50000)])
        self.assertEqual(len(transport.written), 5)

    def test_limitedHostAlwaysAsked(self):
        """
        A source subject to the rate limit is checked for every datagram.
        """
        protocol, transport = _start(rate=1, burst=2)
        asked = self._askedGuard(protocol)
        for _ in range(4):
            protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(asked, [CLIENT] * 4)
        self.assertEqual(protocol.dropped["rate"], 2)

    def test_noLimitNoQuestion(self):
        """
        Without a rate limit only refused source ports are asked about, and
        still refused.
        """
        protocol, transport = _start(rate=0)
        asked = self._askedGuard(protocol)
        for port in (50000, 7, OWN_PORT, 50000):
            protocol.datagramReceived(b"x", ("192.0.2.1", port))
        self.assertEqual(asked, [("192.0.2.1", 7), ("192.0.2.1", OWN_PORT)])
        self.assertEqual(len(transport.written), 2)
        self.assertEqual(protocol.dropped["source-port"], 2)

    def test_asciiWithoutTransform(self):
        """
        An ASCII datagram is upper-cased with C{bytes.upper} in either mode;
        anything else goes through L{transform}.
        """
        called = []

        def recording(data, mode="unicode"):
            called.append(data)
            return transform(data, mode)

        self.patch(udp, "transform", recording)
        for mode in ("unicode", "ascii"):
            protocol, transport = _start(mode=mode)
            protocol.datagramReceived(b"hi", CLIENT)
            protocol.datagramReceived("ß".encode(), CLIENT)
            self.assertEqual(
                [p for p, _ in transport.written], [b"HI", transform("ß".encode(), mode)]
            )
        self.assertEqual(called, ["ß".encode()] * 2)

    @given(st.binary(max_size=200), st.sampled_from(MODES))
    def test_replyIsTransform(self, data, mode):
        """
        The reply to any datagram is L{transform} of it, and the bytes
        counted are those of the datagram and of the reply.
        """
        protocol, transport = _start(mode=mode)
        protocol.datagramReceived(data, CLIENT)
        reply = transform(data, mode)
        self.assertEqual(transport.written, [(reply, CLIENT)])
        counters = protocol.counters
        self.assertEqual(
            (counters.received, counters.answered, counters.receivedBytes, counters.sentBytes),
            (1, 1, len(data), len(reply)),
        )

    def test_unknownMode(self):
        """
        The protocol refuses a casing mode it does not know when it is made,
        not at its first datagram (ASCII ones never reach the transform).
        """
        error = self.assertRaises(ValueError, UppercaseDatagramProtocol, mode="latin")
        self.assertEqual(str(error), "unknown case mode 'latin'")
