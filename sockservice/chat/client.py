# -*- test-case-name: tests.test_chatclient -*-
"""
The chat client: L{ChatClient}, a datagram protocol that joins, keeps itself
present and turns the server's datagrams into lines for a person
(L{describe}).  What the person types reaches it through
L{sockservice.chat.console.ChatConsole}.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError, TimeoutError
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IUDPTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from sockservice.chat.text import MAX_TEXT, hasControl, replaceControl
from sockservice.peer import formatPeer

__all__ = ["DEFAULT_PORT", "ChatClient", "ChatError", "describe", "JOIN_SIZE"]

DEFAULT_PORT = 12014
"""The chat service's conventional port in the examples."""

JOIN_SIZE = 64
"""Join requests are padded to this size so the server may answer them."""


class ChatError(Exception):
    """
    The server refused us (the message is its reason) or stopped answering.
    """


def describe(datagram: bytes) -> Optional[str]:
    """
    Render one server datagram for a person; control characters are replaced.

    @return: The line to show, or C{None} for nothing (C{PONG}).
    """
    text = replaceControl(datagram.decode("utf-8", "replace"))
    verb, _, rest = text.partition(" ")
    name, _, body = rest.partition(" ")
    shown = {
        "FROM": f"<{name}> {body}",
        "PRIVATE": f"<{name} to you> {body}",
        "JOINED": f"* {rest} joined",
        "LEFT": f"* {rest} left",
        "MEMBERS": f"* here: {', '.join(rest.split())}",
        "ERROR": f"! {rest}",
        "PONG": None,
    }
    return shown.get(verb, f"? {text}")


class ChatClient(DatagramProtocol):
    """
    One chat member.

    @ivar joined: Fires once the server confirms the join; fails with
        L{ChatError} (the server's reason), L{TimeoutError} (no answer) or
        L{ConnectionRefusedError} (nothing listens there).
    @ivar done: Fires when we have left, or fails with L{ChatError} when the
        server stops answering (L{ConnectionRefusedError} when it is gone).
    """

    # A port connected to the server (startProtocol): write without an address.
    transport: IUDPTransport

    def __init__(
        self,
        clock: IReactorTime,
        host: str,
        port: int,
        name: str,
        show: Callable[[str], None],
        keepAlive: float = 20.0,
        timeout: float = 2.0,
        retries: int = 3,
    ) -> None:
        """
        @param clock: For timeouts and keep-alives.
        @param host: The server's IP address.
        @param port: The server's port.
        @param name: Our name.
        @param show: Called with each line to show the user.
        @param keepAlive: Seconds between C{PING}s (the server forgets
            members after 60 s of silence).
        @param timeout: Seconds to wait for each join step.
        @param retries: Join steps resent before giving up.
        """
        self.clock = clock
        self.host, self.port, self.name = host, port, name
        self.show = show
        self.timeout, self.retries = timeout, retries
        self.joined: Deferred[None] = Deferred()
        self.done: Deferred[None] = Deferred()
        self._joinRequest = b""
        self._triesLeft = retries
        self._timer: Optional[IDelayedCall] = None
        self._lastHeard = 0.0
        self._member = False
        self._pinger = LoopingCall(self._ping)
        self._pinger.clock = clock
        self.keepAlive = keepAlive

    def startProtocol(self) -> None:
        """
        Connect to the server (strangers are then ignored) and start joining.
        """
        self.transport.connect(self.host, self.port)
        self._sendJoin(b"JOIN " + self.name.encode())

    def _sendJoin(self, request: bytes) -> None:
        self._joinRequest = request.ljust(JOIN_SIZE)
        self._cancelTimer()
        self._timer = self.clock.callLater(self.timeout, self._joinTimedOut)
        self._write(self._joinRequest)

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def _joinTimedOut(self) -> None:
        if self._triesLeft > 0:
            self._triesLeft -= 1
            self._sendJoin(self._joinRequest)
        else:
            peer = formatPeer(self.host, self.port)
            self._fail(TimeoutError(f"no answer from the chat server {peer}"))

    def _fail(self, error: Exception) -> None:
        self._cancelTimer()
        if self._pinger.running:
            self._pinger.stop()
        target = self.done if self.joined.called else self.joined
        if not target.called:
            target.errback(Failure(error))

    def datagramReceived(self, datagram: bytes, addr: Tuple[str, int]) -> None:
        """
        Handle one datagram from the server.
        """
        self._lastHeard = self.clock.seconds()
        verb, _, rest = datagram.partition(b" ")
        if not self.joined.called:
            if verb == b"COOKIE":
                self._sendJoin(b"JOIN %s %s" % (self.name.encode(), rest.strip()))
            elif verb == b"ERROR":
                self._fail(ChatError(rest.decode("utf-8", "replace")))
            elif datagram == b"JOINED " + self.name.encode():
                self._cancelTimer()
                self._pinger.start(self.keepAlive, now=False)
                self._member = True
                self.joined.callback(None)
            return
        line = describe(datagram)
        if line is not None:
            self.show(line)
        if datagram == b"LEFT " + self.name.encode():
            self._end()

    def _ping(self) -> None:
        if self.clock.seconds() - self._lastHeard > 3 * self.keepAlive:
            self._fail(ChatError("the chat server stopped answering"))
        else:
            self._write(b"PING")

    def stopProtocol(self) -> None:
        """
        The port is closed: stop the timers. If that happens before we have
        left, the system closed it after an error (an ICMP error reported
        by C{epoll}), and the join or the chat fails.
        """
        if self.joined.called and not self._member:
            return  # The join failed already; nothing is under way.
        self._fail(ChatError("unreachable: the system closed the port after an error"))

    def connectionRefused(self) -> None:
        """
        Nothing listens at the server's address.
        """
        self._fail(ConnectionRefusedError())

    def say(self, text: str) -> None:
        """
        Send C{text} to everyone.
        """
        self._send("MSG", text)

    def tell(self, name: str, text: str) -> None:
        """
        Send C{text} to C{name} only.
        """
        self._send(f"TO {name}", text)

    def _send(self, prefix: str, text: str) -> None:
        if not text.strip():
            return
        if len(text.encode()) > MAX_TEXT or hasControl(text):
            self.show(f"! not sent: at most {MAX_TEXT} bytes, no control characters")
            return
        self._write(f"{prefix} {text}".encode())

    def who(self) -> None:
        """
        Ask who is present.
        """
        self._write(b"WHO")

    def leave(self) -> Deferred[None]:
        """
        Leave the chat; L{done} fires when the server confirms, or soon anyway.
        """
        if not self.joined.called:
            self._fail(ChatError("left before joining"))
            self._end()
        elif not self.done.called:
            self._write(b"LEAVE")
            self._cancelTimer()
            self._timer = self.clock.callLater(self.timeout, self._end)
        return self.done

    def _write(self, datagram: bytes) -> None:
        """
        Send C{datagram} to the server, the address the port is connected to.
        """
        self.transport.write(datagram, None)

    def _end(self) -> None:
        self._cancelTimer()
        if self._pinger.running:
            self._pinger.stop()
        if not self.done.called:
            self.done.callback(None)
