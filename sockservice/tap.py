# -*- test-case-name: tests.test_tap -*-
"""
The C{twistd sockservice} entry point: L{Options} and L{makeService}.

Each service package contributes one fragment: its options (with their own
checks) and an C{addServices} function.  L{Options} composes the fragments'
options; L{makeService} composes their services under one
L{SockService}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from twisted.application.service import IService
from twisted.internet.defer import Deferred
from twisted.python import usage

import sockservice.chat.tap
import sockservice.command.tap
import sockservice.timeserver.tap
import sockservice.uppercase.tap
from sockservice.chat.tap import ChatConfig, ChatOptions
from sockservice.command.tap import CommandConfig, CommandOptions
from sockservice.server.counters import Snapshot
from sockservice.server.drain import DrainService
from sockservice.server.health import HealthConfig, HealthOptions, MetricsListener, checkExtra
from sockservice.server.heap import HeapFreeze
from sockservice.server.interfaces import IServerReactor
from sockservice.server.listeners import SockService
from sockservice.server.options import ServerConfig, ServerOptions, Shared
from sockservice.server.parent import ParentWatch
from sockservice.server.readiness import Readiness
from sockservice.server.snapshots import SnapshotAnswers, gatherSnapshots
from sockservice.server.systemd import Notifier, ReadinessService
from sockservice.server.workers import WorkerPool
from sockservice.timeserver.tap import TimeConfig, TimeOptions
from sockservice.uppercase.tap import DEFAULT_PORT, UppercaseConfig, UppercaseOptions

__all__ = ["Config", "Options", "makeService"]


@dataclass(frozen=True)
class Config:
    """
    Everything L{Options} parsed: the shared options and each service's.
    """

    server: ServerConfig
    uppercase: UppercaseConfig
    time: TimeConfig
    chat: ChatConfig
    command: CommandConfig
    health: HealthConfig


class Options(
    UppercaseOptions, TimeOptions, ChatOptions, CommandOptions, HealthOptions, ServerOptions
):
    """
    Command line of C{twistd sockservice}: the fragments' options together.

    @ivar config: after parsing, the L{Config}.
    """

    synopsis = "[--tcp DESC]... [--udp DESC]... [options]"
    longdesc = (
        "Serve the textbook upper-casing service: every byte sent over TCP comes "
        "back upper-cased on the same connection, and every UDP datagram is "
        "answered with its upper-cased payload. With neither --tcp nor --udp, "
        f"listens on TCP {DEFAULT_PORT} and UDP {DEFAULT_PORT} on all IPv4 "
        "interfaces."
    )

    def postOptions(self) -> None:
        """
        Check every fragment's options into L{config}; a failure is a
        L{usage.UsageError} of one line, whatever words it quotes (an
        allow-list's parser, Twisted's endpoint parser).
        """
        try:
            server = self.serverConfig()
            time = self.timeConfig(server)
            chat = self.chatConfig(server)
            command = self.commandConfig(server)
            uppercase = self.uppercaseConfig(server, not (time or chat or command))
            health = self.healthConfig(server.backlog)
        except usage.UsageError as e:
            raise usage.UsageError(" ".join(str(e).split())) from None
        self.config = Config(server, uppercase, time, chat, command, health)

    def workerArguments(self) -> list[str]:
        """
        The options that every worker of C{--workers} runs with: C{--case}
        and the shared ones (the UDP rate divided among the workers), without
        the listeners and the worker count.
        """
        return [f"--case={self['case']}", *self.sharedArguments(self["workers"])]


def makeService(options: Options, reactor: Optional[IServerReactor] = None) -> IService:
    """
    Build the service tree: each service's listeners (the uppercase one
    possibly as a pool of C{--workers}); the drain of every open TCP
    connection on stop; when it runs the process (no C{reactor} given), the
    start-up heap kept from the garbage collector (L{HeapFreeze}); and, when
    started by systemd with C{Type=notify}, the readiness notification.

    @param options: parsed L{Options}.
    @param reactor: the reactor to listen with; by default the global one,
        set up for a server process (L{sockservice._fast.switch}), and
        then the process is tuned as a server's.
    """
    ownsProcess = reactor is None
    if reactor is None:
        from sockservice._fast.switch import serverReactor

        reactor = serverReactor()
    config = options.config
    if config.health.metrics is not None:
        checkExtra()
    shared = Shared.forProcess(config.server, reactor)
    readiness = Readiness()
    top = SockService(
        config.server.maxConnections + 256,
        shared.guard,
        readiness,
        config.health.drainDelay,
        reactor,
    )
    # In this process even with --workers: a chat's members and the limit on
    # concurrent commands belong to one process.
    sockservice.timeserver.tap.addServices(top, config.time, shared)
    sockservice.chat.tap.addServices(top, config.chat, shared)
    sockservice.command.tap.addServices(top, config.command, shared)
    sockservice.uppercase.tap.addServices(top, config.uppercase, shared, options.workerArguments())
    DrainService(shared.guard.openConnections, config.server.drain, reactor).setServiceParent(top)
    if config.server.parentPipe is not None:
        # A worker of --workers: stop when the parent is gone, and answer
        # its requests for counts.
        received = None
        if config.health.metricsPipe is not None:
            received = SnapshotAnswers(config.health.metricsPipe, shared.metrics.snapshot)
        ParentWatch(
            config.server.parentPipe,
            reactor,
            received=None if received is None else received.dataReceived,
        ).setServiceParent(top)
    if config.health.metrics is not None:
        _serveMetrics(top, config.health.metrics, shared, readiness)
    if ownsProcess:
        # After the services: it freezes what they made as they started.
        HeapFreeze().setServiceParent(top)
    _notifyReadiness(top)
    return top


def _serveMetrics(top: SockService, endpoint: str, shared: Shared, readiness: Readiness) -> None:
    """
    Add the C{--metrics} listener to C{top}: C{/metrics} of this process
    (and of its workers, which are told to answer), C{/healthz}, C{/readyz}.
    """
    from twisted.internet.endpoints import serverFromString

    from sockservice.server.health import healthSite
    from sockservice.server.metrics import MetricsPage, buildInfo

    pool = next((s for s in top if isinstance(s, WorkerPool)), None)
    workers = None
    if pool is not None:
        pool.reportCounts = True

        def workers() -> Deferred[Dict[int, Optional[Snapshot]]]:
            return gatherSnapshots(
                {i: getattr(pool.workers.get(i), "requests", None) for i in range(pool.count)}
            )

    info = buildInfo(shared.reactor)
    shared.metrics.source(lambda: [info])
    guard = shared.guard
    shared.metrics.source(
        lambda: [("sockservice_proxy_headers_rejected_total", {}, guard.proxyHeadersRejected)]
    )
    page = MetricsPage(shared.metrics.snapshot, readiness, workers)
    site = healthSite(readiness, page.render)
    MetricsListener(
        "metrics " + endpoint, serverFromString(shared.reactor, endpoint), site
    ).setServiceParent(top)


def _notifyReadiness(top: SockService) -> None:
    """
    When started by systemd with C{Type=notify}, add the readiness service
    last: started once every listener is up, stopped first.  C{NOTIFY_SOCKET}
    is taken out of the environment, so that C{--workers} processes do not
    notify too.
    """
    notifier = Notifier.fromEnvironment(unset=True)
    if notifier is not None:
        ReadinessService(notifier).setServiceParent(top)
