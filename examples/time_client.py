"""
Textbook-style UDP time client, for sockservice's time service
(twistd sockservice --time 12013).  Compare with sockservice.timeserver.client: this
one waits forever if the datagram is lost, and accepts a reply from anybody.

    python examples/time_client.py [HOST [PORT]]    then type formats, Ctrl-D ends
"""

import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12013

clientSocket = socket(AF_INET, SOCK_DGRAM)
while True:
    try:
        fmt = input("Time format (e.g. %Y-%m-%d %H:%M): ")
    except EOFError:
        break
    clientSocket.sendto(fmt.encode(), (serverName, serverPort))
    reply, serverAddress = clientSocket.recvfrom(2048)
    print("From Server:", reply.decode())
clientSocket.close()
