# -*- test-case-name: tests.test_tcp -*-
"""
The TCP service: every byte a client sends comes back upper-cased.

No framing: the stream is transformed as soon as it can be decoded, for as
long as the client keeps the connection open.  Many clients are served at
once; a client that half-closes gets everything still due and then the close;
a client that sends without reading is not read from until it drains what it
has been sent.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IReactorTime,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.casing import Uppercaser
from sockservice.server.drain import OpenConnections
from sockservice.server.idle import IdleSweep
from sockservice.server.limits import ConnectionCounter, isLoopback
from sockservice._fast.switch import fastWriter

__all__ = ["UppercaseProtocol", "UppercaseFactory"]

#: Reads start at this size and double, up to Twisted's 64 KiB, while they
#: fill it: a short request does not pay for a large receive buffer (on
#: PyPy each one counts towards the next garbage collection: under tcp-rr
#: load with 50 connections, 64 KiB reads made 13 times as many minor
#: collections as 4 KiB ones, and 4 KiB reads 2.9 times as many as 1 KiB
#: ones), while a bulk stream reads 64 KiB at a time after six reads.
READ_SIZE_START = 1024
READ_SIZE_MAX = 65536


@implementer(IHalfCloseableProtocol)
class UppercaseProtocol(Protocol):
    """
    Upper-case one TCP connection's byte stream back to its sender.

    @ivar factory: the L{UppercaseFactory} that built this protocol.
    @ivar peer: the client's host, as counted by the factory.
    @ivar quietSweeps: idle sweeps since the last input (see
        L{sockservice.server.idle}).
    """

    factory: UppercaseFactory
    peer = ""
    quietSweeps = 0
    _readSize = READ_SIZE_MAX

    def connectionMade(self) -> None:
        self.factory.openConnections.opened(self.transport)
        if getattr(self.transport, "bufferSize", None) == READ_SIZE_MAX:
            self._readSize = self.transport.bufferSize = READ_SIZE_START
        self._caser = Uppercaser(self.factory.mode)
        self._out = fastWriter(self.transport)
        if not self.factory.acceptedNoDelay:
            try:
                # Echo traffic is small writes answered at once: Nagle's
                # algorithm with the peer's delayed ACK would stall it by up
                # to 40 ms.
                self.transport.setTcpNoDelay(True)
            except (AttributeError, OSError):
                pass  # not TCP (a UNIX socket, a test transport)
        if self.factory.idle is not None:
            self.factory.idle.watch(self)
        # Backpressure: the transport produces what it reads and consumes what
        # we write.  Registered as its own producer, it stops reading while its
        # write buffer is full and resumes once that buffer has drained.
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:
        self.quietSweeps = 0
        if len(data) == self._readSize < READ_SIZE_MAX:
            self._readSize = self.transport.bufferSize = self._readSize * 2
        self._out.write(self._caser.feed(data))

    def readConnectionLost(self) -> None:
        """
        The client will send no more: send what is still due, then close.
        """
        rest = self._caser.flush()
        if rest:
            self._out.write(rest)
        self.transport.unregisterProducer()
        self._out.loseConnection()

    def writeConnectionLost(self) -> None:
        self.transport.loseConnection()

    def timeoutConnection(self) -> None:
        """
        Idle for too long: drop the connection, without waiting for a client
        that may not be reading.
        """
        self.factory.log.info(
            "closing connection from {peer}: idle for {timeout} s",
            peer=self.peer,
            timeout=self.factory.idleTimeout,
        )
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self.factory.idle is not None:
            self.factory.idle.forget(self)
        self.factory.connections.closed(self.peer)
        self.factory.openConnections.closed(self.transport)


class UppercaseFactory(Factory):
    """
    Build L{UppercaseProtocol}s, enforcing the connection caps.

    @ivar connections: the open connections, counted against the caps.
    @ivar openConnections: their transports, for a graceful stop.
    @ivar idle: the sweep that closes idle connections (L{None}: never).
    @ivar acceptedNoDelay: whether every connection arrives with
        C{TCP_NODELAY} already set, copied from its listening socket (set by
        L{sockservice.server.listeners.TCPListener}); otherwise each sets it itself.
    """

    protocol = UppercaseProtocol
    noisy = False
    log = Logger()
    acceptedNoDelay = False

    def __init__(
        self,
        mode: str = "unicode",
        idleTimeout: float = 300.0,
        maxConnections: int = 10000,
        maxPerAddress: int = 100,
        limitLoopback: bool = False,
        reactor: Optional[IReactorTime] = None,
    ) -> None:
        """
        @param mode: the casing mode (see L{sockservice.casing}).
        @param idleTimeout: seconds without input before a connection is
            closed (up to a second later: see L{sockservice.server.idle}); 0
            disables.
        @param maxConnections: cap on open connections; 0 disables.
        @param maxPerAddress: cap on open connections from one IP address;
            0 disables.
        @param limitLoopback: apply the per-address cap to loopback clients
            too (by default they are exempt, for local tests and benchmarks).
        @param reactor: the reactor whose clock times out idle connections.
        """
        if reactor is None:
            from twisted.internet import reactor as _reactor

            reactor = _reactor  # type: ignore[assignment]
        self.mode = mode
        self.idleTimeout = idleTimeout
        self.limitLoopback = limitLoopback
        self.reactor = reactor
        self.connections = ConnectionCounter(maxConnections, maxPerAddress)
        self.openConnections = OpenConnections()
        self.idle = IdleSweep(idleTimeout, reactor) if idleTimeout else None

    def buildProtocol(self, addr: IAddress) -> Optional[Protocol]:
        """
        Build a protocol for a new connection from C{addr}, or refuse it
        (return L{None}: Twisted then closes it) when a cap is reached.
        """
        host = getattr(addr, "host", None)
        exempt = host is None or (not self.limitLoopback and isLoopback(host))
        peer = host or str(addr)
        refusal = self.connections.refusal(peer, exempt=exempt)
        if refusal is not None:
            self.log.warn(
                "refused connection from {peer}: {cap} connection cap reached",
                peer=peer,
                cap=refusal,
            )
            return None
        protocol = self.protocol()
        protocol.factory = self
        protocol.peer = peer
        return protocol
