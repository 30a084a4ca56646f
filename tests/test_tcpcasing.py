# -*- test-case-name: tests.test_tcpcasing -*-
"""
Tests for the transform on L{sockservice.uppercase.tcp}'s connections: the
ASCII fast path and the lazily made L{sockservice.casing.Uppercaser} give
exactly the transform of the whole stream, however it is split.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice.casing import MODES, transform
from sockservice.uppercase.tcp import UppercaseFactory

#: Chunks mixing ASCII, multi-byte UTF-8, split sequences and invalid bytes.
_chunks = st.lists(
    st.one_of(
        st.binary(max_size=6).map(lambda b: bytes(x & 0x7F for x in b)),
        st.text(alphabet="abcßΐŉﬃçé€𝔞 \nÿ", max_size=4).map(lambda t: t.encode()),
        st.binary(max_size=4),
        st.sampled_from([b"\xe2\x82", b"\xf0\x9f", b"\xff", b"\xc3", b"\xed\xb2\x80", b"\x80"]),
    ),
    max_size=10,
)


def _connect(mode):
    factory = UppercaseFactory(mode=mode, reactor=MemoryReactorClock(), idleTimeout=0)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


class ChunkedTransformTests(SynchronousTestCase):
    """
    A connection's replies are the transform of everything it was sent.
    """

    @settings(max_examples=300)
    @given(_chunks, st.sampled_from(MODES), st.booleans())
    def test_anyChunking(self, chunks, mode, graceful):
        """
        Whatever the bytes and however they are split into reads, in either
        mode, the replies up to the end of the input (or the drain's
        graceful close) are the one-shot transform of the whole stream.
        """
        protocol, transport = _connect(mode)
        for chunk in chunks:
            protocol.dataReceived(chunk)
        if graceful:
            protocol.closeGracefully()
        else:
            protocol.readConnectionLost()
        self.assertEqual(transport.value(), transform(b"".join(chunks), mode))
        self.assertTrue(transport.disconnecting)

    @given(_chunks, st.sampled_from(MODES))
    def test_countedBytes(self, chunks, mode):
        """
        The bytes counted as sent are the bytes written, with or without
        the ASCII fast path.
        """
        protocol, transport = _connect(mode)
        for chunk in chunks:
            protocol.dataReceived(chunk)
        protocol.readConnectionLost()
        counters = protocol.factory.counters
        self.assertEqual(counters.sentBytes, len(transport.value()))
        self.assertEqual(counters.receivedBytes, sum(map(len, chunks)))
        self.assertEqual(counters.received, len(chunks))

    @given(st.lists(st.binary(max_size=6).map(lambda b: bytes(x & 0x7F for x in b))))
    def test_countedAscii(self, chunks):
        """
        An ASCII chunk is a request received and, unless empty, answered,
        with as many bytes sent as received.
        """
        protocol, transport = _connect("unicode")
        for chunk in chunks:
            protocol.dataReceived(chunk)
        counters = protocol.factory.counters
        self.assertEqual(counters.received, len(chunks))
        self.assertEqual(counters.answered, sum(1 for chunk in chunks if chunk))
        self.assertEqual(counters.sentBytes, counters.receivedBytes)
        self.assertEqual(transport.value(), b"".join(chunks).upper())

    def test_asciiStreamMakesNoCaser(self):
        """
        A connection that is only ever sent ASCII keeps no transform state
        (a smaller idle connection); the first byte that is not ASCII makes
        it, and it is kept from then on.
        """
        for mode in MODES:
            protocol, transport = _connect(mode)
            protocol.dataReceived(b"hello ")
            self.assertIsNone(protocol._caser)
            protocol.dataReceived("straße ".encode())
            caser = protocol._caser
            self.assertIsNotNone(caser)
            protocol.dataReceived(b"end")
            self.assertIs(protocol._caser, caser)
            protocol.readConnectionLost()
            self.assertEqual(transport.value(), transform("hello straße end".encode(), mode))

    def test_unknownMode(self):
        """
        A factory refuses a casing mode it does not know, before any
        connection.
        """
        error = self.assertRaises(ValueError, UppercaseFactory, mode="latin")
        self.assertEqual(str(error), "unknown case mode 'latin'")
