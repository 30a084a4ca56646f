"""
Bare Twisted: a C{Protocol} and a C{DatagramProtocol} doing C{data.upper()}
and nothing else (no limits, no Unicode, no logging): the floor that
sockservice's features are priced against.
"""

from common import parseArgs
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol


class UpperProtocol(Protocol):
    """
    Upper-case everything a TCP client sends.
    """

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data.upper())


class UpperDatagramProtocol(DatagramProtocol):
    """
    Answer each datagram with its upper-cased payload.
    """

    def datagramReceived(self, data: bytes, addr: tuple) -> None:
        self.transport.write(data.upper(), addr)


def main() -> None:
    args = parseArgs(__doc__.strip().splitlines()[0])
    from twisted.internet import reactor

    factory = Factory.forProtocol(UpperProtocol)
    factory.noisy = False
    reactor.listenTCP(args.tcp_port, factory, backlog=1024, interface=args.host)
    reactor.listenUDP(
        args.udp_port, UpperDatagramProtocol(), interface=args.host, maxPacketSize=65535
    )
    reactor.run()


if __name__ == "__main__":
    main()
