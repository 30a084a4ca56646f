# -*- test-case-name: tests.integration.test_metrics -*-
"""
The C{--metrics} HTTP listener on a real loopback socket (port 0), read
with Twisted's HTTP client.
"""

from __future__ import annotations

import warnings

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, readBody

from sockservice.server.counters import Metrics, ServiceCounters
from sockservice.server.health import healthSite
from sockservice.server.metrics import MetricsPage
from sockservice.server.readiness import Readiness


class MetricsHTTPTests(TestCase):
    """
    The three pages over real HTTP.
    """

    def setUp(self) -> None:
        self.readiness = Readiness()
        self.metrics = Metrics()
        self.counters = self.metrics.track("uppercase", "tcp", ServiceCounters())
        page = MetricsPage(self.metrics.snapshot, self.readiness)
        port = reactor.listenTCP(0, healthSite(self.readiness, page.render), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.base = b"http://127.0.0.1:%d" % (port.getHost().port,)
        self.agent = Agent(reactor)

    @inlineCallbacks
    def get(self, path: bytes, method: bytes = b"GET") -> Deferred:
        response = yield self.agent.request(method, self.base + path)
        with warnings.catch_warnings():
            # Twisted's client wraps the transport in one without
            # abortConnection, and readBody warns about it.
            warnings.simplefilter("ignore", DeprecationWarning)
            body = yield readBody(response)
        return response.code, body

    @inlineCallbacks
    def test_pages(self) -> Deferred:
        """
        C{/metrics} parses with prometheus_client's parser and shows the
        counts; C{/healthz} is 200; C{/readyz} 503 then 200; others 404.
        """
        self.counters.accepted = 4
        self.counters.closed["client"] = 3
        code, body = yield self.get(b"/metrics")
        self.assertEqual(code, 200)
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        self.assertEqual(families["sockservice_connections_accepted"].samples[0].value, 4)
        self.assertEqual(families["sockservice_connections_open"].samples[0].value, 1)
        self.assertEqual((yield self.get(b"/healthz")), (200, b"ok\n"))
        self.assertEqual((yield self.get(b"/readyz"))[0], 503)
        self.readiness.started()
        self.assertEqual((yield self.get(b"/readyz")), (200, b"ready\n"))
        self.assertEqual((yield self.get(b"/"))[0], 404)
        self.assertEqual((yield self.get(b"/metrics", b"POST"))[0], 405)
