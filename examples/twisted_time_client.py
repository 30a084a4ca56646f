# -*- test-case-name: tests.e2e.test_examples -*-
"""
The time client (time_client.py), reactor-driven: each line typed is a
strftime format sent in one datagram; the keyboard is paused until the reply
is in.  Where the textbook client blocks forever on a lost datagram, this
one gives up after 5 seconds (sockservice-client time also resends), and
only the server's address can answer.  Ctrl-D ends it.

    python examples/twisted_time_client.py [HOST [PORT]]
"""

import sys

from twisted.internet import defer, protocol, stdio, task
from twisted.protocols import basic


class TimeClient(protocol.DatagramProtocol):
    """
    A connected UDP socket: formats out, and only the server's replies in.
    """

    def __init__(self, server, keyboard):
        self.server, self.keyboard, keyboard.udp = server, keyboard, self

    def startProtocol(self):
        self.transport.connect(*self.server)  # strangers' datagrams are dropped

    def datagramReceived(self, data, address):  # recvfrom(2048), as a callback
        self.keyboard.replyReceived(data)


class Keyboard(basic.LineReceiver):
    """
    Standard input: one format per line, sent once the last reply is in.
    """

    delimiter, timeout = b"\n", None

    def __init__(self, clock):
        self.clock, self.finished = clock, defer.Deferred()

    def lineReceived(self, line):  # fmt = input("Time format ...: ")
        self.pauseProducing()
        self.udp.transport.write(line.rstrip(b"\r"))  # sendto(fmt, server)
        lost = SystemExit("twisted_time_client: no reply within 5 s")
        self.timeout = self.clock.callLater(5, self.finished.errback, lost)

    def replyReceived(self, data):
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
            print("From Server:", data.decode(errors="replace"), flush=True)
            self.resumeProducing()

    def connectionLost(self, reason):  # EOFError: Ctrl-D
        if not self.finished.called:
            self.finished.callback(None)


async def main(reactor, host="127.0.0.1", port="12013"):
    keyboard = Keyboard(reactor)
    reactor.listenUDP(0, TimeClient((await reactor.resolve(host), int(port)), keyboard))
    stdio.StandardIO(keyboard)
    await keyboard.finished


task.react(main, sys.argv[1:])
