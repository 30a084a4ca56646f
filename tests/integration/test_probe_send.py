# -*- test-case-name: tests.integration.test_probe_send -*-
"""
The probe's TCP requests leave at once: on a real loopback connection, a
request is in the server's socket when C{send} returns, before the reactor
turns again, and the connection has C{TCP_NODELAY}.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial.unittest import TestCase

from sockservice.probe.transports import ProbeLineProtocol


class ImmediateSendTests(TestCase):
    """
    L{ProbeLineProtocol.send} on a real connection.
    """

    async def test_sentAtOnce(self) -> None:
        """
        Each request is on the wire when C{send} returns (a blocking read
        gets it while the reactor waits for this test), newline-framed, in
        order; the connection does not wait to fill segments (Nagle off).
        """
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        protocol = ProbeLineProtocol(lambda reply: None, 128)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", listener.getsockname()[1])
        await connectProtocol(endpoint, protocol)
        server, _ = listener.accept()
        self.addCleanup(server.close)
        server.settimeout(2.0)
        gone: Deferred[None] = Deferred()
        protocol.onLost = lambda reason: gone.callback(None)
        transport: Any = protocol.transport
        try:
            self.assertEqual(
                transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1
            )
            received = b""
            for request in (b"first", b"second"):
                protocol.send(request)
                while not received.endswith(request + b"\n"):
                    received += server.recv(100)
            self.assertEqual(received, b"first\nsecond\n")
        except BaseException:
            transport.abortConnection()
            await gone
            raise
        transport.loseConnection()
        await gone

    def test_notConnected(self) -> None:
        """
        Before a connection, there is nothing to send through.
        """
        protocol = ProbeLineProtocol(lambda reply: None, 128)
        self.assertRaises(AssertionError, protocol.send, b"early")
