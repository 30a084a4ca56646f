"""
Textbook-style TCP client (Kurose & Ross 2.7.2), blocking sockets, one sentence.

    python examples/tcp_client.py [HOST [PORT]]
"""

import sys
from socket import AF_INET, SOCK_STREAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000

clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect((serverName, serverPort))
sentence = input("Input lowercase sentence: ")
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(1024)
print("From Server:", modifiedSentence.decode())
clientSocket.close()
