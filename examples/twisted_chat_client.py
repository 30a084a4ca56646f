# -*- test-case-name: tests.e2e.test_examples -*-
"""
The chat client (chat_client.py), reactor-driven: the first line names whom
to talk to, every other line is a message, and answers are printed whenever
they arrive: you never wait for one before sending the next.  "q" or Ctrl-D
ends.  (sockservice-client chat is the client of the real relay.)

    python examples/twisted_chat_client.py [HOST [PORT]]
"""

import sys

from twisted.internet import defer, protocol, stdio, task
from twisted.protocols import basic

FRIENDS = ("alice", "bob", "carol")


class ChatClient(protocol.DatagramProtocol):
    """
    A connected UDP socket: messages out, and only the server's answers in.
    """

    def __init__(self, server):
        self.server = server

    def startProtocol(self):
        self.transport.connect(*self.server)  # strangers' datagrams are dropped

    def datagramReceived(self, data, address):  # recvfrom(1024), as a callback
        text = "".join(c if c.isprintable() else "?" for c in data.decode(errors="replace"))
        print("From %s:%s: %s" % (address[0], address[1], text), flush=True)


class Keyboard(basic.LineReceiver):
    """
    Standard input: a friend's name, then messages.
    """

    delimiter, friend = b"\n", None

    def __init__(self, client):
        self.client, self.finished = client, defer.Deferred()

    def lineReceived(self, line):
        line = line.strip().decode(errors="replace")
        if self.friend is None:  # name = input("Chat with ...: ")
            self.friend = line if line in FRIENDS else None
            print("Message (q ends):" if self.friend else "No such friend.", flush=True)
        elif line == "q":
            self.transport.loseConnection()
        elif line:  # sendto("to NAME: message", server)
            self.client.transport.write(("to %s: %s" % (self.friend, line)).encode())

    def connectionLost(self, reason):  # EOFError: Ctrl-D
        self.finished.callback(None)


async def main(reactor, host="127.0.0.1", port="12014"):
    client = ChatClient((await reactor.resolve(host), int(port)))
    reactor.listenUDP(0, client)  # socket(AF_INET, SOCK_DGRAM)
    keyboard = Keyboard(client)
    stdio.StandardIO(keyboard)
    print("Chat with (%s):" % ", ".join(FRIENDS), flush=True)
    await keyboard.finished


task.react(main, sys.argv[1:])
