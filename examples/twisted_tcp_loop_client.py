# -*- test-case-name: tests.e2e.test_examples -*-
"""
The communication-loop client (tcp_loop_client.py), reactor-driven.  The
textbook loop cannot wait for the keyboard and the server at once, so it
must guess when a reply is complete (and TCP may split or merge it: the
"sticky packets").  Here the reactor watches both: each sentence goes out
with a newline, and a LineReceiver hands back whole reply lines, however
TCP cut them.  An empty line or Ctrl-D ends it, once every reply is in.

    python examples/twisted_tcp_loop_client.py [HOST [PORT]]
"""

import sys

from zope.interface import implementer

from twisted.internet import defer, endpoints, interfaces, protocol, stdio, task
from twisted.protocols import basic


class Replies(basic.LineReceiver):
    """
    The connection: sentences go out as lines, and each line back is a reply.
    """

    delimiter = b"\n"

    def __init__(self):
        self.pending, self.inputEnded, self.finished = 0, False, defer.Deferred()

    def send(self, sentence):
        self.pending += 1
        self.sendLine(sentence)  # clientSocket.sendall(sentence + b"\n")

    def lineReceived(self, line):  # one whole reply, as many recv() as it took
        self.pending -= 1
        print("From Server:", line.decode(errors="replace"), flush=True)
        self.endInput(self.inputEnded)

    def endInput(self, ended=True):
        self.inputEnded = ended
        if ended and self.pending == 0:
            self.transport.loseConnection()  # clientSocket.close()

    def connectionLost(self, reason):
        self.finished.callback(None)


@implementer(interfaces.IHalfCloseableProtocol)
class Keyboard(basic.LineReceiver):
    """
    Standard input: each line is a sentence for the server.
    """

    delimiter = b"\n"

    def __init__(self, server):
        self.server = server

    def lineReceived(self, line):  # sentence = input("Input lowercase sentence: ")
        line = line.rstrip(b"\r")
        if self.server.inputEnded:
            return
        if line:
            self.server.send(line)
        else:
            self.server.endInput()

    def readConnectionLost(self):  # EOFError: Ctrl-D
        self.server.endInput()

    def writeConnectionLost(self):
        pass


async def main(reactor, host="127.0.0.1", port="12000"):
    endpoint = endpoints.HostnameEndpoint(reactor, host, int(port), timeout=10)
    server = await endpoint.connect(protocol.Factory.forProtocol(Replies))
    stdio.StandardIO(Keyboard(server))
    print("Type lowercase sentences; an empty line or Ctrl-D ends.", flush=True)
    await server.finished


task.react(main, sys.argv[1:])
