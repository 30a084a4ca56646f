# -*- test-case-name: tests.integration.test_probe_paths -*-
"""
C{sockservice-client probe} under bad paths: the probe (its C{--json} run,
in this process) through the impairing proxy of L{tests.impair}, in front of
the real uppercase listeners on 127.0.0.1 port 0.  The delay it reports is
the delay injected, within what a loaded 2-core machine adds; every loss,
duplicate, reorder and corruption the proxy made is counted, exactly.
"""

from __future__ import annotations

import io
import json
from typing import Any, Dict

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from sockservice.cli.console import Console
from sockservice.cli.probe import ProbeOptions, runProbe
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.impair import Direction, Impairment, TCPImpairingProxy, UDPImpairingProxy

DELAY = 0.02
"""The delay injected: 20 ms on every reply."""

SLACK = 0.015
"""
What a loaded 2-core machine may add to the median round trip (the probe,
the proxy and the server share one reactor here): the reported p50 must be
from C{DELAY} to C{DELAY + SLACK}.
"""

UNIMPAIRED = Impairment()


class _Paths:
    """
    A probe run through an impairing proxy, for the tests below.
    """

    proxy: Any

    def udp(
        self: Any, replies: Impairment, requests: Impairment = UNIMPAIRED, seed: int = 0
    ) -> int:
        server = reactor.listenUDP(  # type: ignore[attr-defined]
            0, UppercaseDatagramProtocol(mode="ascii", rate=0), interface="127.0.0.1"
        )
        self.addCleanup(server.stopListening)
        self.proxy = UDPImpairingProxy(reactor, server.getHost().port, replies, requests, seed)
        self.addCleanup(self.proxy.stop)
        return int(self.proxy.start())

    def tcp(
        self: Any, replies: Impairment, requests: Impairment = UNIMPAIRED, seed: int = 0
    ) -> int:
        server = reactor.listenTCP(  # type: ignore[attr-defined]
            0, UppercaseFactory(mode="ascii"), interface="127.0.0.1"
        )
        self.addCleanup(server.stopListening)
        self.proxy = TCPImpairingProxy(
            reactor, server.getHost().port, replies, requests, seed, lines=True
        )
        self.addCleanup(self.proxy.stop)
        return int(self.proxy.start())

    async def probe(self: Any, protocol: str, port: int, *argv: str) -> Dict[str, Any]:
        """
        Run C{sockservice-client probe PROTOCOL --json} against C{port};
        return its document, after checking that it exited 0.
        """
        options = ProbeOptions()
        options.parseOptions([protocol, "--port", str(port), "--json", *argv])
        stdout, stderr = io.BytesIO(), io.StringIO()
        status = await runProbe(reactor, options, Console(stdout, stderr, False, lambda p: None))
        self.assertEqual((status, stderr.getvalue()), (0, ""))
        document: Dict[str, Any] = json.loads(stdout.getvalue())
        return document

    def assertCounted(
        self: Any, summary: Dict[str, Any], direction: Direction, **expected: int
    ) -> None:
        """
        The probe's counts are what the proxy did: each of C{expected} (a
        summary key and the count the proxy's record gives), and zero for
        the other impairments.
        """
        counted = {
            key: summary[key] for key in ("lost", "late", "duplicated", "reordered", "corrupted")
        }
        wanted = dict.fromkeys(counted, 0)
        wanted.update(expected)
        self.assertEqual(counted, wanted, direction.record.actions)


class UDPPathTests(_Paths, TestCase):
    """
    Over UDP, the probe reports the path's delay and counts each impairment
    exactly.
    """

    async def test_delay(self) -> None:
        """
        With 20 ms added to every reply, the minimum round trip is at least
        20 ms and the median within C{SLACK} above it.
        """
        port = self.udp(Impairment(delay=DELAY))
        document = await self.probe("udp", port, "--count", "25", "--rate", "0")
        latency = document["latency_us"]
        self.assertGreaterEqual(latency["min"], DELAY * 1e6 * 0.999)
        self.assertLessEqual(latency["p50"], (DELAY + SLACK) * 1e6, latency)
        self.assertEqual(document["summary"]["answered"], 25)

    async def test_loss(self) -> None:
        """
        Requests dropped on the way in and replies dropped on the way back
        (every 7th; and each with a seeded 10%) are each counted lost.
        """
        port = self.udp(Impairment(dropProbability=0.1), Impairment(dropEvery=7), seed=3)
        summary = (
            await self.probe(
                "udp", port, "--count", "100", "--rate", "0", "--window", "8", "--timeout", "0.3"
            )
        )["summary"]
        dropped = self.proxy.requests.record.dropped + self.proxy.replies.record.dropped
        self.assertEqual(self.proxy.requests.record.dropped, 14)
        self.assertGreater(self.proxy.replies.record.dropped, 0)
        self.assertCounted(summary, self.proxy.replies, lost=dropped)
        self.assertEqual(summary["answered"], 100 - dropped)

    async def test_duplicates(self) -> None:
        """
        Every duplicated reply is counted duplicated, once.
        """
        port = self.udp(Impairment(duplicateEvery=4, duplicateProbability=0.1), seed=5)
        summary = (await self.probe("udp", port, "--count", "100", "--rate", "0", "--window", "4"))[
            "summary"
        ]
        record = self.proxy.replies.record
        self.assertGreaterEqual(record.duplicated, 25)
        self.assertCounted(summary, self.proxy.replies, duplicated=record.duplicated)
        self.assertEqual(summary["answered"], 100)

    async def test_reorder(self) -> None:
        """
        Every reply held back until the next one passed it is counted
        reordered, once.
        """
        port = self.udp(Impairment(reorderEvery=5, holdFor=0.1))
        summary = (await self.probe("udp", port, "--count", "99", "--rate", "0", "--window", "4"))[
            "summary"
        ]
        record = self.proxy.replies.record
        self.assertEqual((record.reordered, record.released), (19, 0))
        self.assertCounted(summary, self.proxy.replies, reordered=19)
        self.assertEqual(summary["answered"], 99)

    async def test_corruption(self) -> None:
        """
        Every reply with one byte flipped is counted corrupted (and its
        request neither answered nor lost).
        """
        port = self.udp(Impairment(corruptEvery=6, corruptProbability=0.05), seed=11)
        summary = (await self.probe("udp", port, "--count", "100", "--rate", "0", "--window", "4"))[
            "summary"
        ]
        record = self.proxy.replies.record
        self.assertGreaterEqual(record.corrupted, 16)
        self.assertCounted(summary, self.proxy.replies, corrupted=record.corrupted)
        self.assertEqual(summary["answered"], 100 - record.corrupted)

    async def test_together(self) -> None:
        """
        Drops, duplicates and reorders mixed at random (seeded) are each
        counted exactly.
        """
        port = self.udp(
            Impairment(
                dropProbability=0.05,
                duplicateProbability=0.05,
                reorderProbability=0.05,
                holdFor=0.1,
            ),
            seed=17,
        )
        summary = (
            await self.probe(
                "udp", port, "--count", "200", "--rate", "0", "--window", "8", "--timeout", "0.3"
            )
        )["summary"]
        record = self.proxy.replies.record
        self.assertTrue(record.dropped and record.duplicated and record.reordered, record)
        self.assertCounted(
            summary,
            self.proxy.replies,
            lost=record.dropped,
            duplicated=record.duplicated,
            reordered=record.reordered,
        )


class TCPPathTests(_Paths, TestCase):
    """
    Over TCP (the proxy acting on whole reply lines), the probe reports the
    path's delay and counts each impairment exactly.
    """

    async def test_delay(self) -> None:
        """
        With 20 ms added to every reply line, the minimum round trip is at
        least 20 ms and the median within C{SLACK} above it.
        """
        port = self.tcp(Impairment(delay=DELAY))
        document = await self.probe("tcp", port, "--count", "25", "--rate", "0")
        latency = document["latency_us"]
        self.assertGreaterEqual(latency["min"], DELAY * 1e6 * 0.999)
        self.assertLessEqual(latency["p50"], (DELAY + SLACK) * 1e6, latency)
        self.assertEqual(document["summary"]["answered"], 25)

    async def test_impairments(self) -> None:
        """
        Reply lines dropped, corrupted, duplicated and reordered (each every
        k-th) are each counted exactly.  (No held line is overtaken first by a
        corrupted one, which is not an answer, so not a reordering, to the
        probe.)
        """
        port = self.tcp(
            Impairment(
                dropEvery=11,
                corruptEvery=6,
                duplicateEvery=5,
                reorderEvery=7,
                corruptOffset=-2,
                holdFor=0.1,
            )
        )
        summary = (
            await self.probe(
                "tcp", port, "--count", "100", "--rate", "0", "--window", "8", "--timeout", "0.3"
            )
        )["summary"]
        record = self.proxy.replies.record
        self.assertEqual(
            (record.dropped, record.corrupted, record.duplicated, record.reordered), (9, 15, 16, 9)
        )
        self.assertCounted(
            summary,
            self.proxy.replies,
            lost=record.dropped,
            corrupted=record.corrupted,
            duplicated=record.duplicated,
            reordered=record.reordered,
        )
        self.assertEqual(summary["answered"], 100 - record.dropped - record.corrupted)
