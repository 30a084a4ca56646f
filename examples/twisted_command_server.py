# -*- test-case-name: tests.e2e.test_examples -*-
"""
The remote-command server (command_server.py), reactor-driven.  Framing is
Twisted's NetstringReceiver (no "sticky packets"), commands come from the
same fixed table and run without a shell through the reactor, so a slow
command delays nobody else.  Why the tutorial's shell=True server is a
backdoor: see command_server.py.  (sockservice --command adds an allow-list
file, arguments checked by patterns, timeouts, output caps and tokens.)

    python examples/twisted_command_server.py [PORT]     (0 picks a free port)
"""

import shutil
import sys

from twisted.internet import defer, endpoints, protocol, task, utils
from twisted.protocols import basic

COMMANDS = {b"hello": ["echo", "hello"], b"date": ["date", "-u"], b"uptime": ["uptime"]}


def netstrings(fields):
    return b"".join(b"%d:%s," % (len(f), f) for f in fields)


def fields(payload):
    out = []
    while payload:
        length, _, rest = payload.partition(b":")
        out.append(rest[: int(length)])
        payload = rest[int(length) + 1 :]
    return out


def run(request):
    """
    @return: a Deferred firing with the reply's fields: status, stdout, stderr.
    """
    try:
        verb, name, *args = fields(request)
    except ValueError:
        verb, name, args = b"", b"", []
    if verb != b"run":
        return defer.succeed([b"refused bad request", b"", b""])
    if name not in COMMANDS:
        return defer.succeed([b"refused unknown command", b"", b""])
    if args:
        return defer.succeed([b"refused arguments not allowed", b"", b""])
    argv = COMMANDS[name]  # no shell: ";", "|" and "$( )" mean nothing
    ran = utils.getProcessOutputAndValue(shutil.which(argv[0]) or argv[0], argv[1:])
    ran.addCallbacks(lambda r: [b"exit %d" % r[2], r[0], r[1]],
                     lambda failure: [b"failed", b"", b""])  # killed by a signal
    return ran


class CommandServer(basic.NetstringReceiver):
    """
    One netstring request in, one netstring reply out, in order.
    """

    MAX_LENGTH = 4096

    def connectionMade(self):
        self.queue = defer.succeed(None)  # replies leave in request order

    def stringReceived(self, request):  # readNetstring(connectionSocket)
        self.queue.addCallback(lambda _: run(request))
        self.queue.addCallback(lambda reply: self.sendString(netstrings(reply)))


async def main(reactor, port):
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(protocol.Factory.forProtocol(CommandServer))
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12015])
