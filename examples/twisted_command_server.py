# -*- test-case-name: tests.e2e.test_examples -*-
"""
The remote-command server (command_server.py), reactor-driven: framing by
NetstringReceiver (no "sticky packets"), the same fixed table run without a
shell, and processes run by the reactor, so a slow command delays nobody.
Why the tutorial's shell=True server is a backdoor: see command_server.py.

    python examples/twisted_command_server.py [PORT]     (0 picks a free port)
"""

import shutil
import sys

from twisted.internet import defer, endpoints, protocol, task, utils
from twisted.protocols import basic

COMMANDS = {b"hello": ["echo", "hello"], b"date": ["date", "-u"], b"uptime": ["uptime"]}


def netstrings(fields):  # [b"run", b"hello"] -> b"3:run,5:hello,"
    return b"".join(b"%d:%s," % (len(f), f) for f in fields)


def fields(payload):  # b"3:run,5:hello," -> [b"run", b"hello"]
    out = []
    while payload:
        length, _, rest = payload.partition(b":")
        out.append(rest[: int(length)])
        payload = rest[int(length) + 1 :]
    return out


def run(request):  # -> Deferred firing with [status, stdout, stderr]
    try:
        verb, name, *args = fields(request)
    except ValueError:
        verb, name, args = b"", b"", []
    refusal = (
        b"bad request"
        if verb != b"run"
        else b"unknown command"
        if name not in COMMANDS
        else b"arguments not allowed"
        if args
        else None
    )
    if refusal:
        return defer.succeed([b"refused " + refusal, b"", b""])
    argv = COMMANDS[name]  # no shell: ";", "|" and "$( )" mean nothing
    ran = utils.getProcessOutputAndValue(shutil.which(argv[0]) or argv[0], argv[1:])
    return ran.addCallbacks(
        lambda r: [b"exit %d" % r[2], r[0], r[1]],  # (out, err, code)
        lambda failure: [b"failed", b"", b""],
    )  # killed by a signal


class CommandServer(basic.NetstringReceiver):
    """
    One netstring request in, one netstring reply out, in request order.
    """

    MAX_LENGTH = 4096

    def connectionMade(self):
        self.queue = defer.succeed(None)

    def stringReceived(self, request):  # request = readNetstring(connectionSocket)
        self.queue.addCallback(lambda _: run(request))
        self.queue.addCallback(lambda reply: self.sendString(netstrings(reply)))


async def main(reactor, port):
    endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
    listening = await endpoint.listen(protocol.Factory.forProtocol(CommandServer))
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12015])
