# -*- test-case-name: tests.test_tap -*-
"""
The service tree: one listener service per endpoint under a top service that
turns a failure to listen into a one-line exit instead of a traceback.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
from typing import Any, Optional, cast

from twisted.application.internet import UDPServer
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError, InvalidAddressError
from twisted.internet.fdesc import setNonBlocking
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorSocket,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockservice.server.guard import ConnectionGuard
from sockservice.server.readiness import Readiness, stopInOrder

__all__ = [
    "AdoptedUDPListener",
    "socketFamily",
    "TCPListener",
    "UDPListener",
    "SockService",
    "ListenFailed",
    "raiseFileLimit",
    "setListenerNoDelay",
]


class ListenFailed(SystemExit):
    """
    A listener could not start: exit with one line naming it and the cause.
    """

    def __init__(self, description: str, error: BaseException) -> None:
        cause = getattr(getattr(error, "socketError", None), "strerror", None)
        if isinstance(error, InvalidAddressError):
            cause = f"{error.address!r} is {error.message.rstrip('.')}"
        super().__init__(f"sockservice: cannot listen on {description}: {cause or error}")


class TCPListener(Service):
    """
    Listen on one stream server endpoint while running; log where once up.

    (Like L{twisted.application.internet.StreamServerEndpointService}, but it
    logs the bound address and fails to start synchronously.)
    """

    log = Logger()

    def __init__(
        self, description: str, endpoint: IStreamServerEndpoint, factory: IProtocolFactory
    ) -> None:
        self.description = description
        self.endpoint = endpoint
        self.factory = factory
        self.port: Optional[IListeningPort] = None
        self._waiting: Optional[Deferred[Any]] = None

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        failures: list[Failure] = []
        self._waiting = self.endpoint.listen(self.factory)
        self._waiting.addCallbacks(self._listening, failures.append)
        if failures:
            error = failures[0].value
            assert error is not None  # a Failure made from an exception
            raise ListenFailed(self.description, error)

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        self._waiting = None
        _ensureNonBlocking(port)
        if setListenerNoDelay(port) and hasattr(self.factory, "acceptedNoDelay"):
            self.factory.acceptedNoDelay = True
        address = port.getHost()
        self.log.info(
            "sockservice: listening on TCP {host}:{port}",
            host=getattr(address, "host", getattr(address, "name", address)),
            port=getattr(address, "port", ""),
        )

    def startService(self) -> None:
        if self._waiting is None and self.port is None:
            self.privilegedStartService()
        super().startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._waiting is not None:
            self._waiting.cancel()
        port, self.port = self.port, None
        return succeed(None) if port is None else _stopListening(port)


class UDPListener(UDPServer):
    """
    L{UDPServer} that knows the description it was made from, for errors.
    """

    def __init__(self, description: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.description = description


class AdoptedUDPListener(Service):
    """
    Serve a datagram protocol on an inherited, already bound UDP socket.
    """

    def __init__(
        self,
        description: str,
        fileno: int,
        protocol: DatagramProtocol,
        reactor: IReactorSocket,
    ) -> None:
        self.description = description
        self.fileno = fileno
        self.protocol = protocol
        self.reactor = reactor
        self.port: Optional[IListeningPort] = None

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        family = socketFamily(self.fileno)
        setNonBlocking(self.fileno)
        self.port = self.reactor.adoptDatagramPort(
            self.fileno, family, self.protocol, maxPacketSize=65535
        )
        os.close(self.fileno)  # the reactor adopted a duplicate
        _ensureNonBlocking(self.port)

    def startService(self) -> None:
        if self.port is None:
            self.privilegedStartService()
        super().startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        port, self.port = self.port, None
        return succeed(None) if port is None else _stopListening(port)


def _stopListening(port: IListeningPort) -> Deferred[None]:
    """
    Stop listening on C{port}.

    @return: a L{Deferred} that fires with L{None} once C{port} has stopped
        (at once if C{stopListening} returns no L{Deferred}), or fails with
        what C{stopListening} raised.
    """
    # A Deferred returned by stopListening is chained: the result is None,
    # which maybeDeferred's annotations cannot express.
    return cast("Deferred[None]", maybeDeferred(lambda: port.stopListening()))


def _ensureNonBlocking(port: object) -> None:
    """
    Make sure a listening port's socket is non-blocking: systemd passes
    blocking sockets, and on PyPy adopting a socket (C{socket.fromfd}) makes
    it blocking again, and one C{accept} or C{recvfrom} too many would then
    block the whole reactor.
    """
    fileno = getattr(port, "fileno", None)
    if fileno is not None:
        setNonBlocking(fileno())


def setListenerNoDelay(port: object) -> bool:
    """
    Set C{TCP_NODELAY} on a listening TCP socket.

    Linux copies it to every connection accepted from that socket, which
    spares each connection a C{setsockopt} of its own.

    @return: whether connections accepted from C{port} will have
        C{TCP_NODELAY} set: only on Linux, and only for a TCP socket.
    """
    skt = getattr(port, "socket", None)
    if skt is None or not sys.platform.startswith("linux"):
        return False
    if skt.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        skt.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return False
    return True


def socketFamily(fileno: int) -> socket.AddressFamily:
    """
    @return: the address family of the socket open as C{fileno}.
    """
    with socket.socket(fileno=fileno) as s:
        family = s.family
        s.detach()
    return family


class SockService(MultiService):
    """
    The top of the tree: raises the file-descriptor limit, starts the
    listeners, and makes a UDP listener's failure to bind a one-line exit as
    well.
    """

    def __init__(
        self,
        fileLimit: int = 0,
        guard: Optional[ConnectionGuard] = None,
        readiness: Optional[Readiness] = None,
        drainDelay: float = 0.0,
        clock: Optional[IReactorTime] = None,
    ) -> None:
        """
        @param fileLimit: the open-files limit wanted.
        @param guard: the process's TCP limits, whose total cap is lowered
            to fit the open-files limit actually obtained.
        @param readiness: ready once every child has started; on stop, not
            ready at once, and the children stop C{drainDelay} seconds later
            on C{clock} (see L{stopInOrder}).
        """
        super().__init__()
        self.fileLimit = fileLimit
        self.guard = guard
        self.readiness = readiness
        self.drainDelay = drainDelay
        self.clock = clock

    def startService(self) -> None:
        super().startService()
        if self.readiness is not None:
            self.readiness.started()

    def stopService(self) -> Deferred[Any]:
        if self.readiness is None or self.clock is None:
            return cast("Deferred[Any]", super().stopService())
        Service.stopService(self)
        return stopInOrder(list(self), self.readiness, self.clock, self.drainDelay)

    def privilegedStartService(self) -> None:
        obtained = raiseFileLimit(self.fileLimit)
        if self.guard is not None:
            self.guard.fitDescriptors(obtained)
        for child in self:
            try:
                child.privilegedStartService()
            except (CannotListenError, InvalidAddressError, OSError) as e:
                raise ListenFailed(getattr(child, "description", child.name), e) from e


def raiseFileLimit(wanted: int) -> int:
    """
    Raise the soft limit on open files towards C{wanted} (never above the
    hard limit, never lowering it), so that the connection cap, not the
    default limit of 1024, decides how many clients are served.

    @return: the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as e:
            # A sandbox may forbid it: serve anyway, within the current limit.
            Logger().warn(
                "sockservice: cannot raise the open-files limit to {target}: {error}",
                target=target,
                error=e,
            )
            return soft
        return target
    return soft
