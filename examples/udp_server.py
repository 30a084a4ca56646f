"""
Textbook-style UDP server (Kurose & Ross 2.7.1).  Compare with sockservice.uppercase.udp:
this one answers anybody, truncates datagrams over 2048 bytes and has no
guards.

    python examples/udp_server.py [PORT]        (0 picks a free port)
"""

import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12000

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(("127.0.0.1", serverPort))
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
