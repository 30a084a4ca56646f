# -*- test-case-name: tests.test_tap -*-
"""
The service tree: one listener service per endpoint under a top service that
turns a failure to listen into a one-line exit instead of a traceback.
"""

from __future__ import annotations

import resource
from typing import Any, Optional

from twisted.application.service import MultiService, Service
from twisted.application.internet import UDPServer
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["TCPListener", "UDPListener", "SockService", "ListenFailed", "raiseFileLimit"]


class ListenFailed(SystemExit):
    """
    A listener could not start: exit with one line naming it and the cause.
    """

    def __init__(self, description: str, error: BaseException) -> None:
        cause = getattr(getattr(error, "socketError", None), "strerror", None)
        super().__init__(
            f"sockservice: cannot listen on {description}: {cause or error}"
        )


class TCPListener(Service):
    """
    Listen on one stream server endpoint while running; log where once up.

    (Like L{twisted.application.internet.StreamServerEndpointService}, but it
    logs the bound address and fails to start synchronously.)
    """

    log = Logger()

    def __init__(
        self, description: str, endpoint: IStreamServerEndpoint, factory: Factory
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
            raise ListenFailed(self.description, failures[0].value)

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        self._waiting = None
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
        if port is None:
            return succeed(None)
        return maybeDeferred(port.stopListening)


class UDPListener(UDPServer):
    """
    L{UDPServer} that knows the description it was made from, for errors.
    """

    def __init__(self, description: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.description = description


class SockService(MultiService):
    """
    The top of the tree: raises the file-descriptor limit, starts the
    listeners, and makes a UDP listener's failure to bind a one-line exit as
    well.
    """

    def __init__(self, fileLimit: int = 0) -> None:
        super().__init__()
        self.fileLimit = fileLimit

    def privilegedStartService(self) -> None:
        raiseFileLimit(self.fileLimit)
        for child in self:
            try:
                child.privilegedStartService()
            except CannotListenError as e:
                raise ListenFailed(getattr(child, "description", child.name), e)


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
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
