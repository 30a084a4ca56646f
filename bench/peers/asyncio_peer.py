"""
asyncio's way: a C{Protocol} and a C{DatagramProtocol} on the default event
loop, or on uvloop with C{--uvloop}, upper-casing with C{bytes.upper()}.
"""

import asyncio

from common import parseArgs


class UpperProtocol(asyncio.Protocol):
    """
    Upper-case everything a TCP client sends.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())  # type: ignore[attr-defined]


class UpperDatagramProtocol(asyncio.DatagramProtocol):
    """
    Answer each datagram with its upper-cased payload.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        self.transport.sendto(data.upper(), addr)  # type: ignore[attr-defined]


async def serve(host: str, tcpPort: int, udpPort: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(UpperProtocol, host, tcpPort, backlog=1024)
    await loop.create_datagram_endpoint(UpperDatagramProtocol, local_addr=(host, udpPort))
    await asyncio.Event().wait()


def main() -> None:
    args = parseArgs(__doc__.strip().splitlines()[0], extra=["--uvloop"])
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(args.host, args.tcp_port, args.udp_port))


if __name__ == "__main__":
    main()
