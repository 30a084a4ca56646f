# -*- test-case-name: tests.test_readiness -*-
"""
Whether the process is ready for new clients: what C{/readyz} answers.

L{Readiness} goes through three states, once each: C{starting} until every
listener is up, C{ready} while serving, C{stopping} from the moment a
shutdown begins.  A load balancer that health-checks C{/readyz} stops sending
new clients once it reads 503; C{--drain-delay S} keeps the listeners serving
S seconds more (L{Readiness.stop}), long enough for its next check, before
they close and the drain of open connections starts.
"""

from __future__ import annotations

from typing import List, Sequence

from twisted.application.service import IService
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

__all__ = ["Readiness", "STARTING", "READY", "STOPPING", "STOPPED", "stopInOrder"]

STARTING = "starting"
READY = "ready"
STOPPING = "stopping"
STOPPED = "stopped"


class Readiness:
    """
    The state of the process, for C{/readyz} and C{sockservice_ready}.

    @ivar state: L{STARTING}, L{READY}, L{STOPPING} or, once every listener
        and connection is closed, L{STOPPED}.
    """

    def __init__(self) -> None:
        self.state = STARTING

    @property
    def ready(self) -> bool:
        """
        Whether new clients are welcome: only in the L{READY} state.
        """
        return self.state == READY

    def started(self) -> None:
        """
        Every listener is up: ready, unless a shutdown has begun already.
        """
        if self.state == STARTING:
            self.state = READY

    def stop(self, clock: IReactorTime, delay: float = 0.0) -> Deferred[None]:
        """
        A shutdown begins: not ready from now on.

        @param delay: seconds to wait before the listeners close.
        @return: a L{Deferred} that fires after C{delay} seconds (at once,
            synchronously, when C{delay} is 0).
        """
        self.state = STOPPING
        if delay <= 0:
            return succeed(None)
        return deferLater(clock, delay, lambda: None)

    def stopped(self) -> None:
        """
        The listeners are closed and the drain is over.
        """
        self.state = STOPPED


def stopInOrder(
    services: Sequence[IService],
    readiness: Readiness,
    clock: IReactorTime,
    delay: float = 0.0,
) -> Deferred[None]:
    """
    Stop C{services} (the children of the top service, in reverse order, as
    L{MultiService} does) for a shutdown: L{Readiness.stop} at once; after
    C{delay} seconds, every service at once but those with a true
    C{stopsLast} attribute (the HTTP listener of C{/readyz}), which stop once
    the others, and so the drain, are done.

    @return: a L{Deferred} that fires once every service has stopped.
    """
    ordered = list(services)[::-1]
    first = [s for s in ordered if not getattr(s, "stopsLast", False)]
    last = [s for s in ordered if getattr(s, "stopsLast", False)]
    d = readiness.stop(clock, delay)
    d.addCallback(lambda _: _stopAll(first))
    d.addCallback(lambda _: readiness.stopped())
    d.addCallback(lambda _: _stopAll(last))
    return d


def _stopAll(services: List[IService]) -> Deferred[None]:
    stopping = [maybeDeferred(service.stopService) for service in services]
    return DeferredList(stopping).addCallback(lambda _: None)
