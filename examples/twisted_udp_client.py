"""
The textbook UDP client (Kurose & Ross 2.7.1), reactor-driven: read it side by
side with udp_client.py.  The comments name the
textbook line that each Twisted line replaces.

    python examples/twisted_udp_client.py [HOST [PORT]]
"""

import sys

from twisted.internet import defer, protocol, task

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000


class UppercaseClient(protocol.DatagramProtocol):
    """
    Send one datagram; the first datagram back from the server is the reply.
    """

    def __init__(self, server, message):
        self.server = server
        self.message = message
        self.reply = defer.Deferred()

    def startProtocol(self):
        self.transport.write(self.message, self.server)  # sendto(message, address)

    def datagramReceived(self, data, address):  # recvfrom(2048): one per datagram
        if address == self.server and not self.reply.called:  # strangers ignored
            self.reply.callback(data)


async def main(reactor, message):
    serverAddress = await reactor.resolve(serverName)  # the name lookup in sendto
    client = UppercaseClient((serverAddress, serverPort), message)
    port = reactor.listenUDP(0, client)  # socket(AF_INET, SOCK_DGRAM)
    try:
        modifiedMessage = await client.reply.addTimeout(5, reactor)
    finally:
        await port.stopListening()  # close()
    print("From Server:", modifiedMessage.decode())


# Read before the reactor starts, as the textbook does; sockservice-client
# reads standard input through the reactor instead (twisted.internet.stdio).
message = input("Input lowercase sentence: ").encode()
task.react(main, [message])
