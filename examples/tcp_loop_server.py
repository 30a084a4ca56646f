# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style TCP server with a communication loop (the tutorials' second
step): it accepts ONE client and upper-cases everything it sends, for as long
as it stays connected; when that client leaves, the server exits.  A second
client is not served at all.  Pair it with tcp_loop_client.py.

    python examples/tcp_loop_server.py [PORT]        (0 picks a free port)
"""

import sys
from socket import AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12000

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(("127.0.0.1", serverPort))
serverSocket.listen(1)
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
connectionSocket, addr = serverSocket.accept()
print("Accept new connection from %s:%s" % addr, flush=True)
while True:  # the communication loop
    try:
        data = connectionSocket.recv(1024)
    except ConnectionResetError:
        break
    if not data:  # b"": the client closed the connection
        break
    connectionSocket.sendall(data.upper())
connectionSocket.close()
serverSocket.close()
