"""
Textbook-style TCP client for sockservice's command service
(twistd sockservice --command 12015 --command-allow examples/commands.ini),
showing the framing that ends the "sticky packet" problem: the request and
the reply are netstrings ("LENGTH:bytes,"), so the client reads exactly one
whole reply, however large, and never a piece of the next one.

    python examples/command_client.py HOST PORT NAME [ARG ...]
"""

import sys
from socket import create_connection


def netstring(data):
    return b"%d:%s," % (len(data), data)


def readExactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed the connection")
        data += chunk
    return data


def readNetstring(sock):
    length = b""
    while not length.endswith(b":"):
        length += readExactly(sock, 1)
    body = readExactly(sock, int(length[:-1]) + 1)
    return body[:-1]


def fields(payload):
    out = []
    while payload:
        length, _, rest = payload.partition(b":")
        out.append(rest[: int(length)])
        payload = rest[int(length) + 1 :]
    return out


host, port, name, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
request = b"".join(netstring(f) for f in [b"run", name.encode()] + [a.encode() for a in args])
with create_connection((host, port)) as sock:
    sock.sendall(netstring(request))
    status, out, err = fields(readNetstring(sock))
sys.stdout.buffer.write(out)
sys.stderr.buffer.write(err)
print("status:", status.decode(), file=sys.stderr)
