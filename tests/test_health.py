# -*- test-case-name: tests.test_health -*-
"""
Tests for L{sockservice.server.readiness}, L{sockservice.server.health} and
L{sockservice.server.metrics}: the readiness state machine with a
L{Clock}, the HTTP pages in memory, the C{--metrics} options.
"""

from __future__ import annotations

from unittest import mock

from prometheus_client.parser import text_string_to_metric_families
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from sockservice.server.health import MISSING_EXTRA, HealthResource, checkExtra
from sockservice.server.listeners import SockService
from sockservice.server.metrics import MetricsPage, mergeWorkers
from sockservice.server.readiness import READY, STARTING, STOPPED, STOPPING, Readiness
from sockservice.tap import Options


class _Recorder(Service):
    def __init__(self, name: str, log: list, stopsLast: bool = False) -> None:
        self.setName(name)
        self.log = log
        self.stopsLast = stopsLast
        self.stopping: Deferred[None] = Deferred()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.log.append(self.name)
        return self.stopping


class ReadinessTests(SynchronousTestCase):
    """
    Starting, ready, stopping, stopped: in that order, once each.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.readiness = Readiness()
        self.log: list = []
        self.top = SockService(readiness=self.readiness, drainDelay=2.0, clock=self.clock)
        self.listener = _Recorder("listener", self.log)
        self.listener.setServiceParent(self.top)
        self.http = _Recorder("http", self.log, stopsLast=True)
        self.http.setServiceParent(self.top)

    def test_readyOnceStarted(self) -> None:
        """
        Not ready before every child has started; ready after.
        """
        self.assertEqual((self.readiness.state, self.readiness.ready), (STARTING, False))
        self.top.startService()
        self.assertEqual((self.readiness.state, self.readiness.ready), (READY, True))

    def test_drainDelay(self) -> None:
        """
        On stop, not ready at once; the listeners stop C{drainDelay}
        seconds later, and the C{stopsLast} child only once they have.
        """
        self.top.startService()
        stopped = self.top.stopService()
        self.assertEqual((self.readiness.state, self.log), (STOPPING, []))
        self.clock.advance(1.9)
        self.assertEqual(self.log, [])
        self.clock.advance(0.1)
        self.assertEqual(self.log, ["listener"])
        self.listener.stopping.callback(None)
        self.assertEqual((self.log, self.readiness.state), (["listener", "http"], STOPPED))
        self.assertNoResult(stopped)
        self.http.stopping.callback(None)
        self.successResultOf(stopped)

    def test_noDelay(self) -> None:
        """
        Without a delay the listeners stop in the same call.
        """
        self.top.drainDelay = 0
        self.top.startService()
        self.top.stopService()
        self.assertEqual(self.log, ["listener"])

    def test_stopBeforeStarted(self) -> None:
        """
        A shutdown during start-up is never ready.
        """
        self.readiness.stop(self.clock)
        self.readiness.started()
        self.assertFalse(self.readiness.ready)


def _get(resource: HealthResource, path: bytes, method: bytes = b"GET") -> tuple:
    request = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.path = path
    request.method = method
    result = resource.render(request)
    if isinstance(result, bytes):
        request.write(result)
        request.finish()
    return request.responseCode or 200, b"".join(request.written), request


class HealthResourceTests(SynchronousTestCase):
    """
    Three pages, GET only, nothing else.
    """

    def setUp(self) -> None:
        self.readiness = Readiness()
        self.resource = HealthResource(self.readiness, lambda: succeed(b"# metrics\n"))

    def test_healthz(self) -> None:
        """
        C{/healthz} answers 200 whenever it answers.
        """
        self.assertEqual(_get(self.resource, b"/healthz")[:2], (200, b"ok\n"))

    def test_readyz(self) -> None:
        """
        C{/readyz}: 503 starting, 200 ready, 503 stopping.
        """
        codes = [_get(self.resource, b"/readyz")[0]]
        self.readiness.started()
        codes.append(_get(self.resource, b"/readyz")[0])
        self.readiness.stop(Clock())
        codes.append(_get(self.resource, b"/readyz")[0])
        self.assertEqual(codes, [503, 200, 503])

    def test_metrics(self) -> None:
        """
        C{/metrics} is what the renderer gives, as the text format.
        """
        code, body, request = _get(self.resource, b"/metrics")
        self.assertEqual((code, body), (200, b"# metrics\n"))
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"text/plain; version=0.0.4; charset=utf-8"],
        )

    def test_notFound(self) -> None:
        """
        Any other path is 404, whatever the method: no listing, no index.
        """
        for path in (b"/", b"/metrics/", b"/readyz/x", b"/favicon.ico", b"/healthz.txt"):
            for method in (b"GET", b"POST", b"PUT"):
                self.assertEqual(_get(self.resource, path, method)[0], 404, (path, method))

    def test_otherMethods(self) -> None:
        """
        Writing methods on the three pages are 405, with C{Allow}.
        """
        for method in (b"POST", b"PUT", b"DELETE"):
            code, _, request = _get(self.resource, b"/metrics", method)
            self.assertEqual(code, 405)
            self.assertEqual(request.responseHeaders.getRawHeaders(b"allow"), [b"GET, HEAD"])


class MetricsPageTests(SynchronousTestCase):
    """
    L{MetricsPage} writes the Prometheus text format, with the workers'
    totals and breakdown.
    """

    def test_parses(self) -> None:
        """
        The page parses; counters keep their C{_total} name; the process
        collectors are there.
        """
        readiness = Readiness()
        readiness.started()
        snapshot = [
            ("sockservice_requests_received_total", {"service": "time", "protocol": "udp"}, 3)
        ]
        page = MetricsPage(lambda: list(snapshot), readiness)
        text = self.successResultOf(page.render()).decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        received = families["sockservice_requests_received"]
        self.assertEqual(received.type, "counter")
        self.assertEqual([s.value for s in received.samples], [3])
        self.assertEqual(families["sockservice_ready"].samples[0].value, 1)
        self.assertIn("process_cpu_seconds", families)

    def test_workers(self) -> None:
        """
        The workers' counts add up into the usual series, and each is also
        given under C{sockservice_worker_*} with its index; a silent worker
        is C{sockservice_worker_up 0}.
        """
        own = [("sockservice_build_info", {"version": "1"}, 1)]
        labels = {"service": "uppercase", "protocol": "tcp"}
        worker = [
            ("sockservice_received_bytes_total", labels, 5),
            ("sockservice_build_info", {"version": "1"}, 1),
        ]
        merged = {
            (name, tuple(sorted(labels.items()))): value
            for name, labels, value in mergeWorkers(own, {0: worker, 1: worker, 2: None})
        }
        key = tuple(sorted(labels.items()))
        self.assertEqual(merged[("sockservice_received_bytes_total", key)], 10)
        self.assertEqual(
            merged[("sockservice_worker_received_bytes_total", key + (("worker", "1"),))], 5
        )
        self.assertEqual(merged[("sockservice_build_info", (("version", "1"),))], 1)
        self.assertEqual(merged[("sockservice_worker_up", (("worker", "2"),))], 0)


class MetricsOptionTests(SynchronousTestCase):
    """
    C{--metrics} and C{--drain-delay} on the command line.
    """

    def parse(self, *args: str) -> Options:
        options = Options()
        options.parseOptions(["--tcp", "0", *args])
        return options

    def test_default(self) -> None:
        """
        Off by default, no delay.
        """
        health = self.parse().config.health
        self.assertEqual((health.metrics, health.drainDelay), (None, 0.0))

    def test_barePort(self) -> None:
        """
        A bare port is loopback only.
        """
        health = self.parse("--metrics", "9120", "--drain-delay", "3").config.health
        self.assertEqual(health.metrics, "tcp:9120:interface=127.0.0.1:backlog=1024")
        self.assertEqual(health.drainDelay, 3.0)

    def test_description(self) -> None:
        """
        Any server endpoint description is taken as it is.
        """
        health = self.parse("--metrics", "unix:/tmp/m.sock").config.health
        self.assertEqual(health.metrics, "unix:/tmp/m.sock")

    def test_bad(self) -> None:
        """
        A bad port or description, or a negative delay, is a one-line usage
        error naming the option.
        """
        for args, words in (
            (("--metrics", "70000"), "--metrics: invalid port '70000'"),
            (("--metrics", "nonsense:1"), "--metrics: invalid endpoint"),
            (("--drain-delay", "-1"), "--drain-delay"),
        ):
            e = self.assertRaises(usage.UsageError, self.parse, *args)
            self.assertIn(words, str(e))
            self.assertNotIn("\n", str(e))

    def test_missingExtra(self) -> None:
        """
        Without prometheus_client, C{--metrics} exits with one line naming
        the extra.
        """
        with mock.patch("importlib.util.find_spec", return_value=None):
            e = self.assertRaises(SystemExit, checkExtra)
        self.assertEqual(e.code, MISSING_EXTRA)
        self.assertIn("pip install 'sockservice[metrics]'", MISSING_EXTRA)
