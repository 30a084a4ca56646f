# -*- test-case-name: tests.e2e.test_examples -*-
"""
The chat server (chat_server.py), reactor-driven: messages are printed the
moment they arrive, even while the operator is typing, and each line the
operator types goes to whoever wrote last.  Two event sources, one reactor,
no threads.  Control characters are shown escaped, never obeyed.  (A relay
between members, with cookies and presence, is sockservice --chat.)

    python examples/twisted_chat_server.py [PORT]        (0 picks a free port)
"""

import sys

from zope.interface import implementer

from twisted.internet import defer, interfaces, protocol, stdio, task
from twisted.protocols import basic


def printable(data):
    """
    @return: C{data} decoded, with control characters escaped.
    """
    text = data.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ChatServer(protocol.DatagramProtocol):
    """
    Print every message; answer the last sender.
    """

    lastSender = None

    def datagramReceived(self, data, address):  # recvfrom(1024), as a callback
        self.lastSender = address
        print("From %s:%s: %s" % (address[0], address[1], printable(data)), flush=True)

    def answer(self, text):
        if self.lastSender is None:
            print("(nobody to answer yet)", flush=True)
        else:
            self.transport.write(text, self.lastSender)  # sendto(reply, clientAddress)


@implementer(interfaces.IHalfCloseableProtocol)
class Operator(basic.LineReceiver):
    """
    Standard input: each line is an answer.
    """

    delimiter = b"\n"

    def __init__(self, server):
        self.server = server

    def lineReceived(self, line):  # reply = input("Reply: ")
        self.server.answer(line.strip())

    def readConnectionLost(self):  # Ctrl-D: no more answers; keep printing
        pass

    def writeConnectionLost(self):
        pass


async def main(reactor, port):
    server = ChatServer()
    listening = reactor.listenUDP(port, server, interface="127.0.0.1")
    stdio.StandardIO(Operator(server))
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12014])
