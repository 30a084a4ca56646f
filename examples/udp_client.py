"""
Textbook-style UDP client (Kurose & Ross 2.7.1), blocking sockets, one sentence.

    python examples/udp_client.py [HOST [PORT]]
"""

import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000

clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(5)  # the textbook waits forever; a lost datagram would hang it
message = input("Input lowercase sentence: ")
clientSocket.sendto(message.encode(), (serverName, serverPort))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print("From Server:", modifiedMessage.decode())
clientSocket.close()
