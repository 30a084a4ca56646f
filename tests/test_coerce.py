# -*- test-case-name: tests.test_coerce -*-
"""
Tests for L{sockservice.coerce}.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.coerce import fileName, number, port, whole


class NumberTests(TestCase):
    def test_accepts(self) -> None:
        """A finite number within the range is returned as a float."""
        self.assertEqual(number("--drain")("2.5"), 2.5)
        self.assertEqual(number("--drain")("0"), 0.0)

    def test_refusesNonFinite(self) -> None:
        """NaN and the infinities are refused with a line naming the option."""
        for text in ("nan", "inf", "-inf", "NaN", "infinity", "1e999"):
            e = self.assertRaises(UsageError, number("--idle-timeout"), text)
            self.assertEqual(
                str(e), f"--idle-timeout: expected a non-negative number, got {text!r}"
            )

    def test_range(self) -> None:
        """Values below C{low} (or at it, when open) or above C{high} are refused."""
        self.assertRaises(UsageError, number("--x"), "-1")
        self.assertRaises(UsageError, number("--x", lowOpen=True), "0")
        self.assertRaises(UsageError, number("--x", high=10), "10.5")
        self.assertEqual(number("--x", high=10)("10"), 10.0)

    @given(st.text())
    def test_anyText(self, text: str) -> None:
        """Any text gives a finite non-negative float or a UsageError, nothing else."""
        try:
            value = number("--x")(text)
        except UsageError as e:
            self.assertIn("--x", str(e))
        else:
            self.assertTrue(0 <= value < float("inf"))


class WholeTests(TestCase):
    def test_accepts(self) -> None:
        """Decimal digits within the range give an int."""
        self.assertEqual(whole("--workers", 1)("4"), 4)

    def test_refuses(self) -> None:
        """Signs, fractions, non-ASCII digits and out-of-range values are refused."""
        for text in ("-1", "1.5", "", "٣", "x", "0"):
            self.assertRaises(UsageError, whole("--workers", 1), text)
        self.assertRaises(UsageError, whole("--n", 0, 9), "10")


class PortTests(TestCase):
    def test_message(self) -> None:
        """A bad port names the option and the range."""
        e = self.assertRaises(UsageError, port("--port"), "0")
        self.assertEqual(str(e), "--port must be a number from 1 to 65535, not '0'")
        self.assertEqual(port("--port", 0)("0"), 0)
        self.assertEqual(port("--port")("65535"), 65535)


class FileNameTests(TestCase):
    def test_nul(self) -> None:
        """A name with a NUL byte is refused, naming the option; any other is kept."""
        e = self.assertRaises(UsageError, fileName("--plot"), "a\x00b")
        self.assertEqual(str(e), "--plot: not a file name: 'a\\x00b'")
        self.assertEqual(fileName("--plot")("dir/x y.svg"), "dir/x y.svg")
