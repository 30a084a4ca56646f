# -*- test-case-name: tests.e2e.test_commandgroups -*-
"""
Tests for L{sockservice.command.session} with real processes: whatever a
command starts dies with its run, on timeout, at its end and when the service
stops.
"""

from __future__ import annotations

import os
from typing import List

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, TestCase

from sockservice.command.allowlist import AllowedCommand, AllowList
from sockservice.command.factory import CommandFactory
from sockservice.command.session import SESSIONS
from tests.servicefakes import tempPath

__all__ = ["ProcessGroupTests"]


def alive(pid: int) -> bool:
    """
    @return: Whether C{pid} runs (a zombie, dead but not yet reaped by its
        new parent, counts as gone).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


class ProcessGroupTests(TestCase):
    """
    No descendant of a command outlives its run.
    """

    def setUp(self) -> None:
        if not SESSIONS:
            raise SkipTest("no sessions on this platform")
        self.pids: List[int] = []
        self.addCleanup(self.killLeftovers)

    def killLeftovers(self) -> None:
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, 9)

    def factory(self, script: str, timeout: float) -> CommandFactory:
        command = AllowedCommand("forker", ["/bin/sh", "-c", script], timeout=timeout)
        factory = CommandFactory(AllowList([command]), reactor)
        factory.log = Logger(observer=lambda event: None)
        self.addCleanup(factory.stopFactory)
        return factory

    def run_(self, factory: CommandFactory) -> Deferred[List[bytes]]:
        command = factory.allowList.resolve(b"forker", [])[0]
        return factory.run(command, command.argv, "test")

    @inlineCallbacks
    def assertGone(self, pid: int):  # type: ignore[no-untyped-def]
        """Fail unless C{pid} is gone within 5 seconds."""
        self.pids.append(pid)
        for _ in range(100):
            if not alive(pid):
                return
            yield deferLater(reactor, 0.05, lambda: None)
        self.fail(f"process {pid} outlived its run")

    @inlineCallbacks
    def test_timeout(self):  # type: ignore[no-untyped-def]
        """A grandchild of a command killed at its timeout dies with it."""
        factory = self.factory("sleep 60 & echo $!; sleep 60", timeout=1)
        status, out, err = yield self.run_(factory)
        self.assertEqual(status, b"signal 9 timeout")
        yield self.assertGone(int(out))

    @inlineCallbacks
    def test_leftoverAtEnd(self):  # type: ignore[no-untyped-def]
        """A background process left behind by a command that exits is killed."""
        factory = self.factory("sleep 60 >/dev/null 2>&1 & echo $!", timeout=10)
        status, out, err = yield self.run_(factory)
        self.assertEqual(status, b"exit 0")
        yield self.assertGone(int(out))

    @inlineCallbacks
    def test_shutdown(self):  # type: ignore[no-untyped-def]
        """When the service stops, a running command and its grandchild are killed."""
        pidFile = tempPath(self)
        script = f"sleep 60 & echo $! > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; sleep 60"
        factory = self.factory(script, timeout=30)
        result = self.run_(factory)
        for _ in range(200):
            if os.path.exists(pidFile):
                break
            yield deferLater(reactor, 0.05, lambda: None)
        with open(pidFile) as f:
            pid = int(f.read())
        self.pids.append(pid)
        factory.stopFactory()
        status, out, err = yield result
        self.assertEqual(status, b"signal 9 shutdown")
        yield self.assertGone(pid)
