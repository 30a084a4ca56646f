# -*- test-case-name: tests.e2e.test_examples -*-
"""
The textbook TCP server (Kurose & Ross 2.7.2), reactor-driven: read it side by
side with tcp_server.py.  As there, each connection gets one reply, to the
first bytes that arrive, and is then closed.  Unlike there, the reactor serves
any number of clients at once: one that connects and says nothing delays
nobody.

    python examples/twisted_tcp_server.py [PORT]        (0 picks a free port)
"""

import sys

from twisted.internet import defer, endpoints, protocol, task


class OneShotUppercase(protocol.Protocol):
    """
    Answer the first bytes that arrive, upper-cased, then close.
    """

    def dataReceived(self, data):  # sentence = connectionSocket.recv(1024)
        # bytes.upper() changes a-z only; sockservice.casing does Unicode,
        # and never splits a character that arrives in two pieces.
        self.transport.write(data.upper())  # connectionSocket.send(...)
        self.transport.loseConnection()  # close(), once the reply is sent


async def main(reactor, port):
    # socket(AF_INET, SOCK_STREAM) + bind(("127.0.0.1", port)) + listen():
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    # while True: accept() -- the reactor accepts, the factory builds one
    # protocol instance per connection:
    factory = protocol.Factory.forProtocol(OneShotUppercase)
    listening = await endpoint.listen(factory)
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12000])
