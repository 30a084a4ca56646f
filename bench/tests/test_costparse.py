# -*- test-case-name: bench.tests.test_costparse -*-
"""
Tests for L{bench.costparse} (reading strace, pstats, /proc and callgrind
output), L{bench.costs}' options and L{bench.costrun.profiled}.
"""

import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from bench import costs, servers
from bench.costparse import (
    LOADS,
    callCounts,
    callgrindCalls,
    callgrindTotal,
    connectionsIn,
    statTicks,
    straceCounts,
)
from bench.costrun import fromTree, profiled

# strace 6 (usecs/call in the total row) and strace 4 (none there).
STRACE = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 22.73    0.053270          12      4211           close
 12.42    0.029107           5      4977       766 accept4
  3.05    0.007144           6      1153           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    0.234367           5     10341       766 total
"""
STRACE_OLD_TOTAL = "100.00    0.234367                 10341       766 total\n"

STATS = {
    ("/x/twisted/internet/tcp.py", 233, "buildProtocol"): (100, 100, 0.1, 0.2, {}),
    ("/x/sockservice/casing.py", 110, "feed"): (300, 300, 0.1, 0.2, {}),
    ("~", 0, "<method 'get' of 'dict' objects>"): (800, 800, 0.1, 0.1, {}),
    ("~", 0, "<built-in method __new__ of type object at 0x7fc9e6a5ea00>"): (2, 2, 0, 0, {}),
    ("/x/peers/epoll_peer.py", 118, "close"): (7, 7, 0, 0, {}),
    ("~", 0, "close"): (900, 900, 0, 0, {}),
}


class StraceCountsTests(SynchronousTestCase):
    def test_rows(self) -> None:
        """
        Each system call's calls and failures; header, rules and total skipped.
        """
        self.assertEqual(
            straceCounts(STRACE),
            {"close": (4211, 0), "accept4": (4977, 766), "epoll_wait": (1153, 0)},
        )

    def test_oldTotal(self) -> None:
        """
        A total row without usecs/call is not read as a system call.
        """
        self.assertEqual(straceCounts(STRACE_OLD_TOTAL), {})

    def test_garbage(self) -> None:
        """
        Lines that are not rows (strace's messages) are skipped.
        """
        self.assertEqual(straceCounts("strace: Process 12 attached\nx y z w v\n"), {})


class CallCountsTests(SynchronousTestCase):
    def test_counts(self) -> None:
        """
        Totals of all and of Python calls; rows most called first, builtins
        without their address.
        """
        counts = callCounts(STATS)
        self.assertEqual((counts.total, counts.python), (2109, 407))
        self.assertEqual(counts.byFunction[0], ("close", 900))
        self.assertIn(("casing.py:110(feed)", 300), counts.byFunction)
        self.assertIn(("<built-in method __new__ of type object>", 2), counts.byFunction)

    def test_connections(self) -> None:
        """
        Connections are counted by a Python function, never a builtin of the same name.
        """
        self.assertEqual(connectionsIn(STATS, "buildProtocol"), 100)
        self.assertEqual(connectionsIn(STATS, "close"), 7)
        self.assertEqual(connectionsIn(STATS, "connection_made"), 0)


class StatTicksTests(SynchronousTestCase):
    # Fields 14 and 15 (utime 250, stime 40); the command has ") " in it.
    STAT = "123 (py (x) y) S 1 123 123 0 -1 4194304 100 0 0 0 250 40 0 0 20 0 1 0 5 6 7"

    def test_ticks(self) -> None:
        self.assertEqual(statTicks(self.STAT), 290)
        self.assertEqual(statTicks(self.STAT, userOnly=True), 250)


class CallgrindTotalTests(SynchronousTestCase):
    def test_total(self) -> None:
        text = "version: 1\nevents: Ir\nfn=main\n3 5\nsummary: 1234\ntotals: 1234\n"
        self.assertEqual(callgrindTotal(text), 1234)
        self.assertEqual(callgrindTotal("events: Ir\n"), 0)

    def test_calls(self) -> None:
        """
        The calls of a function, its name given once and then by number.
        """
        text = (
            "fn=(1) main\n"
            "cfn=(2) sock_sendto\ncalls=3 0\n5 100\n"
            "cfn=(3) sock_recvfrom\ncalls=4 0\n5 100\n"
            "fn=(4) loop\ncfn=(2)\ncalls=2 0\n6 50\n7 9\n"
        )
        self.assertEqual(
            (callgrindCalls(text, "sock_sendto"), callgrindCalls(text, "sock_recvfrom")), (5, 4)
        )
        self.assertEqual(callgrindCalls(text, "main"), 0)


class LoadTests(SynchronousTestCase):
    """
    L{LOADS}: the generator's arguments for each load, and what its counts
    are divided by.
    """

    def test_generatorArgs(self) -> None:
        self.assertEqual(
            {name: load.generatorArgs(7, 1.5) for name, load in LOADS.items()},
            {
                name: ["--mode", name, "--port", "7", *extra, "--duration", "1.5", "--warmup", "0"]
                for name, extra in (
                    ("tcp-crr", ["--conns", "8"]),
                    ("tcp-rr", ["--conns", "50"]),
                    ("udp-rr", ["--outstanding", "32"]),
                )
            },
        )

    def test_generatorKnowsThem(self) -> None:
        """
        Every mode and flag given to the generator is one it parses.
        """
        source = (Path(costs.__file__).parent / "loadgen.c").read_text()
        for load in LOADS.values():
            for arg in load.generatorArgs(7, 1.0):
                if arg.startswith("--"):
                    self.assertIn(f'"{arg}"', source)
            self.assertIn(f'"{load.name}"', source)

    def test_units(self) -> None:
        """
        The server's own count wins; without one, the generator's.
        """
        load = LOADS["udp-rr"]
        self.assertEqual((load.units(120, 100), load.units(0, 100)), (120, 100))
        self.assertEqual(
            {name: load.unit for name, load in LOADS.items()},
            {"tcp-crr": "connection", "tcp-rr": "request", "udp-rr": "datagram"},
        )
        self.assertEqual((LOADS["tcp-crr"].syscall, LOADS["udp-rr"].syscall), ("accept4", None))

    def test_perUnitFunctionsExist(self) -> None:
        """
        The functions counted once per unit are the servers' own.
        """
        from sockservice.uppercase.tcp import UppercaseFactory, UppercaseProtocol
        from sockservice.uppercase.udp import UppercaseDatagramProtocol

        owners = {
            "buildProtocol": UppercaseFactory,
            "dataReceived": UppercaseProtocol,
            "datagramReceived": UppercaseDatagramProtocol,
        }
        peers = Path(costs.__file__).parent / "peers"
        for load in LOADS.values():
            for server, function in load.perUnit.items():
                if server in ("sockservice", "tree"):
                    self.assertIn(function, vars(owners[function]))
                else:
                    peer = "epoll_peer.py" if server == "epoll" else "asyncio_peer.py"
                    self.assertIn(f"def {function}(", (peers / peer).read_text())


class OptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        self.assertEqual(costs.parseArgs(["calls"]).servers, ["sockservice"])
        self.assertEqual(costs.parseArgs(["ab"]).servers, ["sockservice", "epoll", "uvloop"])
        opts = costs.parseArgs(["ab", "--tree", "/src"])
        self.assertEqual(opts.servers[-1], "tree")
        self.assertEqual(opts.load, "tcp-crr")
        self.assertEqual(costs.parseArgs(["calls", "--load", "udp-rr"]).load, "udp-rr")

    def test_bad(self) -> None:
        """
        Unknown servers, C{tree} without C{--tree}, non-positive figures: usage errors.
        """
        for argv in (
            ["calls", "nginx"],
            ["calls", "tree"],
            ["ab", "--rounds", "0"],
            ["calls", "--load", "tcp-stream"],
        ):
            with self.assertRaises(SystemExit):
                costs.parseArgs(argv)


class ProfiledTests(SynchronousTestCase):
    def test_profile(self) -> None:
        """
        A script run by L{profiled} is profiled between two SIGUSR2s: its
        functions called in between are in the dump, and its arguments reach it.
        """
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        work = Path(temporary.name)
        script = work / "script.py"
        script.write_text(
            "import os, signal, sys\n"
            "if sys.argv[1:] != ['--port', '1']: sys.exit(3)\n"
            "def between(): pass\n"
            "os.kill(os.getpid(), signal.SIGUSR2)\n"
            "between(); between()\n"
            "os.kill(os.getpid(), signal.SIGUSR2)\n"
        )
        out = work / "out.prof"
        spec = servers.ServerSpec("s", "s", [sys.executable, str(script), "--port", "{port}"])
        subprocess.run(profiled(spec, out).command(1), check=True, timeout=60)
        stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
        self.assertEqual(
            [v[1] for k, v in stats.items() if k[2] == "between"],
            [2],
        )


class FromTreeTests(SynchronousTestCase):
    def test_treeFirst(self) -> None:
        """
        A command made by L{fromTree} imports from the tree, even when run in
        a checkout of its own (where C{python -c} looks first).
        """
        temporary = tempfile.TemporaryDirectory()
        self.addCleanup(temporary.cleanup)
        tree = Path(temporary.name)
        (tree / "sockservice").mkdir()
        (tree / "sockservice" / "__init__.py").write_text("TREE = True\n")
        code = "import sockservice, sys; sys.exit(0 if getattr(sockservice, 'TREE', 0) else 3)"
        spec = servers.ServerSpec(
            "sockservice", "s", [sys.executable, "-c", code, "--port", "{port}"]
        )
        command = fromTree(spec, tree).command(1)
        self.assertEqual(command[-2:], ["--port", "1"])
        checkout = Path(costs.__file__).resolve().parent.parent
        self.assertEqual(subprocess.run(command, cwd=checkout, timeout=60).returncode, 0)
        self.assertNotEqual(
            subprocess.run([sys.executable, "-c", code], cwd=checkout).returncode, 0
        )
        self.assertRaises(
            ValueError, fromTree, servers.ServerSpec("x", "x", ["python", "x.py"]), tree
        )
