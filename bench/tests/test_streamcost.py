# -*- test-case-name: bench.tests.test_streamcost -*-
"""
Tests for L{bench.streamcost}: reading C{perf stat} output, the summary line,
the options and the other tree's server.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from bench import streamcost

# perf stat -x, as perf 6 writes it: value, unit, event, run time, share, ...
PERF = """\
9216,,raw_syscalls:sys_enter,108692651,100.00,,
1,,syscalls:sys_enter_recvfrom,108692651,100.00,,
75,,page-faults,108692651,100.00,,
<not supported>,,instructions,0,100.00,,

"""


class PerfCountsTests(SynchronousTestCase):
    def test_counts(self) -> None:
        """
        Each counted event's value, the system call tracepoints by call name;
        events perf could not count, and blank lines, are left out.
        """
        self.assertEqual(
            streamcost.perfCounts(PERF),
            {"raw_syscalls:sys_enter": 9216.0, "recvfrom": 1.0, "page-faults": 75.0},
        )

    def test_nothing(self) -> None:
        """
        An error message instead of counts gives no counts.
        """
        self.assertEqual(streamcost.perfCounts("Error:\nNo permission\n"), {})


class SummaryTests(SynchronousTestCase):
    def test_line(self) -> None:
        """
        Medians with their ranges; the system calls that occur (a median of at
        least one per two GB), by kind; page faults.
        """
        runs = [
            {"MB/s": 800.0, "ms/GB": 1200.0, "raw_syscalls:sys_enter": 30.0, "recvfrom": 10.0,
             "page-faults": 3.0},
            {"MB/s": 600.0, "ms/GB": 1500.0, "raw_syscalls:sys_enter": 32.0, "recvfrom": 11.0,
             "brk": 0.2, "page-faults": 5.0},
            {"MB/s": 700.0, "ms/GB": 1300.0, "raw_syscalls:sys_enter": 31.0, "recvfrom": 12.0,
             "page-faults": 4.0},
        ]  # fmt: skip
        self.assertEqual(
            streamcost.summary("x", runs),
            "x: 700 (600-800) MB/s; server CPU 1300 (1200-1500) ms/GB; "
            "system calls 31/GB (recvfrom 11); page faults 4/GB; n=3",
        )

    def test_withoutPerf(self) -> None:
        """
        Without system call and page fault counts in every run the line has
        none.
        """
        runs = [{"MB/s": 800.0, "ms/GB": 1200.0}, {"MB/s": 700.0, "ms/GB": 1300.0, "read": 2.0}]
        self.assertEqual(
            streamcost.summary("x", runs),
            "x: 750 (700-800) MB/s; server CPU 1250 (1200-1300) ms/GB; n=2",
        )


class OptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        """
        By default sockservice, uvloop and the floor; the other tree with --tree.
        """
        self.assertEqual(streamcost.parseArgs([]).servers, ["sockservice", "uvloop", "epoll"])
        opts = streamcost.parseArgs(["--tree", "/x"])
        self.assertEqual(opts.servers, ["sockservice", "uvloop", "epoll", "tree"])

    def test_bad(self) -> None:
        """
        An unknown server, 'tree' without --tree, or no rounds: one line on
        stderr and exit status 2, no traceback.
        """
        for argv in (["nginx"], ["tree"], ["--rounds", "0"]):
            done = subprocess.run(
                [sys.executable, str(Path(streamcost.__file__)), *argv],
                capture_output=True,
                text=True,
            )
            self.assertEqual(done.returncode, 2, argv)
            self.assertNotIn("Traceback", done.stderr)

    def test_tree(self) -> None:
        """
        The server 'tree' is sockservice with the tree put first on
        C{sys.path}, ahead of the checkout the servers run in.
        """
        with tempfile.TemporaryDirectory() as tree:
            got = streamcost.spec(Path("/py"), "tree", tree)
            code = got.argv[2]
            self.assertTrue(code.startswith(f"import sys; sys.path.insert(0, {tree!r}); "))
            ours = streamcost.spec(Path("/py"), "sockservice", None)
            self.assertEqual(got.argv[3:], ours.argv[3:])
            self.assertEqual(code[code.index("; ", 20) + 2 :], ours.argv[2])
