# -*- test-case-name: tests.test_selftest, tests.integration.test_datagrams -*-
"""
Read UDP datagrams with less work per datagram.

Twisted's C{udp.Port.doRead} reads datagrams in a loop until the socket is
empty or C{maxThroughput} bytes were read, and for each one looks up again
the socket, the packet size, the budget, the address family (compared
with C{socket.AF_INET6}) and the protocol's C{datagramReceived}.
L{ReadingDatagramPort} is Twisted's port whose C{doRead} is that loop with
those looked up once per call, and warmed up at import (L{WARM_CALLS}) so
that CPython specializes the loop: the same reads, the same byte budget, the
same address trimming, the same handling of errors (its private
C{_sockErrReadIgnore}, C{_sockErrReadRefuse} and C{_connectedAddr}) and of
a protocol that raises (logged, and the loop goes on).  The reactor adopts
a socket into one with Twisted's private C{udp.Port._fromListeningDescriptor}.

Only L{sockservice._fast.reactor}'s reactor makes these ports (its
C{listenUDP} and C{adoptDatagramPort}), and only where
L{sockservice._fast.switch} found them behaving (L{checkDatagrams}).
"""

from __future__ import annotations

import errno
import socket
from socket import AF_INET6
from typing import Any, List, Tuple

from twisted.internet import udp
from twisted.internet.protocol import DatagramProtocol
from twisted.python import log

from sockservice._fast.checks import require

__all__ = ["ReadingDatagramPort", "checkDatagrams"]

#: How many calls warm L{ReadingDatagramPort.doRead} up: CPython 3.11
#: specializes a function's bytecode only from its eighth call on (the turns
#: of a loop do not count), and a busy port's C{doRead} is called seldom, one
#: call reading for as long as datagrams keep coming; unspecialized, its loop
#: cost about 1,000 more instructions per datagram (callgrind, udp-rr).
WARM_CALLS = 10

#: Twisted's errors of C{recvfrom} that end a read quietly, and those that
#: mean an earlier datagram was refused.
_IGNORE: Any = getattr(udp, "_sockErrReadIgnore", None)
_REFUSE: Any = getattr(udp, "_sockErrReadRefuse", None)


class ReadingDatagramPort(udp.Port):
    """
    Twisted's UDP port, reading with L{doRead}.
    """

    def doRead(self) -> None:
        """
        Read and hand over datagrams until the socket is empty or
        C{maxThroughput} bytes were read, as C{udp.Port.doRead} does.
        """
        protocol = self.protocol
        received = protocol.datagramReceived
        # A method call, not a bound method kept in a local: CPython 3.11
        # calls a bound built-in through its slower generic path.
        sock = self.socket
        size, limit = self.maxPacketSize, self.maxThroughput
        trim = self.addressFamily == AF_INET6
        read = 0
        while read < limit:
            try:
                data, addr = sock.recvfrom(size)
            except OSError as e:
                no = e.args[0]
                if no in _IGNORE:
                    return
                if no in _REFUSE:
                    if self._connectedAddr:
                        protocol.connectionRefused()
                    return
                raise
            read += len(data)
            if trim:
                addr = addr[:2]  # as Twisted: no flow information or scope
            try:
                received(data, addr)
            except BaseException:
                log.err()


class _Recorder(DatagramProtocol):
    noisy = False

    def __init__(self) -> None:
        self.got: List[Tuple[bytes, Any]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.got.append((datagram, addr))


class _Readers:
    """
    The part of a reactor a port calls as it starts and stops: nothing is
    watched.
    """

    def addReader(self, reader: Any) -> None:
        pass

    def removeReader(self, reader: Any) -> None:
        pass

    def removeWriter(self, writer: Any) -> None:
        pass


def _reads(port: udp.Port, protocol: _Recorder, sender: socket.socket, doRead: Any) -> List[Any]:
    """
    What two calls of C{doRead} on C{port} hand C{protocol}, three
    datagrams from C{sender} waiting, and a budget of five bytes.
    """
    port.maxThroughput = 5
    for datagram in (b"ab", b"cde", b"f"):
        sender.sendto(datagram, port.socket.getsockname())
    calls = []
    for _ in range(2):
        protocol.got = []
        doRead(port)
        calls.append(protocol.got)
    return calls


def checkDatagrams() -> None:
    """
    Read the same datagrams with L{ReadingDatagramPort.doRead} and with
    Twisted's on a loopback UDP port, with a byte budget that stops the
    first read half way, then call it L{WARM_CALLS} times; do nothing where
    there is no loopback to bind to.

    @raise InternalsChanged: where they differ.
    """
    require(
        isinstance(_IGNORE, (set, frozenset, list, tuple))
        and errno.EAGAIN in _IGNORE
        and isinstance(_REFUSE, (set, frozenset, list, tuple))
        and errno.ECONNREFUSED in _REFUSE,
        "twisted.internet.udp's _sockErrReadIgnore or _sockErrReadRefuse is gone",
    )
    protocol = _Recorder()
    port = ReadingDatagramPort(0, protocol, "127.0.0.1", 100, _Readers())
    require(
        getattr(port, "_connectedAddr", 0) is None
        and callable(getattr(ReadingDatagramPort, "_fromListeningDescriptor", None)),
        "udp.Port._connectedAddr or udp.Port._fromListeningDescriptor is gone",
    )
    try:
        port.startListening()
    except Exception:
        return  # no loopback here: nothing to compare on
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.bind(("127.0.0.1", 0))
        fast = _reads(port, protocol, sender, ReadingDatagramPort.doRead)
        slow = _reads(port, protocol, sender, udp.Port.doRead)
        address = sender.getsockname()
        require(
            fast == slow == [[(b"ab", address), (b"cde", address)], [(b"f", address)]],
            "udp.Port.doRead reads otherwise than ReadingDatagramPort.doRead",
        )
        for _ in range(WARM_CALLS):
            port.doRead()  # nothing waiting: each call returns at once
    finally:
        sender.close()
        port.connectionLost()
