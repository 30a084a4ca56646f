# -*- test-case-name: tests.e2e.test_examples -*-
"""
The communication-loop client (tcp_loop_client.py), reactor-driven.  The
textbook loop must guess where a reply ends (TCP may cut or glue it: the
"sticky packets").  Here each sentence goes out as a line and LineReceiver
hands back whole reply lines; the keyboard is paused until the reply is in,
as the textbook loop waits, but without ever blocking the reactor.  An empty
line or Ctrl-D ends it.

    python examples/twisted_tcp_loop_client.py [HOST [PORT]]
"""

import sys

from twisted.internet import defer, endpoints, protocol, stdio, task
from twisted.protocols import basic


class Replies(basic.LineReceiver):
    """
    The connection to the server: each line that comes back is one reply.
    """

    delimiter = b"\n"

    def __init__(self):
        self.finished = defer.Deferred()

    def lineReceived(self, line):  # a whole reply, however many recv() it took
        print("From Server:", line.decode(errors="replace"), flush=True)
        self.keyboard.resumeProducing()  # next sentence, please

    def connectionLost(self, reason):
        self.finished.callback(None)


class Keyboard(basic.LineReceiver):
    """
    Standard input: one sentence per line.
    """

    delimiter = b"\n"

    def __init__(self, server):
        self.server, server.keyboard = server, self

    def lineReceived(self, line):  # sentence = input("Input lowercase sentence: ")
        if not line.strip():
            return self.server.transport.loseConnection()  # clientSocket.close()
        self.pauseProducing()  # wait for the reply, as the textbook does
        self.server.sendLine(line.rstrip(b"\r"))  # clientSocket.sendall(...)

    def connectionLost(self, reason):  # EOFError: Ctrl-D
        self.server.transport.loseConnection()


async def main(reactor, host="127.0.0.1", port="12000"):
    endpoint = endpoints.HostnameEndpoint(reactor, host, int(port), timeout=10)
    server = await endpoint.connect(protocol.Factory.forProtocol(Replies))
    stdio.StandardIO(Keyboard(server))  # input(), without blocking the reactor
    await server.finished


task.react(main, sys.argv[1:])
