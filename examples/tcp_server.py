"""
Textbook-style TCP server (Kurose & Ross 2.7.2): one client at a time, one
sentence per connection, then close.  Compare with sockservice.uppercase.tcp.

    python examples/tcp_server.py [PORT]        (0 picks a free port)
"""

import sys
from socket import AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12000

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(("127.0.0.1", serverPort))
serverSocket.listen(1)
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
