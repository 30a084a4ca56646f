# -*- test-case-name: tests.test_casing -*-
"""
Tests for L{sockservice.casing}.
"""

import codecs
import gc
import platform
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from sockservice import casing
from sockservice.casing import MODES, Uppercaser, maxExpansion, transform

# Bytes that exercise UTF-8 handling: multi-byte characters, characters whose
# upper case is longer, and bytes that are never valid UTF-8.
_interesting = st.lists(
    st.one_of(
        st.text(alphabet="abcßΐŉﬃçé€𝔞 \nÿ", max_size=4).map(lambda t: t.encode()),
        st.binary(max_size=4),
        st.sampled_from([b"\xe2\x82", b"\xf0\x9f", b"\xff", b"\xc3", b"\xed\xb2\x80"]),
    ),
    max_size=12,
).map(b"".join)


def _feedAll(chunks, mode):
    caser = Uppercaser(mode)
    return b"".join(caser.feed(chunk) for chunk in chunks) + caser.flush()


class TransformTests(SynchronousTestCase):
    """
    The whole-message transform follows the documented rules.
    """

    def test_unicodeSharpS(self):
        """
        In unicode mode, straße becomes STRASSE (the reply may grow).
        """
        self.assertEqual(transform("straße".encode()), b"STRASSE")

    def test_unicodeAccents(self):
        """
        Accented letters are upper-cased in unicode mode.
        """
        self.assertEqual(transform("crème brûlée".encode()), "CRÈME BRÛLÉE".encode())

    def test_invalidBytesUnchanged(self):
        """
        Bytes that are not valid UTF-8 come back unchanged; ASCII letters
        around them are still upper-cased.
        """
        self.assertEqual(transform(b"ab\xffcd\xc3"), b"AB\xffCD\xc3")

    def test_encodedSurrogateUnchanged(self):
        """
        A UTF-8-encoded surrogate (invalid UTF-8) passes through unchanged.
        """
        self.assertEqual(transform(b"x\xed\xb2\x80y"), b"X\xed\xb2\x80Y")

    def test_asciiMode(self):
        """
        In ascii mode only a-z change and the length never changes.
        """
        data = "straße é".encode() + b"\xff abc"
        self.assertEqual(transform(data, "ascii"), data.upper())
        self.assertEqual(transform(data, "ascii"), "STRAßE é".encode() + b"\xff ABC")

    def test_empty(self):
        """
        The empty message transforms to the empty message in every mode.
        """
        for mode in MODES:
            self.assertEqual(transform(b"", mode), b"")

    def test_unknownMode(self):
        """
        An unknown mode is refused.
        """
        self.assertRaises(ValueError, transform, b"a", "rot13")
        self.assertRaises(ValueError, Uppercaser, "rot13")

    @given(st.binary(max_size=64))
    def test_asciiSameLength(self, data):
        """
        In ascii mode the reply is exactly C{bytes.upper()}.
        """
        self.assertEqual(transform(data, "ascii"), data.upper())

    @given(_interesting)
    def test_expansionBound(self, data):
        """
        No input grows by more than L{maxExpansion}.
        """
        self.assertLessEqual(len(transform(data)), maxExpansion * len(data))

    @given(st.text(max_size=40))
    def test_validUTF8(self, text):
        """
        Valid UTF-8 is upper-cased exactly as C{str.upper} does.
        """
        self.assertEqual(transform(text.encode()), text.upper().encode("utf-8", "surrogatepass"))


class UppercaserTests(SynchronousTestCase):
    """
    The incremental transform gives the same bytes however the stream is split.
    """

    def test_noReferenceCycle(self):
        """
        A caser in either mode is freed as soon as it is dropped, without the
        garbage collector: one is made per TCP connection.
        """
        if platform.python_implementation() != "CPython":
            raise SkipTest("only CPython frees objects by reference counting")
        for mode in MODES:
            caser = Uppercaser(mode)
            caser.feed(b"abc")
            dropped = weakref.ref(caser)
            gc.disable()
            try:
                del caser
                self.assertIsNone(dropped(), mode)
            finally:
                gc.enable()

    def test_heldBack(self):
        """
        An incomplete multi-byte sequence is held back until it completes.
        """
        caser = Uppercaser()
        self.assertEqual(caser.feed(b"stra\xc3"), b"STRA")
        self.assertEqual(caser.feed(b"\x9fe"), b"SSE")
        self.assertEqual(caser.flush(), b"")

    def test_flushIncomplete(self):
        """
        At the end of the stream, an incomplete sequence comes back unchanged.
        """
        caser = Uppercaser()
        self.assertEqual(caser.feed(b"a\xe2\x82"), b"A")
        self.assertEqual(caser.flush(), b"\xe2\x82")

    def test_everySplitPoint(self):
        """
        Splitting a multi-byte input at every index, in every mode, gives the
        same result as transforming it whole.
        """
        data = "straße ΐ €uro 𝔞 ".encode() + b"\xff\xe2\x82 x\xc3"
        for mode in MODES:
            whole = transform(data, mode)
            for i in range(len(data) + 1):
                for j in range(i, len(data) + 1):
                    chunks = [data[:i], data[i:j], data[j:]]
                    self.assertEqual(_feedAll(chunks, mode), whole, (mode, i, j))

    @settings(max_examples=300)
    @given(_interesting, st.lists(st.integers(min_value=0, max_value=64), max_size=8))
    def test_splitInvariance(self, data, cuts):
        """
        For any input and any split, C{feed} over the chunks plus C{flush}
        equals C{transform} of the whole.
        """
        points = sorted(min(c, len(data)) for c in cuts)
        chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
        for mode in MODES:
            self.assertEqual(_feedAll(chunks, mode), transform(data, mode))

    @given(_interesting)
    def test_byteAtATime(self, data):
        """
        Feeding one byte at a time gives the whole-message result.
        """
        chunks = [data[i : i + 1] for i in range(len(data))]
        self.assertEqual(_feedAll(chunks, "unicode"), transform(data))


def _referenceChunks(chunks):
    """
    What each chunk of a stream upper-cases to by decoding every chunk (no
    ASCII shortcut), and what the end of the stream gives.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    out = [decoder.decode(c).upper().encode("utf-8", "surrogateescape") for c in chunks]
    return out, decoder.decode(b"", final=True).upper().encode("utf-8", "surrogateescape")


# Streams that are mostly ASCII, with the odd multi-byte or invalid sequence,
# split anywhere (so that a chunk of pure ASCII often follows a chunk that
# ends inside a sequence).
_mostlyASCII = st.lists(
    st.one_of(
        st.binary(max_size=6).map(lambda b: bytes(x & 0x7F for x in b)),
        st.sampled_from(
            [b"\xc3", b"\x9f", b"\xe2\x82", b"\xac", b"\xf0\x9f\x98", b"\xff", b"\xce\x90"]
        ),
    ),
    max_size=10,
)


class FastPathTests(SynchronousTestCase):
    """
    The ASCII shortcut (C{bytes.upper} without decoding) never changes what
    a chunk or a stream upper-cases to.
    """

    @settings(max_examples=300)
    @given(_mostlyASCII)
    def test_sameAsDecodingEachChunk(self, chunks):
        """
        Chunk by chunk, L{Uppercaser.feed} returns what decoding every
        chunk returns, and L{Uppercaser.flush} what the decoder holds back.
        """
        caser = Uppercaser()
        expected, rest = _referenceChunks(chunks)
        self.assertEqual([caser.feed(c) for c in chunks], expected)
        self.assertEqual(caser.flush(), rest)

    @given(st.binary(max_size=200))
    def test_wholeSameAsDecoding(self, data):
        """
        L{transform} of any bytes, ASCII or not, equals decoding them.
        """
        decoded = data.decode("utf-8", "surrogateescape").upper()
        self.assertEqual(transform(data), decoded.encode("utf-8", "surrogateescape"))

    def test_asciiAfterPartialSequence(self):
        """
        A chunk of pure ASCII that follows an incomplete sequence is decoded
        with it: the held-back byte comes out unchanged before it.
        """
        caser = Uppercaser()
        self.assertEqual(caser.feed(b"a\xc3"), b"A")
        self.assertEqual(caser.feed(b"bc"), b"\xc3BC")
        self.assertEqual(caser.feed(b"de"), b"DE")
        self.assertEqual(caser.flush(), b"")

    def test_asciiModeEveryByte(self):
        """
        C{--case ascii} changes exactly C{a-z}, chunk by chunk, for every
        byte value.
        """
        data = bytes(range(256))
        expected = bytes(b - 32 if 97 <= b <= 122 else b for b in data)
        self.assertEqual(transform(data, "ascii"), expected)
        self.assertEqual(_feedAll([data[:100], data[100:]], "ascii"), expected)


class EscapeEncodingTests(SynchronousTestCase):
    """
    Bytes that are not UTF-8 come back unchanged in time linear in their
    number on every interpreter (PyPy's own C{surrogateescape} encoder is
    quadratic in them).
    """

    @given(_interesting)
    def test_runsEncodeAsTheHandler(self, data):
        """
        L{casing._encodeRuns} gives what C{surrogateescape} gives, for any
        bytes decoded and upper-cased.
        """
        text = data.decode("utf-8", "surrogateescape").upper()
        self.assertEqual(casing._encodeRuns(text), text.encode("utf-8", "surrogateescape"))

    def test_manyEscapes(self):
        """
        A long run of undecodable bytes, alone or between letters, comes back
        as it came.
        """
        self.assertEqual(transform(b"\xff" * 65536), b"\xff" * 65536)
        self.assertEqual(casing._encodeRuns("a\udcff" * 4), b"a\xff" * 4)

    def test_pypyEncodesRuns(self):
        """
        On PyPy the transform encodes by runs; elsewhere by the codec's
        handler, which is linear there and faster.
        """
        expected = "_encodeRuns" if platform.python_implementation() == "PyPy" else "_encodeEscaped"
        self.assertEqual(casing._encode.__name__, expected)
