# -*- test-case-name: tests.e2e.test_examples -*-
"""
The time server (time_server.py), reactor-driven.  The time comes from the
reactor (reactor.seconds(), a task.Clock in tests), and a bad format gets an
"error: ..." reply instead of killing the server.  sockservice's time
service adds the rest: rate limits, refused sources, TCP.

    python examples/twisted_time_server.py [PORT]        (0 picks a free port)
"""

import sys
import time

from twisted.internet import defer, protocol, task


def formatTime(request, seconds):
    """
    @return: the local time C{seconds} in the strftime format C{request}, or
        an error line; never longer than 512 bytes.
    """
    try:
        timeFormat = request.decode("utf-8") or "%Y-%m-%d %X"
        if len(request) > 256:
            return b"error: format longer than 256 bytes"
        reply = time.strftime(timeFormat, time.localtime(seconds)).encode("utf-8")
    except (UnicodeError, ValueError) as e:  # not UTF-8, embedded NUL, ...
        return b"error: " + str(e).encode("utf-8", "replace")[:200]
    if not reply or len(reply) > 512:
        return b"error: reply empty or longer than 512 bytes"
    return reply


class TimeServer(protocol.DatagramProtocol):
    """
    One format in, one time (or error) out, to the sender.
    """

    def __init__(self, clock):
        self.clock = clock

    def datagramReceived(self, data, address):  # recvfrom(1024)
        self.transport.write(formatTime(data, self.clock.seconds()), address)


async def main(reactor, port):
    listening = reactor.listenUDP(port, TimeServer(reactor), interface="127.0.0.1")
    print("The server is ready to receive on port", listening.getHost().port, flush=True)
    await defer.Deferred()  # serve until stopped (Ctrl-C, SIGTERM)


task.react(main, [int(sys.argv[1]) if len(sys.argv) > 1 else 12013])
