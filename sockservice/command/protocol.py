# -*- test-case-name: tests.test_command -*-
"""
The command service: run allow-listed commands for TCP clients, safely.

The textbook program runs C{Popen(request, shell=True)} on whatever arrives
and sends back up to 1024 bytes at a time, so long outputs spill into the
next reply (the "sticky packet" problem). Here:

  - every request and reply is one netstring, whose payload is itself a
    sequence of netstrings (L{sockservice.command.netstrings}), so output of any size and any
    bytes never mixes with the next reply;
  - only names in the L{AllowList} run, as their fixed argv through
    C{reactor.spawnProcess} (no shell, the reactor never blocks), with a
    timeout, an output cap, and a limit on concurrent runs;
  - clients that are not on loopback are refused unless a token is set, and
    then every connection must present it first (compared in constant time).

Requests: C{[b"run", name, arg...]} or C{[b"auth", token]}. Replies:
C{[status, stdout, stderr]} where status is C{exit N}, C{signal N} (either
followed by C{ timeout} and/or C{ truncated} when the service killed the
process), C{refused REASON} (nothing ran), or C{ok} (after C{auth}).

This module holds the protocol, one per connection; the factory that they
share (the allow-list, the token, the runs) is L{sockservice.command.factory}.
"""

from __future__ import annotations

import hmac
from collections import deque
from typing import TYPE_CHECKING, Deque, List, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.protocols.basic import NetstringReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.command.allowlist import Refused
from sockservice.command.netstrings import decodeFields, encodeFields
from sockservice.peer import describePeer
from sockservice.server.drain import IDrainable
from sockservice.server.interfaces import IStreamTransport

__all__ = ["CommandProtocol"]

if TYPE_CHECKING:
    from sockservice.command.factory import CommandFactory


@implementer(IPushProducer, IDrainable)
class CommandProtocol(NetstringReceiver):
    """
    One client connection: requests are handled one at a time, in order;
    while one runs, or while the transport's write buffer is full (the
    client is not reading its replies), the connection is not read from and
    no queued request starts.  So a connection holds at most about the
    transport's buffer plus one reply.

    The protocol is its transport's streaming producer (the requests it
    reads produce the replies it writes): the transport calls
    L{pauseProducing} when its buffer fills and L{resumeProducing} once it
    has drained.
    """

    MAX_LENGTH = 4096
    maxPending = 8
    log = Logger()
    factory: CommandFactory
    transport: IStreamTransport

    def connectionMade(self) -> None:
        """
        Nothing is allowed before C{auth} when the service has a token.
        """
        self.authenticated = self.factory.token is None
        self.peer = describePeer(self.transport.getPeer())
        self._pending: Deque[bytes] = deque()
        self._busy = False
        self._lost = False
        self._writePaused = False
        self._producing = True
        self._registered = True
        self._stopping = False
        self.transport.registerProducer(self, True)

    def closeGracefully(self) -> None:
        """
        The service is stopping (L{sockservice.server.drain}): start nothing
        more, and close once the reply of the request in progress, if any,
        is sent.  (Stopping the factory kills that request's run.)
        """
        self._stopping = True
        self._pending.clear()
        if not self._busy:
            self._close()

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """
        Replies still due are dropped; their commands run to their end.
        """
        self._lost = True

    def dataReceived(self, data: bytes) -> None:
        """
        Parse requests; a malformed frame closes the connection (see
        L{_close}).
        """
        super().dataReceived(data)
        if self.brokenPeer:
            self._close()

    def pauseProducing(self) -> None:
        """
        The client is not reading its replies: read and start nothing more
        until it has.
        """
        self._writePaused = True
        self._updateReading()

    def resumeProducing(self) -> None:
        """
        The client has read its replies: read and run requests again.
        """
        self._writePaused = False
        self._updateReading()
        self._next()

    def stopProducing(self) -> None:
        """
        The connection is gone; L{connectionLost} follows.
        """

    def stringReceived(self, request: bytes) -> None:
        """
        Queue one request (within L{maxPending}) and start it if none runs.
        """
        self.factory.counters.received += 1
        if self.transport.disconnecting:
            return
        if len(self._pending) >= self.maxPending:
            self.log.info("command: {peer} pipelined too much, closing", peer=self.peer)
            self._close()
            return
        self._pending.append(request)
        self._next()

    def _updateReading(self) -> None:
        """
        Read from the client unless a request runs or its replies wait.
        """
        if self._lost or self.transport.disconnecting:
            return
        producing = not (self._busy or self._writePaused)
        if producing != self._producing:
            self._producing = producing
            if producing:
                self.transport.resumeProducing()
            else:
                self.transport.pauseProducing()

    def _close(self) -> None:
        """
        Close the connection once the replies already written are sent.

        The producer is unregistered first: a transport does not close while
        a producer it has paused is registered.
        """
        if self._registered:
            self._registered = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _next(self) -> None:
        """
        Start the next pending request if none is running and the client
        reads its replies.
        """
        if self._busy or self._writePaused or not self._pending or self.transport.disconnecting:
            return
        self._busy = True
        self._updateReading()
        d = self._handle(self._pending.popleft())
        d.addCallback(self._reply)

    def _reply(self, fields: List[bytes]) -> None:
        """
        Send one reply, then read on (or hang up on an unauthenticated client).
        """
        self._busy = False
        self.factory.replied(fields[0])
        if self._lost or self.transport.disconnecting:
            return
        self.sendString(encodeFields(fields))
        self.factory.counters.answered += 1
        if not self.authenticated or self._stopping:
            self._close()
            return
        self._updateReading()
        self._next()

    def _handle(self, request: bytes) -> Deferred[List[bytes]]:
        """
        Check one request and run it if allowed.

        @return: A Deferred firing with the reply fields; never fails.
        """
        try:
            fields = decodeFields(request)
        except ValueError:
            fields = []
        verb, args = (fields[0], fields[1:]) if fields else (b"", [])
        if verb == b"auth" and len(args) == 1 and self.factory.token is not None:
            self.authenticated = hmac.compare_digest(args[0], self.factory.token)
            if self.authenticated:
                return succeed([b"ok", b"", b""])
            self.log.info("command: bad token from {peer}", peer=self.peer)
            return self.factory.refuseAuth(self.transport.getPeer())
        if not self.authenticated:
            return succeed([b"refused unauthorized", b"", b""])
        if verb != b"run" or not args:
            return succeed([b"refused bad request", b"", b""])
        try:
            command, argv = self.factory.allowList.resolve(args[0], args[1:])
        except Refused as e:
            self.log.info(
                "command: {peer} refused {name}: {reason}",
                peer=self.peer,
                name=repr(args[0][:64])[1:],
                reason=str(e),
            )
            return succeed([b"refused " + str(e).encode(), b"", b""])
        return self.factory.run(command, argv, self.peer)
