# -*- test-case-name: tests.integration.test_deploy -*-
"""
The socket-activated unit's C{twistd sockservice} arguments parse when given
real (unbound) sockets as systemd would pass them.
"""

from __future__ import annotations

import socket

from twisted.internet import endpoints
from twisted.python.systemd import ListenFDs
from twisted.trial.unittest import TestCase

from sockservice.server.systemd import InheritedSocket
from sockservice.tap import Options
from tests.test_deploy import SERVICE, sockserviceArguments


class CommandLineTests(TestCase):
    """
    The units' C{twistd sockservice} arguments are valid options.
    """

    def test_socketActivated(self) -> None:
        """
        The socket-activated service's arguments parse when systemd has
        passed what C{sockservice.socket} describes: a stream socket, then a
        datagram socket.
        """
        stream = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        datagram = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.addCleanup(stream.close)
        self.addCleanup(datagram.close)
        fds = [stream.fileno(), datagram.fileno()]
        names = ("sockservice.socket",) * 2
        self.patch(endpoints._SystemdParser, "_sddaemon", ListenFDs(fds, names))
        options = Options()
        options.parseOptions(sockserviceArguments(SERVICE))
        self.assertEqual(
            [a for _, a in options.config.uppercase.udp], [InheritedSocket(fds[1], socket.AF_INET6)]
        )
        self.assertEqual(options.config.server.drain, 5.0)

    def test_socketActivatedMetrics(self) -> None:
        """
        With its opt-in metrics lines, the socket-activated service's
        arguments parse when systemd has also passed the socket unit's third
        socket, an IPv4 stream socket, for C{--metrics}.
        """
        sockets = [
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM),
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),
            socket.socket(socket.AF_INET, socket.SOCK_STREAM),
        ]
        for s in sockets:
            self.addCleanup(s.close)
        fds = [s.fileno() for s in sockets]
        self.patch(
            endpoints._SystemdParser, "_sddaemon", ListenFDs(fds, ("sockservice.socket",) * 3)
        )
        options = Options()
        options.parseOptions(sockserviceArguments(SERVICE, metrics=True))
        self.assertEqual(options["metrics"], "systemd:domain=INET:index=2")
