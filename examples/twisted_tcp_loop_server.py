# -*- test-case-name: tests.e2e.test_examples -*-
"""
The communication-loop server (tcp_loop_server.py), reactor-driven.  The
"while True: recv / send" loop disappears: the reactor calls dataReceived
each time bytes arrive, for as long as the client stays connected, and
connectionLost when it leaves.  It is also already the connection loop:
every client gets its own protocol instance, all served at once.

    python examples/twisted_tcp_loop_server.py [PORT]   (0 picks a free port)
"""

import sys

from twisted.internet import defer, endpoints, protocol, task


class Uppercase(protocol.Protocol):
    """
    Send back every byte received, upper-cased (wire.py's Echo, plus .upper()).
    """

    def dataReceived(self, data):  # data = connectionSocket.recv(1024), in a loop
        self.transport.write(data.upper())  # connectionSocket.sendall(...)


async def main(reactor, port):
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(protocol.Factory.forProtocol(Uppercase))
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12000])
