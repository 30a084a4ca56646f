# -*- test-case-name: tests.e2e.test_examples -*-
"""
The time client (time_client.py), reactor-driven: each line typed is a
strftime format sent in one datagram; replies are printed as they come.
Where the textbook client blocks forever on a lost datagram, this one gives
up after 5 seconds without a reply (sockservice-client time also resends).
Ctrl-D ends it, once the replies are in.

    python examples/twisted_time_client.py [HOST [PORT]]
"""

import sys

from zope.interface import implementer

from twisted.internet import defer, interfaces, protocol, stdio, task
from twisted.protocols import basic


class TimeClient(protocol.DatagramProtocol):
    """
    Formats out, times back; a "connected" UDP socket drops strangers' datagrams.
    """

    def __init__(self, clock, server):
        self.clock, self.server = clock, server
        self.pending, self.inputEnded, self.finished = 0, False, defer.Deferred()
        self.timeout = None

    def startProtocol(self):
        self.transport.connect(*self.server)  # only the server may answer

    def send(self, timeFormat):
        self.pending += 1
        self.transport.write(timeFormat)  # sendto(fmt, (serverName, serverPort))
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        self.timeout = self.clock.callLater(5, self.done, "no reply within 5 s")

    def datagramReceived(self, data, address):  # recvfrom(2048), as a callback
        self.pending -= 1
        print("From Server:", data.decode(errors="replace"), flush=True)
        if self.pending == 0 and self.inputEnded:
            self.done()

    def done(self, problem=None):
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        if not self.finished.called:
            self.finished.callback(problem)


@implementer(interfaces.IHalfCloseableProtocol)
class Keyboard(basic.LineReceiver):
    """
    Standard input: one format per line.
    """

    delimiter = b"\n"

    def __init__(self, client):
        self.client = client

    def lineReceived(self, line):  # fmt = input("Time format ...: ")
        self.client.send(line.rstrip(b"\r"))

    def readConnectionLost(self):  # EOFError: Ctrl-D
        self.client.inputEnded = True
        if self.client.pending == 0:
            self.client.done()

    def writeConnectionLost(self):
        pass


async def main(reactor, host="127.0.0.1", port="12013"):
    client = TimeClient(reactor, (await reactor.resolve(host), int(port)))
    reactor.listenUDP(0, client)  # socket(AF_INET, SOCK_DGRAM)
    stdio.StandardIO(Keyboard(client))
    problem = await client.finished
    if problem:
        raise SystemExit("twisted_time_client: " + problem)


task.react(main, sys.argv[1:])
