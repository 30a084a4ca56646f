# -*- test-case-name: tests.test_counters -*-
"""
What the services count, and how those counts are read when scraped.

Counting costs the protocols a few integer additions on a
L{ServiceCounters} that they already hold (through their factory, or as a
UDP protocol's own attribute); nothing here, and nothing on the
per-message path, imports C{prometheus_client}.  L{Metrics} holds the
process's counters and gauges and turns them, when asked, into a
L{Snapshot}: plain data that L{sockservice.server.metrics} renders in the
Prometheus text format, and that a C{--workers} worker sends to its parent
(L{snapshotToJSON}).

Every metric is named in L{FAMILIES}, with its type and help text.  Labels
are bounded: service, protocol, reason, status (and worker, in the parent
of C{--workers}); never an address.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

__all__ = [
    "FAMILIES",
    "Metrics",
    "Sample",
    "ServiceCounters",
    "Snapshot",
    "closeReason",
    "snapshotFromJSON",
    "snapshotToJSON",
]

Sample = Tuple[str, Dict[str, str], float]
"""One value: the metric's full name, its labels, the value."""

Snapshot = List[Sample]
"""Every value of a process, read at one moment."""

FAMILIES: Dict[str, Tuple[str, str]] = {
    "sockservice_connections_accepted_total": (
        "counter",
        "TCP connections accepted (including those then refused by a cap).",
    ),
    "sockservice_connections_open": ("gauge", "TCP connections open now."),
    "sockservice_connections_closed_total": (
        "counter",
        "TCP connections closed, by reason: client, idle, cap, per-ip-cap, drain, error.",
    ),
    "sockservice_requests_received_total": (
        "counter",
        "Requests received: datagrams (UDP), lines (time TCP), netstrings "
        "(command), reads (uppercase TCP, a byte stream).",
    ),
    "sockservice_requests_answered_total": (
        "counter",
        "Replies sent: datagrams, lines, netstrings, writes (uppercase TCP).",
    ),
    "sockservice_requests_dropped_total": (
        "counter",
        "Requests not answered, by reason: source-port, rate, oversize, send-error, invalid.",
    ),
    "sockservice_received_bytes_total": ("counter", "Payload bytes received."),
    "sockservice_sent_bytes_total": ("counter", "Payload bytes sent."),
    "sockservice_chat_members": ("gauge", "Chat members joined now."),
    "sockservice_chat_joins_total": ("counter", "Chat joins accepted."),
    "sockservice_chat_messages_relayed_total": (
        "counter",
        "Chat messages relayed (MSG to everyone, TO to one member).",
    ),
    "sockservice_command_runs_total": (
        "counter",
        "Command requests answered, by status: exit, signal, timeout, truncated, "
        "or refused-REASON (nothing ran).",
    ),
    "sockservice_command_runs_in_progress": ("gauge", "Commands running now."),
    "sockservice_ready": ("gauge", "1 while /readyz answers 200, else 0."),
    "sockservice_proxy_headers_rejected_total": (
        "counter",
        "Connections or datagrams from a balancer closed or dropped for a missing, "
        "malformed or late PROXY header (haproxy: listeners, proxyfrom=).",
    ),
    "sockservice_build_info": (
        "gauge",
        "Always 1; the labels name the versions and the reactor.",
    ),
    "sockservice_worker_up": (
        "gauge",
        "With --workers: 1 for each worker that answered this scrape, 0 otherwise.",
    ),
}


def closeReason(reason: Optional[Failure], timedOut: bool, draining: bool) -> str:
    """
    Why a connection closed, as counted in
    C{sockservice_connections_closed_total}.

    @param timedOut: the idle sweep closed it.
    @param draining: the drain on stop asked it to close.
    @return: C{"idle"}, C{"drain"}, C{"client"} (a clean close, by either
        side) or C{"error"} (a reset, an abort).
    """
    if timedOut:
        return "idle"
    if draining:
        return "drain"
    if reason is None or reason.check(ConnectionDone):
        return "client"
    return "error"


class ServiceCounters:
    """
    The counts of one service over one protocol, kept by its protocols:
    plain attributes, added to on the per-message path.

    @ivar accepted: connections accepted (TCP).
    @ivar closed: connections closed, by reason (see L{closeReason}; C{cap}
        and C{per-ip-cap} for those refused at once).
    @ivar received: requests received (what a request is depends on the
        service; see L{FAMILIES}).
    @ivar answered: replies sent.
    @ivar receivedBytes: payload bytes received.
    @ivar sentBytes: payload bytes sent.
    @ivar dropped: requests not answered, by reason.
    """

    __slots__ = (
        "accepted",
        "closed",
        "received",
        "answered",
        "receivedBytes",
        "sentBytes",
        "dropped",
    )

    def __init__(self) -> None:
        self.accepted = 0
        self.closed: Counter[str] = Counter()
        self.received = 0
        self.answered = 0
        self.receivedBytes = 0
        self.sentBytes = 0
        self.dropped: Counter[str] = Counter()

    def admitted(self, refusal: Optional[str]) -> None:
        """
        Count a connection accepted, and closed at once if C{refusal} names
        the cap that refused it (C{"total"} or C{"per-address"}).
        """
        self.accepted += 1
        if refusal is not None:
            self.closed["cap" if refusal == "total" else "per-ip-cap"] += 1

    def lost(self, reason: Optional[Failure], timedOut: bool, draining: bool) -> None:
        """
        Count a connection closed (see L{closeReason}).
        """
        self.closed[closeReason(reason, timedOut, draining)] += 1

    def samples(self, service: str, protocol: str) -> Iterable[Sample]:
        """
        @return: these counts as samples labelled C{service} and
            C{protocol}; the connection families only for C{tcp}.
        """
        labels = {"service": service, "protocol": protocol}
        if protocol == "tcp":
            yield ("sockservice_connections_accepted_total", labels, self.accepted)
            yield (
                "sockservice_connections_open",
                labels,
                self.accepted - sum(self.closed.values()),
            )
            for reason, count in sorted(self.closed.items()):
                yield ("sockservice_connections_closed_total", {**labels, "reason": reason}, count)
        yield ("sockservice_requests_received_total", labels, self.received)
        yield ("sockservice_requests_answered_total", labels, self.answered)
        for reason, count in sorted(self.dropped.items()):
            yield ("sockservice_requests_dropped_total", {**labels, "reason": reason}, count)
        yield ("sockservice_received_bytes_total", labels, self.receivedBytes)
        yield ("sockservice_sent_bytes_total", labels, self.sentBytes)


class Metrics:
    """
    The counters and gauges of one process, read together by L{snapshot}.
    """

    def __init__(self) -> None:
        self._counters: List[Tuple[str, str, ServiceCounters]] = []
        self._sources: List[Callable[[], Iterable[Sample]]] = []

    def track(self, service: str, protocol: str, counters: ServiceCounters) -> ServiceCounters:
        """
        Read C{counters} at every snapshot, as C{service} over C{protocol}
        (tracking one twice counts it once; two of the same labels add up).

        @return: C{counters}.
        """
        if not any(c is counters for _, _, c in self._counters):
            self._counters.append((service, protocol, counters))
        return counters

    def source(self, read: Callable[[], Iterable[Sample]]) -> None:
        """
        Call C{read} at every snapshot for more samples (gauges read from a
        service's state, its own counters).
        """
        self._sources.append(read)

    def snapshot(self) -> Snapshot:
        """
        @return: every value now; samples with the same name and labels
            (two UDP listeners of one service) added up.
        """
        total: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
        for service, protocol, counters in self._counters:
            _add(total, counters.samples(service, protocol))
        for read in self._sources:
            _add(total, read())
        return [(name, dict(labels), value) for (name, labels), value in total.items()]


def _add(
    total: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float], samples: Iterable[Sample]
) -> None:
    for name, labels, value in samples:
        key = (name, tuple(sorted(labels.items())))
        total[key] = total.get(key, 0) + value


def snapshotToJSON(snapshot: Snapshot) -> bytes:
    """
    @return: C{snapshot} as one line of JSON (no newline inside), ending
        with a newline.
    """
    return json.dumps(snapshot, separators=(",", ":")).encode("ascii") + b"\n"


def snapshotFromJSON(line: bytes) -> Snapshot:
    """
    @return: the snapshot that L{snapshotToJSON} made C{line} of.
    @raise ValueError: if C{line} is not such a snapshot.
    """
    data = json.loads(line)
    if not isinstance(data, list):
        raise ValueError("not a snapshot")
    snapshot: Snapshot = []
    for name, labels, value in data:
        if not (isinstance(name, str) and isinstance(labels, dict)):
            raise ValueError("not a snapshot")
        snapshot.append((name, {str(k): str(v) for k, v in labels.items()}, float(value)))
    return snapshot
