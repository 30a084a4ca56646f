"""
The standard library's way: C{socketserver.ThreadingTCPServer} (a thread per
connection) and C{socketserver.UDPServer}, upper-casing with C{bytes.upper()}.
"""

import socketserver
import threading

from common import parseArgs


class UpperStreamHandler(socketserver.BaseRequestHandler):
    """
    Upper-case everything a TCP client sends until it closes.
    """

    def handle(self) -> None:
        sock = self.request
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data.upper())


class UpperDatagramHandler(socketserver.BaseRequestHandler):
    """
    Answer one datagram with its upper-cased payload.
    """

    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024


class UDPServer(socketserver.UDPServer):
    allow_reuse_address = True
    max_packet_size = 65535


def main() -> None:
    args = parseArgs(__doc__.strip().splitlines()[0])
    udp = UDPServer((args.host, args.udp_port), UpperDatagramHandler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    TCPServer((args.host, args.tcp_port), UpperStreamHandler).serve_forever()


if __name__ == "__main__":
    main()
