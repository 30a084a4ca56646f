# -*- test-case-name: tests.test_udpclient -*-
"""
The UDP client: one datagram out, one datagram back from the server.

L{DatagramClientProtocol} sends one request at a time to one address,
accepts replies only from that address, and resends on a timeout.
L{DatagramClient} resolves the host (with
L{sockservice.client.resolve.hostAddress}), owns the port, and answers
requests one after another. L{openPort} and L{closePort} open and close a
client's port, for it and for the chat subcommand.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Any, Deque, Optional, Tuple, Union

from twisted.internet.abstract import isIPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockservice.client.errors import ClientError, ConnectionClosed, NoReply
from sockservice.client.resolve import hostAddress
from sockservice.peer import formatPeer

__all__ = ["DatagramClient", "DatagramClientProtocol", "MAX_DATAGRAM", "closePort", "openPort"]

MAX_DATAGRAM = 65507
"""
The largest UDP payload over IPv4, and the largest request sent.
"""


def openPort(reactor: Any, address: str, protocol: DatagramProtocol) -> IListeningPort:
    """
    Listen on a free port, of the family of the server's address, for the
    replies from it.

    @param reactor: Provides C{listenUDP}.
    @param address: The server's IP address.
    @param protocol: Gets the replies.
    @return: The port.
    """
    interface = "::" if isIPv6Address(address) else ""
    port: IListeningPort = reactor.listenUDP(0, protocol, interface=interface, maxPacketSize=65535)
    return port


async def closePort(listening: IListeningPort) -> None:
    """
    Stop a port from L{openPort}; return once it is closed.
    """
    stopping = listening.stopListening()
    if stopping is not None:
        await stopping


def _sameAddress(one: Tuple[str, int], other: Tuple[str, int]) -> bool:
    """
    Whether two C{(host, port)} pairs name the same IP address and port.
    """
    if one[1] != other[1]:
        return False
    try:
        return ipaddress.ip_address(one[0]) == ipaddress.ip_address(other[0])
    except ValueError:
        return one[0] == other[0]


class DatagramClientProtocol(DatagramProtocol):
    """
    One request at a time to one server address, resent on a timeout.

    Datagrams from any other address are ignored, and so are replies that
    arrive when no request waits (late duplicates after a resend).

    @ivar tries: How many times the current (or last) request was sent.
    @ivar resent: Whether any request on this port was sent more than once,
        so that a late reply could still arrive for it.
    """

    _log = Logger()

    def __init__(
        self, server: Tuple[str, int], clock: IReactorTime, timeout: float, retries: int
    ) -> None:
        """
        @param server: The server's C{(ip, port)}.
        @param clock: Schedules timeouts.
        @param timeout: Seconds to wait for a reply before resending.
        @param retries: How many times to resend before giving up.
        """
        self.tries = 0
        self.resent = False
        self._server = server
        self._peer = formatPeer(*server)
        self._clock = clock
        self._timeout = timeout
        self._retries = retries
        self._waiting: Optional[Deferred[bytes]] = None
        self._payload = b""
        self._timer: Optional[IDelayedCall] = None

    def request(self, payload: bytes) -> Deferred[bytes]:
        """
        Send one request.

        @param payload: The datagram to send.
        @return: Fires with the reply payload, or fails with a L{ClientError}.
        """
        if self._waiting is not None:
            raise RuntimeError("one request at a time")
        self._waiting = Deferred()
        self._payload = payload
        self.tries = 0
        self._send()
        return self._waiting

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """
        Take a reply from the server; ignore anybody else.
        """
        if not _sameAddress(addr, self._server):
            self._log.info(
                "ignoring a datagram from {stranger}, not {peer}",
                stranger=addr,
                peer=self._peer,
                event="client_stranger_datagram",
            )
            return
        if self._waiting is not None:
            self._finish().callback(datagram)

    def stopProtocol(self) -> None:
        """
        The port is closed: a waiting request gets no reply.
        """
        if self._waiting is not None:
            self._finish().errback(ConnectionClosed(f"stopped waiting for {self._peer}"))

    def _send(self) -> None:
        assert self.transport is not None
        self.tries += 1
        self.transport.write(self._payload, self._server)
        self._timer = self._clock.callLater(self._timeout, self._timedOut)

    def _timedOut(self) -> None:
        self._timer = None
        if self.tries <= self._retries:
            self.resent = True
            self._send()
            return
        tries = f"{self.tries} tries" if self.tries > 1 else "1 try"
        self._finish().errback(NoReply(f"no reply from {self._peer} after {tries}"))

    def _finish(self) -> Deferred[bytes]:
        waiting, self._waiting = self._waiting, None
        assert waiting is not None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        return waiting


class DatagramClient:
    """
    Requests over UDP to one host and port, answered one after another.

    A host name is resolved once, to its first IPv4 address if it has one
    (UDP cannot tell a closed port from a slow server, so there is no falling
    back from one address to the next). After a request was resent, the next
    request goes out from a fresh port, so that a late reply to the old one
    cannot be taken for the new one's.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 1.0,
        retries: int = 2,
    ) -> None:
        """
        @param reactor: Provides C{listenUDP}, C{callLater} and
            C{nameResolver}.
        @param host: A host name or an IPv4 or IPv6 address.
        @param port: The server's UDP port.
        @param timeout: Seconds to wait for each reply before resending.
        @param retries: How many times to resend before giving up.
        """
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = timeout
        self._retries = retries
        self._queue: Deque[Tuple[bytes, Deferred[bytes]]] = deque()
        self._busy = False
        self._address: Optional[str] = None
        self._listening: Optional[IListeningPort] = None
        self._protocol: Optional[DatagramClientProtocol] = None

    def request(self, payload: bytes) -> Deferred[bytes]:
        """
        Send one request, after any earlier one is answered.

        @param payload: The datagram to send.
        @return: Fires with the reply payload, or fails with a L{ClientError}.
        """
        result: Deferred[bytes] = Deferred()
        self._queue.append((payload, result))
        self._next()
        return result

    def close(self) -> Deferred[None]:
        """
        Close the port; requests not yet answered fail.

        @return: Fires once the port is closed.
        """
        queued, self._queue = self._queue, deque()
        for _, result in queued:
            result.errback(
                ConnectionClosed(f"stopped waiting for {formatPeer(self._host, self._port)}")
            )
        return Deferred.fromCoroutine(self._closePort())

    def _next(self) -> None:
        """
        Start the next request, unless one is under way.
        """
        if self._busy or not self._queue:
            return
        self._busy = True
        payload, result = self._queue.popleft()
        exchange = Deferred.fromCoroutine(self._exchange(payload))
        exchange.addBoth(self._done, result)

    def _done(self, outcome: Union[bytes, Failure], result: Deferred[bytes]) -> None:
        self._busy = False
        if isinstance(outcome, Failure):
            result.errback(outcome)
        else:
            result.callback(outcome)
        self._next()

    async def _exchange(self, payload: bytes) -> bytes:
        if len(payload) > MAX_DATAGRAM:
            raise ClientError(
                f"a request of {len(payload)} bytes does not fit in a UDP datagram "
                f"(at most {MAX_DATAGRAM})"
            )
        protocol = self._openPort(await self._resolve())
        try:
            return await protocol.request(payload)
        finally:
            if protocol.resent:
                await self._closePort()

    async def _resolve(self) -> str:
        if self._address is None:
            self._address = await hostAddress(self._reactor, self._host, self._port)
        return self._address

    def _openPort(self, address: str) -> DatagramClientProtocol:
        if self._protocol is None:
            protocol = DatagramClientProtocol(
                (address, self._port), self._reactor, self._timeout, self._retries
            )
            self._listening = openPort(self._reactor, address, protocol)
            self._protocol = protocol
        return self._protocol

    async def _closePort(self) -> None:
        listening, self._listening = self._listening, None
        self._protocol = None
        if listening is not None:
            await closePort(listening)
