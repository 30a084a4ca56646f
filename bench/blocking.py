# -*- test-case-name: bench.tests.test_probe -*-
"""
The yardstick of the probe's cost (bench/probe.py): minimal blocking-socket
clients, one request at a time, timed around the send and the receive as
the textbook clients would be; and where they, the probe and the server run
(L{place}).
"""

from __future__ import annotations

import os
import socket
import time
from typing import List, Sequence

__all__ = ["PLACEMENTS", "blockingTCP", "blockingUDP", "payload", "percentile", "place"]

SIZE = 64

PLACEMENTS = {
    "pinned": "server on CPU 0, clients on CPU 1",
    "shared": "the scheduler's choice of CPUs",
}
"""The placements the latency runs are measured in, and what each means."""


def percentile(values: Sequence[float], level: float) -> float:
    """
    The C{level} percentile of C{values} (nearest rank, as HdrHistogram
    reports it): the smallest value with at least C{level}% at or below it.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * level // 100))
    return ordered[int(rank) - 1]


def payload(size: int = SIZE) -> bytes:
    """
    C{size} lowercase letters, as the probe sends.
    """
    return (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]


def blockingUDP(port: int, count: int, size: int = SIZE) -> List[float]:
    """
    Round trips of the textbook UDP client (C{sendto}, then C{recv}), in
    microseconds.
    """
    request, expected = payload(size), payload(size).upper()
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2.0)
        for _ in range(count):
            start = time.perf_counter_ns()
            s.sendto(request, ("127.0.0.1", port))
            reply = s.recv(65535)
            elapsed = time.perf_counter_ns() - start
            if reply != expected:
                raise RuntimeError(f"bad UDP reply {reply!r}")
            times.append(elapsed / 1000)
    return times


def blockingTCP(port: int, count: int, size: int = SIZE) -> List[float]:
    """
    Round trips of a blocking TCP client on one connection (C{sendall} one
    line of C{size} letters, read the reply line), in microseconds.
    """
    request = payload(size) + b"\n"
    expected = request.upper()
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            start = time.perf_counter_ns()
            s.sendall(request)
            reply = b""
            while len(reply) < len(expected):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed")
                reply += chunk
            elapsed = time.perf_counter_ns() - start
            if reply != expected:
                raise RuntimeError(f"bad TCP reply {reply!r}")
            times.append(elapsed / 1000)
    return times


def place(placement: str, serverPid: int, cpus: Sequence[int]) -> None:
    """
    Set where the server (C{serverPid}, one thread) and this process (the
    blocking clients, and the probes it starts) run, among C{cpus}:
    C{"pinned"} puts the server on the first and this process on the
    second, so that neither client hands its request to the server on its
    own CPU; C{"shared"} lets both use them all.

    @raise ValueError: C{"pinned"} with fewer than two CPUs.
    """
    if placement == "pinned":
        if len(cpus) < 2:
            raise ValueError("pinning needs two CPUs")
        server, clients = {cpus[0]}, {cpus[1]}
    else:
        server = clients = set(cpus)
    os.sched_setaffinity(serverPid, server)
    os.sched_setaffinity(0, clients)
