# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style UDP "QQ" chat server (the tutorials' chat): a person at this
terminal answers each message.  It prints each datagram with its sender,
then waits for the operator to type an answer, which goes back to that
sender.  Pair it with chat_client.py.

Its limits: while the operator types, nothing is received; clients only ever
talk to the operator, never to each other; anyone (any forged address) can
write and gets the answer; and incoming text is printed as it is, terminal
escape sequences included.  seed_chat_vs_sockservice.md has the details.

    python examples/chat_server.py [PORT]        (0 picks a free port)
"""

import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12014

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(("127.0.0.1", serverPort))
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(1024)  # blocks: nobody else is heard
    print("From %s:%s: %s" % (clientAddress[0], clientAddress[1], message.decode()), flush=True)
    try:
        reply = input("Reply: ").strip()  # blocks: nobody is heard while typing
    except EOFError:
        break
    serverSocket.sendto(reply.encode(), clientAddress)
serverSocket.close()
