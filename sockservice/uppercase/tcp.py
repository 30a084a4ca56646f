# -*- test-case-name: tests.test_tcp -*-
"""
The TCP service: every byte a client sends comes back upper-cased.

No framing: the stream is transformed as soon as it can be decoded, for as
long as the client keeps the connection open.  Many clients are served at
once; a client that half-closes gets everything still due and then the close;
a client that sends without reading is not read from until it drains what it
has been sent.  When the service stops, each connection ends as at a
half-close (see L{sockservice.server.drain}).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional, cast

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IReactorTime,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice._fast.switch import Writer, fastWriter
from sockservice.casing import Uppercaser, checkMode
from sockservice.server.counters import ServiceCounters
from sockservice.server.drain import IDrainable, hasUnreadInput
from sockservice.server.guard import ConnectionGuard
from sockservice.server.interfaces import IStreamTransport

__all__ = ["UppercaseProtocol", "UppercaseFactory"]

#: Reads start at this size and double while they fill it, up to
#: L{READ_SIZE_MAX}: a short request does not pay for a large receive buffer
#: (on PyPy each one counts towards the next garbage collection: under tcp-rr
#: load with 50 connections, 64 KiB reads made 13 times as many minor
#: collections as 4 KiB ones, and 4 KiB reads 2.9 times as many as 1 KiB
#: ones), while a bulk stream soon reads the most at a time.
READ_SIZE_START = 1024

#: The most bytes read at once.  On CPython a bulk stream then costs a
#: quarter of the system calls and event dispatches of Twisted's 64 KiB
#: (asyncio+uvloop reads 256 KiB too).  Larger reads cost more CPU time per
#: byte (512 KiB: 1.5 times as much): glibc then returns its heap to the
#: system and takes it back for every read, faulting each page in again
#: (bench/README.md, "What a stream costs").  On PyPy 256 KiB reads made
#: tcp-stream slower (a third more server CPU time per byte): it keeps
#: Twisted's 64 KiB.  The read size is also the transport's
#: C{bufferSize}, the write buffer's high-water mark (backpressure): a
#: connection buffers at most that much plus one reply before it stops
#: reading.
READ_SIZE_MAX = 65536 if sys.implementation.name == "pypy" else 262144


@implementer(IHalfCloseableProtocol, IDrainable)
class UppercaseProtocol(Protocol):
    """
    Upper-case one TCP connection's byte stream back to its sender.

    @ivar factory: the L{UppercaseFactory} that built this protocol.
    @ivar peer: the client's host, as counted by the factory.
    @ivar quietSweeps: idle sweeps since the last input (see
        L{sockservice.server.idle}).
    """

    factory: UppercaseFactory
    transport: IStreamTransport
    peer = ""
    quietSweeps = 0
    _readSize = READ_SIZE_MAX
    _aborted = False
    _stopping = False
    #: The incremental transform, made at the first chunk that is not
    #: ASCII: until then nothing is held back and a chunk's transform is
    #: C{bytes.upper} in either mode (most connections never need one).
    _caser: Optional[Uppercaser] = None
    #: Given by the fast accept path before L{connectionMade}
    #: (L{sockservice._fast.accepting}), with the transport registered as
    #: its own producer already, which its C{loseConnection} unregisters;
    #: otherwise made there.
    immediateWriter: Optional[Writer] = None

    def connectionMade(self) -> None:
        self.factory.guard.made(self, self.transport)
        self._counters = self.factory.counters
        # Read on every chunk: as an instance attribute CPython 3.11 finds it
        # without a look-up through the class.
        self._caser = None
        transport: Any = self.transport
        if getattr(transport, "bufferSize", None) == FileDescriptor.bufferSize:
            # A transport that reads its socket itself (a FileDescriptor:
            # TCP, UNIX), whose read size is not part of any interface.
            self._readSize = transport.bufferSize = READ_SIZE_START
        given = self.immediateWriter
        if given is not None:
            self._out = given
        else:
            self._out = fastWriter(self.transport)
            # Backpressure: the transport produces what it reads and consumes
            # what we write.  Registered as its own producer, it stops reading
            # while its write buffer is full and resumes once that buffer has
            # drained.
            self.transport.registerProducer(self.transport, True)
        if not self.factory.acceptedNoDelay:
            try:
                # Echo traffic is small writes answered at once: Nagle's
                # algorithm with the peer's delayed ACK would stall it by up
                # to 40 ms.
                self.transport.setTcpNoDelay(True)
            except (AttributeError, OSError):
                pass  # not TCP (a UNIX socket, a test transport)

    def dataReceived(self, data: bytes) -> None:
        self.quietSweeps = 0
        size = len(data)
        if size == self._readSize < READ_SIZE_MAX:
            # Only a FileDescriptor's reads start small (connectionMade).
            self._readSize = _reader(self.transport).bufferSize = size * 2
        counters = self._counters
        counters.received += 1
        counters.receivedBytes += size
        caser = self._caser
        if caser is None:
            if data.isascii():
                # The common case: the reply is as long as the request.
                if size:
                    counters.answered += 1
                    counters.sentBytes += size
                self._out.write(data.upper())
                return
            caser = self._caser = Uppercaser(self.factory.mode)
        reply = caser.feed(data)
        if reply:
            counters.answered += 1
            counters.sentBytes += len(reply)
        self._out.write(reply)

    def readConnectionLost(self) -> None:
        """
        The client will send no more: send what is still due, then close.
        """
        caser = self._caser
        if caser is not None:
            rest = caser.flush()
            if rest:
                self._counters.sentBytes += len(rest)
                self._out.write(rest)
        if self.immediateWriter is None:
            self.transport.unregisterProducer()
        self._out.loseConnection()

    def closeGracefully(self) -> None:
        """
        The service is stopping: every byte read has been answered; send what
        is held back, as at the end of the stream, read nothing more, and
        shut down the sending side once the replies are written.
        """
        if self.transport.disconnecting or self._aborted or self._stopping:
            return
        self._stopping = True
        caser = self._caser
        rest = b"" if caser is None else caser.flush()
        if rest:
            self._counters.sentBytes += len(rest)
            self.transport.write(rest)
        self.transport.unregisterProducer()
        loseWriteConnection = getattr(self.transport, "loseWriteConnection", None)
        if loseWriteConnection is None:
            self.transport.loseConnection()
            return
        self.transport.pauseProducing()
        # Input that arrives from now on is discarded, not answered: swapped
        # per instance rather than a test on every read (the hot path).
        self.dataReceived = self._discard  # type: ignore[method-assign]
        loseWriteConnection()

    def _discard(self, data: bytes) -> None:
        pass

    def writeConnectionLost(self) -> None:
        """
        The sending side is shut down.  Close, unless the service is stopping
        and the client has sent more than was read: closing would then reset
        the connection and lose replies on their way, so read and discard
        until the client closes (the drain period bounds the wait).
        """
        if self._stopping and hasUnreadInput(self.transport):
            self.transport.resumeProducing()
        else:
            self.transport.loseConnection()

    def timeoutConnection(self) -> None:
        """
        Idle for too long: drop the connection, without waiting for a client
        that may not be reading.
        """
        self._aborted = True
        self.factory.guard.timedOut(self.transport, self.peer)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        factory = self.factory
        factory.guard.lost(self.transport, self.peer, reason, self._aborted, factory.counters)


def _reader(transport: IStreamTransport) -> FileDescriptor:
    """
    C{transport} as the L{FileDescriptor} it is where it has a C{bufferSize}
    (the number of bytes it asks its socket for at once).
    """
    return cast(FileDescriptor, transport)


if TYPE_CHECKING:
    _Factory = Factory[UppercaseProtocol]
else:  # Factory is generic only in recent Twisted releases
    _Factory = Factory


class UppercaseFactory(_Factory):
    """
    Build L{UppercaseProtocol}s, under the process's connection caps.

    @ivar guard: the caps, idle sweep and open connections, shared with the
        process's other TCP services.
    @ivar acceptedNoDelay: whether every connection arrives with
        C{TCP_NODELAY} already set, copied from its listening socket (set by
        L{sockservice.server.listeners.TCPListener}); otherwise each sets it itself.
    @ivar counters: what its connections count.
    """

    protocol = UppercaseProtocol
    noisy = False
    acceptedNoDelay = False

    def __init__(
        self,
        mode: str = "unicode",
        idleTimeout: float = 300.0,
        maxConnections: int = 10000,
        maxPerAddress: int = 100,
        limitLoopback: bool = False,
        reactor: Optional[IReactorTime] = None,
        guard: Optional[ConnectionGuard] = None,
    ) -> None:
        """
        @param mode: the casing mode (see L{sockservice.casing}).
        @param guard: the process's L{ConnectionGuard}; by default one of
            this factory's own, made of the other arguments (see there).
        @param reactor: the reactor whose clock times out idle connections.
        """
        if guard is None:
            if reactor is None:
                from twisted.internet import reactor as _reactor

                reactor = _reactor
            guard = ConnectionGuard(
                reactor, idleTimeout, maxConnections, maxPerAddress, limitLoopback
            )
        # Checked here: a connection's transform is made only when needed.
        self.mode = checkMode(mode)
        self.guard = guard
        self.counters = ServiceCounters()

    def buildProtocol(self, addr: Optional[IAddress]) -> Optional[UppercaseProtocol]:
        """
        Build a protocol for a new connection from C{addr}, or refuse it
        (return L{None}: Twisted then closes it) when a cap is reached.
        """
        peer = self.guard.admit(addr, "", self.counters)
        if peer is None:
            return None
        protocol = self.protocol()
        protocol.factory = self
        protocol.peer = peer
        return protocol
