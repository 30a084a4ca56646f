# -*- test-case-name: tests.e2e.test_examples -*-
"""
The chat client (chat_client.py), reactor-driven: the first line names whom
to talk to, every other line is a message, and answers are printed whenever
they arrive, even in the middle of typing; you never wait for one before
sending the next.  "q" or Ctrl-D ends.  (sockservice-client chat is the
client of the real relay.)

    python examples/twisted_chat_client.py [HOST [PORT]]
"""

import sys

from zope.interface import implementer

from twisted.internet import defer, interfaces, protocol, stdio, task
from twisted.protocols import basic

FRIENDS = ("alice", "bob", "carol")


class ChatClient(protocol.DatagramProtocol):
    """
    Messages out to the server, its answers printed as they come.
    """

    def __init__(self, server):
        self.server = server

    def startProtocol(self):
        self.transport.connect(*self.server)  # only the server may answer

    def datagramReceived(self, data, address):  # recvfrom(1024), as a callback
        text = "".join(c if c.isprintable() else "?" for c in data.decode(errors="replace"))
        print("From %s:%s: %s" % (address[0], address[1], text), flush=True)


@implementer(interfaces.IHalfCloseableProtocol)
class Keyboard(basic.LineReceiver):
    """
    Standard input: a friend's name, then messages.
    """

    delimiter = b"\n"
    friend = None

    def __init__(self, client):
        self.client, self.finished = client, defer.Deferred()

    def connectionMade(self):
        print("Chat with (%s):" % ", ".join(FRIENDS), flush=True)

    def lineReceived(self, line):
        line = line.strip().decode(errors="replace")
        if self.friend is None:
            self.friend = line if line in FRIENDS else None
            print("Message (q ends):" if self.friend else "No such friend.", flush=True)
        elif line == "q":
            self.readConnectionLost()
        elif line:
            self.client.transport.write(("to %s: %s" % (self.friend, line)).encode())

    def readConnectionLost(self):  # EOFError: Ctrl-D
        if not self.finished.called:
            self.finished.callback(None)

    def writeConnectionLost(self):
        pass


async def main(reactor, host="127.0.0.1", port="12014"):
    client = ChatClient((await reactor.resolve(host), int(port)))
    reactor.listenUDP(0, client)  # socket(AF_INET, SOCK_DGRAM)
    keyboard = Keyboard(client)
    stdio.StandardIO(keyboard)
    await keyboard.finished


task.react(main, sys.argv[1:])
