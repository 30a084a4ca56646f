"""
Textbook-style TCP client with a communication loop: many sentences on one
connection (the tutorials' second step).  Against sockservice this works;
against the one-shot textbook server the second sentence gets no reply.

    python examples/tcp_loop_client.py [HOST [PORT]]     (empty line ends it)
"""

import sys
from socket import AF_INET, SOCK_STREAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000

clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect((serverName, serverPort))
while True:
    try:
        sentence = input("Input lowercase sentence: ")
    except EOFError:
        break
    if not sentence:
        break
    data = sentence.encode()
    clientSocket.sendall(data)
    reply = b""
    while len(reply) < len(data):  # ascii: the reply is as long as the request
        chunk = clientSocket.recv(1024)
        if not chunk:
            break
        reply += chunk
    print("From Server:", reply.decode())
clientSocket.close()
