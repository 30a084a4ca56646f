# -*- test-case-name: tests.test_chatclient -*-
"""
The person's side of a chat, for C{StandardIO}: L{ChatConsole} turns typed
lines into commands of a L{sockservice.chat.client.ChatClient} and writes
the lines it shows.

Typed lines: C{@name text} is private to C{name}, C{/who} lists the members,
C{/quit} (or end of input) leaves, C{/help} says so (L{HELP}), anything else
goes to everyone.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, ITransport
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from sockservice.chat.client import ChatClient

__all__ = ["HELP", "ChatConsole"]

HELP = "@name text: private  /who: members  /quit: leave  anything else: to everyone"


@implementer(IHalfCloseableProtocol)
class ChatConsole(LineReceiver):
    """
    The person's side, for C{StandardIO}: typed lines become chat commands,
    and L{show} writes lines as they arrive.
    """

    transport: ITransport

    delimiter = b"\n"

    def __init__(self) -> None:
        self.client: Optional[ChatClient] = None
        self.closed: Deferred[None] = Deferred()

    def show(self, line: str) -> None:
        """
        Write one line for the person.
        """
        self.transport.write(line.encode("utf-8", "replace") + b"\n")

    def lineReceived(self, raw: bytes) -> None:
        """
        Turn a typed line into a chat command.
        """
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if self.client is None or not line.strip():
            return
        if line.strip() == "/quit":
            self.client.leave()
        elif line.strip() == "/who":
            self.client.who()
        elif line.startswith("@"):
            name, _, text = line[1:].partition(" ")
            self.client.tell(name, text)
        elif line.startswith("/"):
            self.show(HELP)
        else:
            self.client.say(line)

    def readConnectionLost(self) -> None:
        """
        End of input: leave the chat.
        """
        if self.client is not None:
            self.client.leave()

    def writeConnectionLost(self) -> None:
        """
        Nobody reads our output any more; nothing to do.
        """

    def connectionLost(self, reason: Optional[Failure] = None) -> None:
        """
        Standard input and output are closed: fire L{closed}.
        """
        if not self.closed.called:
            self.closed.callback(None)

    def finish(self, clock: Any, timeout: float = 2.0) -> Deferred[None]:
        """
        Close standard output once what was written is flushed.

        @return: A Deferred firing when it is closed, or after C{timeout}
            seconds if nobody reads it.
        """
        self.transport.loseConnection()
        return self.closed.addTimeout(timeout, clock).addErrback(lambda _: None)
