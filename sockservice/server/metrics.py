# -*- test-case-name: tests.test_metrics -*-
"""
The C{/metrics} page: a L{Snapshot} of the process (and of its C{--workers})
in the Prometheus text format, with C{prometheus_client}'s process, platform
and garbage-collector collectors.

This module imports C{prometheus_client} (the C{[metrics]} extra): import it
only when C{--metrics} is given (L{sockservice.server.health.checkExtra}
first).  It uses neither C{prometheus_client}'s global registry nor its
Twisted resource (which imports the global reactor): one
L{SnapshotCollector} reads the snapshot taken for each scrape.
"""

from __future__ import annotations

import platform
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import twisted
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from twisted.internet.defer import Deferred, succeed

import sockservice
from sockservice.server.counters import FAMILIES, Sample, Snapshot
from sockservice.server.readiness import Readiness

__all__ = ["MetricsPage", "SnapshotCollector", "buildInfo", "mergeWorkers"]

WorkerSnapshots = Dict[int, Optional[Snapshot]]
"""Each worker's snapshot, by index; L{None} for one that did not answer."""

#: Families that a worker reports and the parent adds up; the rest (build
#: information, readiness) are the parent's own.
_SUMMED = frozenset(
    name
    for name in FAMILIES
    if name.startswith(("sockservice_connections_", "sockservice_requests_"))
    or name.endswith("_bytes_total")
)


def buildInfo(reactor: object) -> Sample:
    """
    @return: the C{sockservice_build_info} sample: versions and reactor.
    """
    return (
        "sockservice_build_info",
        {
            "version": sockservice.__version__,
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
            "twisted_version": twisted.__version__,
            "reactor": type(reactor).__name__,
        },
        1,
    )


def mergeWorkers(own: Snapshot, workers: WorkerSnapshots) -> Snapshot:
    """
    The snapshot of a C{--workers} parent: its own samples, the workers'
    samples added into the same series (the totals), each worker's also as
    C{sockservice_worker_*} with a C{worker} label (the breakdown), and
    C{sockservice_worker_up}.
    """
    totals: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
    order: List[Tuple[str, Tuple[Tuple[str, str], ...]]] = []

    def add(name: str, labels: Dict[str, str], value: float) -> None:
        key = (name, tuple(sorted(labels.items())))
        if key not in totals:
            order.append(key)
            totals[key] = 0
        totals[key] += value

    for name, labels, value in own:
        add(name, labels, value)
    for index, snapshot in sorted(workers.items()):
        add("sockservice_worker_up", {"worker": str(index)}, 0 if snapshot is None else 1)
        for name, labels, value in snapshot or ():
            if name in _SUMMED:
                add(name, labels, value)
                add(_workerName(name), {**labels, "worker": str(index)}, value)
    return [(name, dict(labels), totals[(name, labels)]) for name, labels in order]


def _workerName(name: str) -> str:
    return "sockservice_worker_" + name[len("sockservice_") :]


def _family(name: str) -> Tuple[str, str]:
    """
    @return: the type and help of the family of sample C{name}.
    """
    if name in FAMILIES:
        return FAMILIES[name]
    base = "sockservice_" + name[len("sockservice_worker_") :]
    kind, doc = FAMILIES[base]
    return kind, doc + " (this worker's)"


class SnapshotCollector:
    """
    A C{prometheus_client} collector of the snapshot in L{current}.
    """

    def __init__(self) -> None:
        self.current: Snapshot = []

    def describe(self) -> List[Metric]:
        # Nothing to check against the registry's other collectors.
        return []

    def collect(self) -> Iterable[Metric]:
        families: Dict[str, Metric] = {}
        for name, labels, value in self.current:
            family = families.get(name)
            if family is None:
                kind, doc = _family(name)
                stem = name[: -len("_total")] if kind == "counter" else name
                family = families[name] = Metric(stem, doc, kind)
            family.add_sample(name, labels, value)
        return list(families.values())


class MetricsPage:
    """
    Render C{/metrics}: take a snapshot (asking the workers for theirs,
    when there are), then write it and the process collectors.
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        readiness: Readiness,
        workers: Optional[Callable[[], Deferred[WorkerSnapshots]]] = None,
    ) -> None:
        """
        @param snapshot: this process's own snapshot.
        @param workers: asks the workers of C{--workers} for theirs.
        """
        self.snapshot = snapshot
        self.readiness = readiness
        self.workers = workers
        self.collector = SnapshotCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self) -> Deferred[bytes]:
        """
        @return: a L{Deferred} firing with the page.
        """
        own = self.snapshot()
        own.append(("sockservice_ready", {}, 1 if self.readiness.ready else 0))
        if self.workers is None:
            return succeed(self._text(own))
        return self.workers().addCallback(lambda found: self._text(mergeWorkers(own, found)))

    def _text(self, snapshot: Snapshot) -> bytes:
        self.collector.current = snapshot
        try:
            return generate_latest(self.registry)
        finally:
            self.collector.current = []
