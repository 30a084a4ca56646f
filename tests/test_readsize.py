# -*- test-case-name: tests.test_readsize -*-
"""
Tests for how L{sockservice.uppercase.tcp} sizes its reads, over in-memory
transports.
"""

import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from sockservice.casing import transform
from sockservice.uppercase.tcp import READ_SIZE_MAX, READ_SIZE_START, UppercaseFactory


def _address():
    return IPv4Address("TCP", "192.0.2.7", 40000)


class _SizedTransport(StringTransport):
    """
    An in-memory transport with Twisted's read size attribute.
    """

    bufferSize = FileDescriptor.bufferSize


#: Every size a read may have.
_READ_SIZES = {READ_SIZE_START << n for n in range(READ_SIZE_MAX.bit_length())} & set(
    range(READ_SIZE_START, READ_SIZE_MAX + 1)
)


class ReadSizeTests(SynchronousTestCase):
    """
    Reads start small and grow while they fill the buffer.
    """

    def connect(self, transport):
        protocol = UppercaseFactory(reactor=MemoryReactorClock()).buildProtocol(_address())
        protocol.makeConnection(transport)
        return protocol

    def test_startsSmall(self):
        """
        A TCP transport with Twisted's default read size reads
        L{READ_SIZE_START} bytes at a time at first.
        """
        transport = _SizedTransport()
        self.connect(transport)
        self.assertEqual(transport.bufferSize, READ_SIZE_START)

    def test_largestRead(self):
        """
        Reads grow to 256 KiB on CPython, the size asyncio+uvloop reads; on
        PyPy they stop at Twisted's 64 KiB.
        """
        if sys.implementation.name == "pypy":
            self.assertEqual(READ_SIZE_MAX, FileDescriptor.bufferSize)
        else:
            self.assertEqual(READ_SIZE_MAX, 256 * 1024)

    def test_growsWhileFull(self):
        """
        Each read that fills the buffer doubles it, up to L{READ_SIZE_MAX};
        a shorter read does not.
        """
        transport = _SizedTransport()
        protocol = self.connect(transport)
        protocol.dataReceived(b"a" * 100)
        self.assertEqual(transport.bufferSize, READ_SIZE_START)
        expected = [READ_SIZE_START]
        while expected[-1] < READ_SIZE_MAX:
            expected.append(expected[-1] * 2)
        sizes = [transport.bufferSize]
        for _ in range(len(expected) + 1):
            protocol.dataReceived(b"a" * transport.bufferSize)
            sizes.append(transport.bufferSize)
        self.assertEqual(sizes, expected + [READ_SIZE_MAX, READ_SIZE_MAX])
        self.assertEqual(len(transport.value()), 100 + sum(sizes[:-1]))

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.text(alphabet="abcßΐ€𝔞 \n", min_size=1, max_size=6).map(str.encode),
                st.sampled_from([b"\xe2\x82", b"\xff", b"\xc3"]),
            ),
            min_size=1,
            max_size=6,
        ).map(b"".join),
        st.integers(min_value=1000, max_value=4096),
        st.integers(min_value=1, max_value=2 * READ_SIZE_MAX + 5000),
        st.lists(st.one_of(st.none(), st.integers(min_value=1, max_value=5000)), max_size=30),
    )
    def test_readSizesKeepBytes(self, unit, padding, length, plan):
        """
        However the stream is cut into reads, full ones (which grow the read
        size) or short ones, the reply is the whole stream's transform, and
        the read size stays within its bounds.
        """
        # ASCII padding keeps the bytes that are not UTF-8 sparse: PyPy's
        # surrogateescape encoder takes time that grows with their number
        # times the chunk's length.
        unit += b"a" * padding
        data = (unit * (length // len(unit) + 1))[:length]
        transport = _SizedTransport()
        protocol = self.connect(transport)
        offset = 0
        for step in plan + [None] * 20:
            size = transport.bufferSize if step is None else step
            protocol.dataReceived(data[offset : offset + size])
            offset += size
            self.assertIn(transport.bufferSize, _READ_SIZES)
            if offset >= len(data):
                break
        protocol.dataReceived(data[offset:])
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), transform(data))

    def test_chosenSizeKept(self):
        """
        A transport whose read size was set to something else keeps it.
        """
        transport = _SizedTransport()
        transport.bufferSize = 1000
        protocol = self.connect(transport)
        protocol.dataReceived(b"a" * 1000)
        self.assertEqual(transport.bufferSize, 1000)
