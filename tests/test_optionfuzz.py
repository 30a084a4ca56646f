# -*- test-case-name: tests.test_optionfuzz -*-
"""
Property tests of C{twistd sockservice}'s command line: whatever the words,
parsing gives a working configuration or one line of usage error, never a
traceback.
"""

from __future__ import annotations

from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice.tap import Config, Options

_REPEATABLE = ["tcp", "udp", "time", "chat", "command", "inherit"]
_PARAMETERS = [name[:-1] for name in Options().longOpt if name.endswith("=")]

_numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "0x10", "٣", " 5", "5 ", ""]),
)
_pieces = st.sampled_from(
    [
        "tcp",
        "tcp6",
        "udp",
        "unix",
        "systemd",
        "ssl",
        "haproxy",
        ":",
        "\\:",
        "0",
        "12000",
        "65536",
        "-1",
        "interface=",
        "interface=127.0.0.1",
        "interface=::1",
        "interface=nonsense",
        "backlog=",
        "backlog=5",
        "port=",
        "index=0",
        "name=x",
        "domain=INET",
        "mode=0o600",
        "/tmp/x",
        "=",
        "%",
        "\x00",
        "é",
    ]
)
_descriptions = st.one_of(st.text(max_size=30), st.lists(_pieces, max_size=6).map("".join))
_values = st.one_of(_numbers, _descriptions)


@st.composite
def _argv(draw: st.DrawFn) -> List[str]:
    argv: List[str] = []
    for name in draw(st.lists(st.sampled_from(_PARAMETERS + _REPEATABLE), max_size=5)):
        argv += [f"--{name}", draw(_values)]
    return argv


class OptionFuzzTests(SynchronousTestCase):
    """
    Random command lines against L{Options}.
    """

    @settings(max_examples=300, deadline=None)
    @given(_argv())
    def test_oneLineOrConfig(self, argv: List[str]) -> None:
        """
        Any command line parses to a L{Config} or raises a L{UsageError}
        of one non-empty line.
        """
        options = Options()
        try:
            options.parseOptions(argv)
        except UsageError as e:
            message = str(e)
            self.assertTrue(message)
            self.assertNotIn("\n", message)
        else:
            self.assertIsInstance(options.config, Config)
            server = options.config.server
            for value in (server.idleTimeout, server.udpRate, server.drain):
                self.assertTrue(0 <= value < float("inf"))

    def test_everyNumericOption(self) -> None:
        """Every numeric option refuses NaN and the infinities by name."""
        for name in (
            "idle-timeout",
            "udp-rate",
            "drain",
            "max-connections",
            "max-per-ip",
            "backlog",
            "udp-burst",
            "udp-sources",
            "workers",
            "command-max-runs",
        ):
            for value in ("nan", "inf", "-inf"):
                error = self.assertRaises(UsageError, Options().parseOptions, [f"--{name}", value])
                self.assertIn(f"--{name}", str(error))

    def test_endpointErrorOneLine(self) -> None:
        """Twisted's own error about a description is put on one line."""
        error = self.assertRaises(UsageError, Options().parseOptions, ["--tcp", "\n"])
        self.assertNotIn("\n", str(error))
        self.assertTrue(str(error).startswith("--tcp: invalid endpoint '\\n"))

    def test_unicodeDigits(self) -> None:
        """Digits that are not ASCII (C{"¹"}, which C{str.isdigit} admits) are not a port."""
        for argv in (["--tcp", "¹"], ["--udp", "¹"], ["--time", "٣"], ["--command", "²"]):
            error = self.assertRaises(UsageError, Options().parseOptions, argv)
            self.assertNotIn("\n", str(error))

    def test_udpInterfaceNotAnAddress(self) -> None:
        """A UDP interface that is not an IP address is one usage line, not a traceback at start."""
        error = self.assertRaises(
            UsageError, Options().parseOptions, ["--udp", "udp:0:interface=nonsense"]
        )
        self.assertEqual(
            str(error),
            "--udp: invalid interface 'nonsense' in 'udp:0:interface=nonsense' "
            "(expected an IPv4 or IPv6 address)",
        )

    def test_invalidAddressAtListen(self) -> None:
        """An address Twisted refuses when listening is one line naming the listener."""
        from twisted.internet.error import InvalidAddressError

        from sockservice.server.listeners import ListenFailed

        failed = ListenFailed(
            "UDP x", InvalidAddressError("nonsense", "not an IPv4 or IPv6 address.")
        )
        self.assertEqual(
            str(failed.code),
            "sockservice: cannot listen on UDP x: 'nonsense' is not an IPv4 or IPv6 address",
        )
