# -*- test-case-name: tests.test_peer -*-
"""
Tests for L{sockservice.peer}: how a peer is written.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.trial.unittest import SynchronousTestCase

from sockservice.peer import describePeer, formatPeer


class PeerTests(SynchronousTestCase):
    """
    A peer reads as C{host:port}, with IPv6 addresses in brackets.
    """

    def test_formatPeer(self) -> None:
        """IPv6 addresses are bracketed; names and IPv4 addresses are not."""
        self.assertEqual(formatPeer("192.0.2.1", 80), "192.0.2.1:80")
        self.assertEqual(formatPeer("fe80::1%eth0", 80), "[fe80::1%eth0]:80")

    def test_describePeer(self) -> None:
        """An IP address reads as L{formatPeer} says; a UNIX socket as Twisted shows it."""
        self.assertEqual(describePeer(IPv4Address("TCP", "127.0.0.1", 5)), "127.0.0.1:5")
        self.assertEqual(describePeer(IPv6Address("TCP", "::1", 5)), "[::1]:5")
        unix = UNIXAddress(b"/run/x.sock")
        self.assertEqual(describePeer(unix), str(unix))
