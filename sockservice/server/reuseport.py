# -*- test-case-name: tests.integration.test_workers -*-
"""
The sockets that C{--workers} share: one per worker for each listener, bound
to the same address with C{SO_REUSEPORT} so that the kernel spreads
connections and datagrams over them.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from twisted.internet.error import CannotListenError

from sockservice.server.addresses import InetAddress

__all__ = ["Listener", "bindShared"]


@dataclass(frozen=True)
class Listener:
    """
    One C{--tcp} or C{--udp} listener that the workers share.

    @ivar kind: C{"tcp"} or C{"udp"}.
    @ivar description: as the user gave it, for messages.
    """

    kind: str
    description: str
    address: InetAddress


def bindShared(listener: Listener, count: int) -> list[socket.socket]:
    """
    Bind C{count} sockets to C{listener}'s address with C{SO_REUSEPORT} (the
    first one picks the port when it is 0), non-blocking and inheritable.

    @raise CannotListenError: if the address cannot be bound.
    """
    address = listener.address
    host = address.interface or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if listener.kind == "tcp" else socket.SOCK_DGRAM
    sockets: list[socket.socket] = []
    port = address.port
    try:
        for _ in range(count):
            s = socket.socket(family, kind)
            sockets.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            port = s.getsockname()[1]
            if kind == socket.SOCK_STREAM:
                s.listen(address.backlog or 1024)
            s.setblocking(False)
            s.set_inheritable(True)
    except OSError as e:
        for s in sockets:
            s.close()
        raise CannotListenError(host, port, e) from e
    return sockets
