# -*- test-case-name: tests.e2e.test_examples -*-
"""
Textbook-style TCP remote-command server: the tutorials' last step, made safe
to run.  It serves one client at a time; each request names a command from
the fixed table COMMANDS below, which is run without a shell, and the reply
carries its exit status, output and errors.

Why the tutorial's version is dangerous: it passes whatever bytes arrive to
subprocess.Popen(..., shell=True).  Anybody who can connect runs anything as
you ("rm -rf ~", "curl ... | sh", a reverse shell): it is a backdoor, not a
service.  Here a client only chooses a name; an unknown name, or any
argument, is refused, and nothing is ever parsed by a shell.

The tutorial's other problem is "sticky packets": TCP is a byte stream, so
an answer longer than one recv(1024) spills into the next one.  Here every
request and reply is a netstring ("LENGTH:bytes,") of netstrings, the frames
of sockservice's command service, so command_client.py, twisted_command_client.py
and "sockservice-client command" all work against it.

Still left: one client at a time, and a slow command blocks everyone.

    python examples/command_server.py [PORT]        (0 picks a free port)
"""

import subprocess
import sys
from socket import AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, socket

COMMANDS = {  # name -> argv: harmless, quick, and the only things that ever run
    b"hello": ["echo", "hello"],
    b"date": ["date", "-u"],
    b"uptime": ["uptime"],
}


def netstring(data):
    return b"%d:%s," % (len(data), data)


def readExactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def readNetstring(sock):
    length = b""
    while not length.endswith(b":"):
        length += readExactly(sock, 1)
        if len(length) > 5:  # at most 4096 bytes: "4096:"
            raise EOFError
    if int(length[:-1]) > 4096:
        raise EOFError
    return readExactly(sock, int(length[:-1]) + 1)[:-1]


def fields(payload):
    out = []
    while payload:
        length, _, rest = payload.partition(b":")
        out.append(rest[: int(length)])
        payload = rest[int(length) + 1 :]
    return out


def run(request):
    try:
        verb, *args = fields(request)
    except ValueError:
        return [b"refused bad request", b"", b""]
    if verb != b"run" or not args:
        return [b"refused bad request", b"", b""]
    if args[0] not in COMMANDS:
        return [b"refused unknown command", b"", b""]
    if len(args) > 1:
        return [b"refused arguments not allowed", b"", b""]
    try:
        done = subprocess.run(COMMANDS[args[0]], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return [b"refused cannot run", b"", b""]
    return [b"exit %d" % done.returncode, done.stdout, done.stderr]


serverPort = int(sys.argv[1]) if len(sys.argv) > 1 else 12015

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(("127.0.0.1", serverPort))  # loopback only, never a public address
serverSocket.listen(5)
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:  # the connection loop
    connectionSocket, addr = serverSocket.accept()
    print("Accept new connection from %s:%s" % addr, flush=True)
    while True:  # the communication loop: one framed request, one framed reply
        try:
            request = readNetstring(connectionSocket)
        except (EOFError, ValueError, ConnectionResetError):
            break
        connectionSocket.sendall(netstring(b"".join(netstring(f) for f in run(request))))
    connectionSocket.close()
