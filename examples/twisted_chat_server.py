# -*- test-case-name: tests.e2e.test_examples -*-
"""
The chat server (chat_server.py), reactor-driven: messages are printed the
moment they arrive, even while the operator is typing, and each line the
operator types goes to whoever wrote last.  Two event sources, one reactor,
no threads; control characters are shown escaped, never obeyed.  (A relay
between members, with cookies and presence, is sockservice --chat.)

    python examples/twisted_chat_server.py [PORT]        (0 picks a free port)
"""

import sys

from twisted.internet import defer, protocol, stdio, task
from twisted.protocols import basic


class ChatServer(protocol.DatagramProtocol):
    """
    Print every message, with its sender; remember who wrote last.
    """

    lastSender = None

    def datagramReceived(self, data, address):  # recvfrom(1024), as a callback
        self.lastSender = address
        text = data.decode(errors="replace")
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        print("From %s:%s: %s" % (address[0], address[1], text), flush=True)


class Operator(basic.LineReceiver):
    """
    Standard input: each line is an answer to the last sender.
    """

    delimiter = b"\n"

    def __init__(self, server):
        self.server = server

    def lineReceived(self, line):  # reply = input("Reply: ")
        if self.server.lastSender is None:
            print("(nobody to answer yet)", flush=True)
        else:  # sendto(reply, clientAddress)
            self.server.transport.write(line.strip(), self.server.lastSender)


async def main(reactor, port):
    server = ChatServer()
    listening = reactor.listenUDP(port, server, interface="127.0.0.1")
    stdio.StandardIO(Operator(server))  # at Ctrl-D, answers end; messages still show
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12014])
