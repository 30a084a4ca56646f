# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style UDP "QQ" chat client (the tutorials' chat): choose whom to
talk to, then type messages; each goes to the chat server prefixed with the
name, and the client waits for the answer before the next message.  Every
"friend" is the same server: the names are labels only.  "q" or Ctrl-D
ends.  Pair it with chat_server.py.

Its limits: lock-step (no message can be shown while you type, and none can
be sent before the answer arrives); a lost datagram would block it forever
(hence the timeout, which the tutorial lacks).

    python examples/chat_client.py [HOST [PORT]]
"""

import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12014
friends = {name: (serverName, serverPort) for name in ("alice", "bob", "carol")}

clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(30)
try:
    name = input("Chat with (%s): " % ", ".join(friends)).strip()
    while name not in friends:
        name = input("No such friend; chat with: ").strip()
    while True:
        message = input("Message (q ends): ").strip()
        if message == "q":
            break
        if not message:
            continue
        clientSocket.sendto(("to %s: %s" % (name, message)).encode(), friends[name])
        reply, serverAddress = clientSocket.recvfrom(1024)
        print("From %s:%s: %s" % (serverAddress[0], serverAddress[1], reply.decode()), flush=True)
except EOFError:
    pass
clientSocket.close()
