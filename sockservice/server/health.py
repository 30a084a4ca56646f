# -*- test-case-name: tests.test_health -*-
"""
C{--metrics DESC}: the HTTP listener of C{/metrics}, C{/healthz} and
C{/readyz}, and C{--drain-delay}.

  - C{GET /metrics}: the Prometheus text format (L{sockservice.server.metrics},
    which needs the C{[metrics]} extra).
  - C{GET /healthz}: 200 while the reactor runs (whoever answers is alive).
  - C{GET /readyz}: 200 while L{Readiness} is ready, else 503.
  - Any other path: 404; another method on those three: 405.  Nothing else:
    no listings, nothing writable, no access log (scrapes every few seconds
    would fill it).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from sockservice.coerce import isDecimal, number, whole
from sockservice.server.addresses import tcpEndpoint
from sockservice.server.listeners import TCPListener
from sockservice.server.readiness import Readiness

__all__ = [
    "HealthConfig",
    "HealthOptions",
    "HealthResource",
    "MetricsListener",
    "MISSING_EXTRA",
    "checkExtra",
    "healthSite",
]

MISSING_EXTRA = (
    "sockservice: --metrics needs the prometheus_client package: pip install 'sockservice[metrics]'"
)
"""The one line that C{--metrics} without the C{[metrics]} extra exits with."""

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format's media type (what C{generate_latest} writes)."""


class HealthOptions(usage.Options):
    """
    C{--metrics} and C{--drain-delay}, composed into L{sockservice.tap.Options}.
    """

    optParameters: list[list[Any]] = [
        [
            "metrics",
            None,
            None,
            "Serve /metrics (Prometheus), /healthz and /readyz over HTTP on a port "
            "(on 127.0.0.1) or a Twisted endpoint description such as "
            "tcp:9120:interface=0.0.0.0 (needs sockservice[metrics]).",
        ],
        [
            "drain-delay",
            None,
            "0",
            "On SIGTERM, /readyz answers 503 at once, and the listeners keep "
            "serving this many seconds more before they close and the --drain begins.",
            number("--drain-delay"),
        ],
    ]

    def opt_metrics_pipe(self, fd: str) -> None:
        """Internal, used by --workers: answer the parent's requests for counts on descriptor FD."""
        self["metrics-pipe"] = whole(
            "--metrics-pipe", 0, None, "{option}: expected a descriptor, got {value!r}"
        )(fd)

    def healthConfig(self, backlog: int) -> HealthConfig:
        """
        @param backlog: the listen backlog of C{--metrics}, if it names none.
        @return: these options, parsed.
        @raise usage.UsageError: for a C{--metrics} that is not a port or a
            server endpoint description.
        """
        metrics = self["metrics"]
        if metrics is not None:
            if isDecimal(metrics):
                if int(metrics) > 65535:
                    raise usage.UsageError(
                        f"--metrics: invalid port {metrics!r} (expected 0-65535)"
                    )
                metrics = f"tcp:{int(metrics)}:interface=127.0.0.1"
            metrics = tcpEndpoint("--metrics", metrics, backlog)
        return HealthConfig(metrics, float(self["drain-delay"]), self.get("metrics-pipe"))


@dataclass(frozen=True)
class HealthConfig:
    """
    C{--metrics} and C{--drain-delay}, parsed.

    @ivar metrics: the full endpoint description of the HTTP listener, or
        L{None} for none.
    @ivar metricsPipe: in a worker of C{--workers}, where to send its counts.
    """

    metrics: Optional[str] = None
    drainDelay: float = 0.0
    metricsPipe: Optional[int] = None


def checkExtra() -> None:
    """
    @raise SystemExit: with L{MISSING_EXTRA}, when C{prometheus_client}
        cannot be imported.
    """
    if importlib.util.find_spec("prometheus_client") is None:
        raise SystemExit(MISSING_EXTRA)


class HealthResource(Resource):
    """
    The whole HTTP site: three pages, each a leaf.
    """

    isLeaf = True

    def __init__(self, readiness: Readiness, metrics: Callable[[], Deferred[bytes]]) -> None:
        """
        @param metrics: renders the C{/metrics} page.
        """
        super().__init__()
        self.readiness = readiness
        self.metrics = metrics

    def render(self, request: Request) -> Any:
        path = request.path
        if path not in (b"/metrics", b"/healthz", b"/readyz"):
            return self._plain(request, 404, b"not found\n")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return self._plain(request, 405, b"method not allowed\n")
        if path == b"/healthz":
            return self._plain(request, 200, b"ok\n")
        if path == b"/readyz":
            if self.readiness.ready:
                return self._plain(request, 200, b"ready\n")
            return self._plain(request, 503, self.readiness.state.encode() + b"\n")
        return self._renderMetrics(request)

    def _plain(self, request: Request, code: int, body: bytes) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return body

    def _renderMetrics(self, request: Request) -> object:
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def rendered(body: bytes) -> None:
            if gone:
                return
            request.setHeader(b"content-type", CONTENT_TYPE)
            request.write(body)
            request.finish()

        def failed(failure: Failure) -> None:
            if gone:
                return
            request.setResponseCode(500)
            request.write(b"cannot render the metrics\n")
            request.finish()

        self.metrics().addCallbacks(rendered, failed)
        return NOT_DONE_YET


class HealthSite(Site):
    """
    A L{Site} that writes no access log and no start/stop lines.
    """

    noisy = False
    displayTracebacks = False

    def log(self, request: http.Request) -> None:
        pass


def healthSite(readiness: Readiness, metrics: Callable[[], Deferred[bytes]]) -> Site:
    """
    @return: the HTTP factory of C{--metrics}.
    """
    return HealthSite(HealthResource(readiness, metrics))


class MetricsListener(TCPListener):
    """
    The listener of C{--metrics}: it stops last, once the other listeners
    and the drain are done (see L{sockservice.server.readiness.stopInOrder}),
    so that C{/readyz} answers 503 throughout the shutdown.
    """

    stopsLast = True
