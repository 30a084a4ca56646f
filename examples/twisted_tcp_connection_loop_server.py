# -*- test-case-name: tests.e2e.test_examples -*-
"""
The connection-loop server (tcp_connection_loop_server.py), reactor-driven.
"while True: accept()" becomes a Factory: the reactor accepts every
connection and calls buildProtocol with the client's address, so clients are
served at the same time, not one after another, and an idle one blocks
nobody.  No threads: one loop (the reactor) waits on all sockets at once.

    python examples/twisted_tcp_connection_loop_server.py [PORT]   (0: free port)
"""

import sys

from twisted.internet import defer, endpoints, protocol, task


class Uppercase(protocol.Protocol):
    """
    Send back every byte received, upper-cased.
    """

    def dataReceived(self, data):  # the communication loop's recv / sendall
        self.transport.write(data.upper())

    def connectionLost(self, reason):  # recv() returned b"" (or failed)
        self.factory.connected -= 1


class UppercaseFactory(protocol.Factory):
    """
    The connection loop: one L{Uppercase} per accepted connection.
    """

    protocol = Uppercase
    connected = 0

    def buildProtocol(self, addr):  # connectionSocket, addr = accept()
        self.connected += 1
        print(
            "Accept new connection from %s:%s (%d connected)"
            % (addr.host, addr.port, self.connected),
            flush=True,
        )
        return super().buildProtocol(addr)


async def main(reactor, port):
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(UppercaseFactory())
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12000])
