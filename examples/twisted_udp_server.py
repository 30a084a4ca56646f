# -*- test-case-name: tests.e2e.test_examples -*-
"""
The textbook UDP server (Kurose & Ross 2.7.1), reactor-driven: read it side by
side with udp_server.py.  There is no loop to write: the reactor calls
datagramReceived once per datagram, with the sender's address.

    python examples/twisted_udp_server.py [PORT]        (0 picks a free port)
"""

import sys

from twisted.internet import defer, protocol, task


class Uppercase(protocol.DatagramProtocol):
    """
    One datagram in, one datagram out, to whoever sent it.
    """

    def datagramReceived(self, data, address):  # recvfrom(2048), as a callback
        self.transport.write(data.upper(), address)  # sendto(reply, clientAddress)


async def main(reactor, port):
    # socket(AF_INET, SOCK_DGRAM) + bind(("127.0.0.1", port)).  Twisted has no
    # UDP endpoints; maxPacketSize: the default reads 8192 bytes at most.
    listening = reactor.listenUDP(port, Uppercase(), interface="127.0.0.1", maxPacketSize=65535)
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # while True: ... until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12000])
