# -*- test-case-name: tests.e2e.test_deploy -*-
"""
C{systemd-analyze} (run as a subprocess) accepts the systemd units in
C{deploy/systemd/} and rates their sandboxing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial.unittest import SkipTest, TestCase

from tests.test_deploy import (
    INSTALLED_TWISTD,
    MAX_EXPOSURE,
    SERVICE,
    SOCKET,
    STANDALONE,
    UNITS,
    optIn,
)


class SystemdAnalyzeTests(TestCase):
    """
    C{systemd-analyze} accepts the units and rates their sandboxing.
    """

    def setUp(self) -> None:
        self.analyze = shutil.which("systemd-analyze")
        if self.analyze is None:
            raise SkipTest("systemd-analyze not found (Debian: apt-get install systemd)")

    def installed(self, metrics: bool = False) -> Path:
        """
        Copy the units to a temporary directory, with C{ExecStart=} pointing
        at an executable that exists here (systemd-analyze verify checks
        it): the Python running the tests stands in for C{twistd}.

        @param metrics: with their opt-in metrics lines uncommented.
        """
        # Not self.mktemp(): under pytest it is relative to the working
        # directory, the checkout.
        directory = Path(tempfile.mkdtemp(prefix="sockservice-units-"))
        self.addCleanup(shutil.rmtree, directory, True)
        for unit in UNITS.iterdir():
            text = unit.read_text().replace(INSTALLED_TWISTD, sys.executable)
            text = optIn(text) if metrics else text
            (directory / unit.name).write_text(text)
        return directory

    def systemdAnalyze(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.analyze is not None
        return subprocess.run([self.analyze, *args], capture_output=True, text=True, timeout=60)

    def assertVerifies(self, *units: Path) -> None:
        result = self.systemdAnalyze("verify", *map(str, units))
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""), units)

    def test_verifySocketActivated(self) -> None:
        """
        C{systemd-analyze verify} passes the socket unit and its service,
        without a warning.
        """
        directory = self.installed()
        self.assertVerifies(directory / SOCKET, directory / SERVICE)

    def test_verifyStandalone(self) -> None:
        """
        C{systemd-analyze verify} passes the standalone service, without a
        warning.
        """
        self.assertVerifies(self.installed() / STANDALONE)

    def test_verifyMetricsOptIn(self) -> None:
        """
        With their opt-in metrics lines uncommented, all three units still
        pass C{systemd-analyze verify} without a warning.
        """
        directory = self.installed(metrics=True)
        self.assertVerifies(directory / SOCKET, directory / SERVICE)
        self.assertVerifies(directory / STANDALONE)

    def test_verifyCatchesMistakes(self) -> None:
        """
        The check is not vacuous: a socket unit without its service fails.
        """
        directory = self.installed()
        (directory / SERVICE).unlink()
        result = self.systemdAnalyze("verify", str(directory / SOCKET))
        self.assertNotEqual(result.returncode, 0)

    def test_security(self) -> None:
        """
        C{systemd-analyze security} rates both services' exposure low.
        """
        directory = self.installed()
        for name, limit in MAX_EXPOSURE.items():
            result = self.systemdAnalyze("security", "--offline=true", str(directory / name))
            match = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
            self.assertIsNotNone(match, result.stdout + result.stderr)
            assert match is not None
            self.assertLessEqual(float(match.group(1)), limit, (name, result.stdout))
