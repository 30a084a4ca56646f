# -*- test-case-name: tests.e2e.test_examples -*-
"""
The remote-command client (command_client.py), reactor-driven: one framed
request, one framed reply, read whole by NetstringReceiver however TCP cuts
it.  Output goes to stdout, errors and the status to stderr.  Works against
command_server.py, twisted_command_server.py and sockservice --command.

    python examples/twisted_command_client.py HOST PORT NAME [ARG ...]
"""

import sys

from twisted.internet import defer, endpoints, protocol, task
from twisted.protocols import basic


def netstrings(fields):
    return b"".join(b"%d:%s," % (len(f), f) for f in fields)


def fields(payload):
    out = []
    while payload:
        length, _, rest = payload.partition(b":")
        out.append(rest[: int(length)])
        payload = rest[int(length) + 1 :]
    return out


class CommandClient(basic.NetstringReceiver):
    """
    Send one request when connected; the first reply ends the connection.
    """

    def __init__(self, request):
        self.request, self.reply = request, defer.Deferred()

    def connectionMade(self):
        self.sendString(netstrings(self.request))  # sock.sendall(netstring(request))

    def stringReceived(self, reply):  # readNetstring(sock): one whole reply
        self.reply.callback(fields(reply))
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.reply.called:
            self.reply.errback(reason)


async def main(reactor, host, port, name, *args):
    request = [b"run"] + [a.encode() for a in (name,) + args]
    endpoint = endpoints.HostnameEndpoint(reactor, host, int(port), timeout=10)
    client = await endpoint.connect(protocol.Factory.forProtocol(lambda: CommandClient(request)))
    status, out, err = await client.reply.addTimeout(30, reactor)
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    print("status:", status.decode(), file=sys.stderr)


if len(sys.argv) < 4:
    raise SystemExit(__doc__.strip().splitlines()[-1].strip())
task.react(main, sys.argv[1:])
