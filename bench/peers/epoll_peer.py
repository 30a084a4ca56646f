"""
No framework: one C{select.epoll} loop over plain non-blocking sockets,
upper-casing with C{bytes.upper()}.

Not a server anyone would pick (no limits, no logging, no Unicode, no
half-close beyond "send what is due, then close"): it is the floor for a
Python server on a given interpreter, which shows how much of a framework's
cost per request or per connection is the framework's own.  It still keeps
the rules every reply is checked against: nothing is lost, and a client that
does not read stops being read from until its replies are sent.
"""

import select
import socket
from typing import Dict

from common import parseArgs

IN = select.EPOLLIN
OUT = select.EPOLLOUT
PER_EVENT = 64  # connections accepted, or datagrams answered, per event


def bound(kind: int, host: str, port: int) -> socket.socket:
    """
    A non-blocking socket of C{kind} bound to C{host}:C{port}.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.setblocking(False)
    return s


class Loop:
    """
    The TCP listener, its connections and the UDP socket, on one poller.
    """

    def __init__(self, host: str, tcpPort: int, udpPort: int) -> None:
        self.poller = select.epoll()
        self.listener = bound(socket.SOCK_STREAM, host, tcpPort)
        # Linux copies TCP_NODELAY from the listening socket to each connection.
        self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.listener.listen(1024)
        self.udp = bound(socket.SOCK_DGRAM, host, udpPort)
        self.poller.register(self.listener.fileno(), IN)
        self.poller.register(self.udp.fileno(), IN)
        self.connections: Dict[int, socket.socket] = {}
        self.unsent: Dict[int, bytes] = {}

    def run(self) -> None:
        """
        Serve until killed.
        """
        listenerFd, udpFd = self.listener.fileno(), self.udp.fileno()
        while True:
            for fd, _events in self.poller.poll(-1, 1024):
                if fd == listenerFd:
                    self.accept()
                elif fd == udpFd:
                    self.answerDatagrams()
                elif fd in self.connections:
                    self.serve(fd)

    def accept(self) -> None:
        """
        Take the connections waiting on the listener, a batch at a time.
        """
        for _ in range(PER_EVENT):
            try:
                s, _address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            s.setblocking(False)
            self.connections[s.fileno()] = s
            self.poller.register(s.fileno(), IN)

    def serve(self, fd: int) -> None:
        """
        Send what is still due on connection C{fd}, or else read and answer.
        """
        s = self.connections[fd]
        try:
            unsent = self.unsent.get(fd)
            if unsent is not None:
                self.send(fd, s, unsent)
                return
            data = s.recv(65536)
            if not data:
                self.close(fd, s)
            else:
                self.send(fd, s, data.upper())
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close(fd, s)

    def send(self, fd: int, s: socket.socket, data: bytes) -> None:
        """
        Send C{data}; keep what the socket did not take, and stop reading
        until it is sent (the poller then waits for C{OUT} instead of C{IN}).
        """
        try:
            sent = s.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        waiting = fd in self.unsent
        if sent < len(data):
            self.unsent[fd] = data[sent:]
            if not waiting:
                self.poller.modify(fd, OUT)
        elif waiting:
            del self.unsent[fd]
            self.poller.modify(fd, IN)

    def close(self, fd: int, s: socket.socket) -> None:
        """
        Forget connection C{fd} and close it.
        """
        self.poller.unregister(fd)
        del self.connections[fd]
        self.unsent.pop(fd, None)
        s.close()

    def answerDatagrams(self) -> None:
        """
        Answer the datagrams waiting, a batch at a time.
        """
        for _ in range(PER_EVENT):
            try:
                data, address = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error from an earlier reply
            try:
                self.udp.sendto(data.upper(), address)
            except OSError:
                pass  # UDP: a full buffer drops the reply


def main() -> None:
    args = parseArgs(__doc__.strip().splitlines()[0])
    Loop(args.host, args.tcp_port, args.udp_port).run()


if __name__ == "__main__":
    main()
