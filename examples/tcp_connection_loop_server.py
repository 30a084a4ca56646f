# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style TCP server with a connection loop around the communication
loop (the tutorials' third step): it serves clients one after another, each
for as long as it stays connected.  While one client is connected, the next
waits in the listen backlog, unanswered: one idle client stops the service
for everybody.  Pair it with tcp_loop_client.py.

    python examples/tcp_connection_loop_server.py [PORT]    (0 picks a free port)
"""

import sys
from socket import AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12000

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(("127.0.0.1", serverPort))
serverSocket.listen(5)
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:  # the connection loop
    connectionSocket, addr = serverSocket.accept()
    print("Accept new connection from %s:%s" % addr, flush=True)
    while True:  # the communication loop, for this client only
        try:
            data = connectionSocket.recv(1024)
        except ConnectionResetError:
            break
        if not data:
            break
        connectionSocket.sendall(data.upper())
    connectionSocket.close()
