"""
The textbook TCP client (Kurose & Ross 2.7.2), reactor-driven: read it side by
side with tcp_client.py.  The comments name the
textbook line that each Twisted line replaces.

    python examples/twisted_tcp_client.py [HOST [PORT]]
"""

import sys

from twisted.internet import defer, endpoints, protocol, task

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000


class UppercaseClient(protocol.Protocol):
    """
    Send one sentence and a newline; the reply ends at a newline or the close.
    """

    def __init__(self, sentence):
        self.sentence = sentence
        self.received = b""
        self.reply = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.sentence + b"\n")  # send(sentence)

    def dataReceived(self, data):  # recv(1024): called whenever bytes arrive
        self.received += data
        if b"\n" in self.received:
            self.transport.loseConnection()  # close()

    def connectionLost(self, reason):
        self.reply.callback(self.received.split(b"\n")[0])


async def main(reactor, sentence):
    # socket(AF_INET, SOCK_STREAM), for IPv4, IPv6 and host names alike:
    endpoint = endpoints.HostnameEndpoint(reactor, serverName, serverPort, timeout=10)
    factory = protocol.Factory.forProtocol(lambda: UppercaseClient(sentence))
    client = await endpoint.connect(factory)  # connect((serverName, serverPort))
    modifiedSentence = await client.reply.addTimeout(10, reactor)
    print("From Server:", modifiedSentence.decode())


# Read before the reactor starts, as the textbook does; sockservice-client
# reads standard input through the reactor instead (twisted.internet.stdio).
sentence = input("Input lowercase sentence: ").encode()
task.react(main, [sentence])
