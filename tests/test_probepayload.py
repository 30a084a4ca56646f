# -*- test-case-name: tests.test_probepayload -*-
"""
Tests for L{sockservice.probe.payload}: the probe's letters-only requests.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from sockservice.probe.payload import (
    HEADER,
    MAX_SEQUENCE,
    decodeHeader,
    encode,
    encodeHeader,
    expectedReply,
    firstDifference,
    padding,
)

sequences = st.integers(0, MAX_SEQUENCE)
times = st.integers(0, 2**64 - 1)
sizes = st.integers(HEADER, 9000)


class PayloadTests(SynchronousTestCase):
    """
    Encoding, decoding and verifying requests.
    """

    @given(sequences, times, sizes)
    def test_roundTrip(self, sequence: int, sentNs: int, size: int) -> None:
        """
        A request has exactly C{size} lowercase letters, and its upper-cased
        reply gives back the sequence number and send time.
        """
        request = encode(sequence, sentNs, size)
        self.assertEqual(len(request), size)
        self.assertTrue(request.isalpha() and request.islower())
        self.assertEqual(decodeHeader(request.upper()), (sequence, sentNs))
        self.assertEqual(expectedReply(sequence, sentNs, size), request.upper())
        self.assertEqual(request, encodeHeader(sequence, sentNs) + padding(size))

    @given(sequences, times, sizes, st.data())
    def test_anyChangeFound(
        self, sequence: int, sentNs: int, size: int, data: st.DataObject
    ) -> None:
        """
        Changing any one byte of the reply is found at exactly its offset.
        """
        reply = bytearray(expectedReply(sequence, sentNs, size))
        offset = data.draw(st.integers(0, size - 1))
        reply[offset] = data.draw(st.integers(0, 255).filter(lambda b: b != reply[offset]))
        self.assertEqual(
            firstDifference(expectedReply(sequence, sentNs, size), bytes(reply)), offset
        )

    def test_notUpperCased(self) -> None:
        """
        A reply that was not upper-cased (an echo, a reflector) has no header.
        """
        self.assertIsNone(decodeHeader(encode(1, 2, 64)))
        self.assertIsNone(decodeHeader(b"SHORT"))

    def test_truncated(self) -> None:
        """
        A truncated reply differs where it stops.
        """
        expected = expectedReply(3, 4, 64)
        self.assertEqual(firstDifference(expected, expected[:40]), 40)
        self.assertIsNone(firstDifference(expected, expected))
