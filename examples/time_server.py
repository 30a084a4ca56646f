# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style UDP time server (the tutorials' "homemade time server"): each
datagram is a time.strftime format (empty means "%Y-%m-%d %X"); the reply is
the local time in that format, sent back to whoever sent it.  Pair it with
time_client.py.

Its limits, kept on purpose (seed_time_vs_sockservice.md has the table): a
datagram that is not UTF-8 (b"\\xff") or holds a NUL kills the server; a long
format is cut at 1024 bytes; a short format can ask for a long reply; an
empty reply looks like a lost one; and it answers any (forged) source.

    python examples/time_server.py [PORT]        (0 picks a free port)
"""

import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12013

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(("127.0.0.1", serverPort))
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(1024)
    timeFormat = message.decode() or "%Y-%m-%d %X"
    reply = time.strftime(timeFormat, time.localtime())
    serverSocket.sendto(reply.encode(), clientAddress)
