"""Tests with real sockets on loopback (port 0)."""
