# -*- test-case-name: tests.integration.test_probe_modes -*-
"""
C{sockservice-client probe --sizes} and C{probe tcp --stream} (their
C{--json} runs, in this process) against the real uppercase listeners on
127.0.0.1 port 0: directly, behind a UDP listener that drops datagrams over
a size (a path that black-holes large datagrams), and through the
corrupting proxy of L{tests.impair}.  Every document is checked against
C{docs/probe-schema.json}.
"""

from __future__ import annotations

import io
import json
from typing import Any, Dict, Tuple

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from sockservice.cli.console import Console
from sockservice.cli.probe import ProbeOptions, runProbe
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol
from tests.impair import Impairment, TCPImpairingProxy
from tests.support import ROOT

SCHEMA = json.loads((ROOT / "docs" / "probe-schema.json").read_text(encoding="utf-8"))

LIMIT = 1000
"""The largest datagram the limited listener answers."""


class _Limited(UppercaseDatagramProtocol):
    """
    The uppercase service behind a path that drops datagrams over C{limit}
    bytes.
    """

    limit = LIMIT

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if len(datagram) <= self.limit:
            super().datagramReceived(datagram, addr)


class ProbeModeTests(TestCase):
    """
    The sweep and the stream against real sockets.
    """

    def udp(self, protocol: UppercaseDatagramProtocol) -> int:
        server = reactor.listenUDP(  # type: ignore[attr-defined]
            0, protocol, interface="127.0.0.1", maxPacketSize=65535
        )
        self.addCleanup(server.stopListening)
        return int(server.getHost().port)

    def tcp(self) -> int:
        server = reactor.listenTCP(  # type: ignore[attr-defined]
            0, UppercaseFactory(mode="ascii"), interface="127.0.0.1"
        )
        self.addCleanup(server.stopListening)
        return int(server.getHost().port)

    async def probe(self, *argv: str) -> Tuple[int, Dict[str, Any], str]:
        """
        Run C{sockservice-client probe ARGV --json}; its status, its
        document (checked against the schema) and its standard error.
        """
        import jsonschema

        options = ProbeOptions()
        options.parseOptions([*argv, "--json"])
        stdout, stderr = io.BytesIO(), io.StringIO()
        status = await runProbe(reactor, options, Console(stdout, stderr, False, lambda p: None))
        document: Dict[str, Any] = json.loads(stdout.getvalue())
        jsonschema.validate(document, SCHEMA)
        return status, document, stderr.getvalue()

    async def test_udpLimit(self) -> None:
        """
        A range swept over a path that drops datagrams over 1000 bytes
        finds 1000 as the largest that round-trips and 1001 as where loss
        starts; every size up to 1000 is answered in full.
        """
        port = self.udp(_Limited(mode="ascii", rate=0))
        status, doc, err = await self.probe(
            "udp", "--port", str(port), "--sizes", "64..65507", "--timeout", "0.2"
        )
        self.assertEqual((status, err), (0, ""))
        sweep = doc["sweep"]
        self.assertEqual((sweep["largest_ok"], sweep["loss_from"]), (LIMIT, LIMIT + 1))
        rows = {row["size"]: row for row in sweep["sizes"]}
        self.assertEqual(rows[LIMIT]["answered"], 5)
        self.assertEqual(rows[LIMIT + 1]["lost"], 5)
        for size, row in rows.items():
            self.assertEqual(row["answered"], 5 if size <= LIMIT else 0, row)
        self.assertEqual([row["size"] for row in sweep["sizes"][:2]], [64, 512])
        self.assertLessEqual(len(rows), 2 + 1 + 10)

    async def test_udpLimitLarge(self) -> None:
        """
        A limit where fewer requests than the count fit the window (25000
        bytes: two at a time) is found as well, and each size above it
        loses all its requests.
        """
        server = _Limited(mode="ascii", rate=0)
        server.limit = 25000
        status, doc, err = await self.probe(
            "udp", "--port", str(self.udp(server)), "--sizes", "64..65507",
            "--count", "3", "--timeout", "0.3",
        )  # fmt: skip
        self.assertEqual((status, err), (0, ""))
        sweep = doc["sweep"]
        self.assertEqual((sweep["largest_ok"], sweep["loss_from"]), (25000, 25001))
        for row in sweep["sizes"]:
            self.assertEqual(row["lost"], 3 if row["size"] > 25000 else 0, row)

    async def test_udpList(self) -> None:
        """
        Listed sizes up to the largest UDP payload all round-trip, and the
        loss gate holds.
        """
        port = self.udp(UppercaseDatagramProtocol(mode="ascii", rate=0))
        status, doc, err = await self.probe(
            "udp", "--port", str(port), "--sizes", "64,1472,9000,65507", "--max-loss", "0"
        )
        self.assertEqual((status, err), (0, ""))
        self.assertEqual([row["answered"] for row in doc["sweep"]["sizes"]], [5, 5, 5, 5])
        self.assertEqual(doc["summary"]["sent"], 20)
        self.assertEqual(doc["gates"][0]["ok"], True)

    async def test_tcpSizes(self) -> None:
        """
        Over TCP each size's verified throughput is reported.
        """
        port = self.tcp()
        status, doc, err = await self.probe(
            "tcp", "--port", str(port), "--sizes", "64,100000", "--count", "8"
        )
        self.assertEqual((status, err), (0, ""))
        rows = doc["sweep"]["sizes"]
        self.assertEqual([(r["size"], r["answered"]) for r in rows], [(64, 8), (100000, 8)])
        self.assertTrue(all(r["mbytes_per_s"] > 0 for r in rows), rows)

    async def test_stream(self) -> None:
        """
        A stream of 5 MB comes back whole, every byte verified.
        """
        port = self.tcp()
        status, doc, err = await self.probe(
            "tcp", "--port", str(port), "--stream", "--count", "5000000", "--max-corrupt", "0"
        )
        self.assertEqual((status, err), (0, ""))
        stream = doc["stream"]
        self.assertEqual(
            (stream["bytes_sent"], stream["verified_bytes"], stream["corrupted_bytes"]),
            (5_000_000, 5_000_000, 0),
        )
        self.assertGreater(stream["mbytes_per_s"], 0)

    async def test_streamCorrupted(self) -> None:
        """
        Through a proxy that flips one byte in every 3rd chunk, each flipped
        byte is counted corrupted, the first one's offset is reported, and
        the corruption gate fails (status 3, one line).
        """
        proxy = TCPImpairingProxy(reactor, self.tcp(), Impairment(corruptEvery=3))
        self.addCleanup(proxy.stop)
        port = proxy.start()
        status, doc, err = await self.probe(
            "tcp", "--port", str(port), "--stream", "--count", "2000000", "--max-corrupt", "0"
        )
        flipped = proxy.replies.record.corrupted
        stream = doc["stream"]
        self.assertGreater(flipped, 0)
        self.assertEqual(stream["corrupted_bytes"], flipped)
        self.assertEqual(stream["verified_bytes"], 2_000_000 - flipped)
        self.assertIsNotNone(stream["first_corrupt_offset"])
        self.assertEqual(status, 3)
        self.assertEqual(
            err, f"sockservice-client: gate failed: max-corrupt: {flipped} corrupted > 0\n"
        )
