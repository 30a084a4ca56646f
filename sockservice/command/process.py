# -*- test-case-name: tests.test_command -*-
"""
One run of an allowed command, as a L{ProcessProtocol}: output kept up to a
cap, a timeout, and a reply when both the process and its pipes are done.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from sockservice.command.allowlist import AllowedCommand

__all__ = ["CommandProcess"]


class CommandProcess(ProcessProtocol):
    """
    One running command: collects its output within the cap, kills it on
    timeout or overflow, and fires L{finished} with the reply fields.
    """

    exitGrace = 2.0

    def __init__(self, command: AllowedCommand, clock: Any) -> None:
        """
        @param command: What runs, for its timeout and output cap.
        @param clock: For the timeout (C{callLater}).
        """
        self.command = command
        self.clock = clock
        self.out: List[bytes] = [b"", b""]
        self.flags: List[str] = []
        self.finished: Deferred[List[bytes]] = Deferred()
        self._timer = clock.callLater(command.timeout, self._kill, "timeout")
        self._grace: Any = None

    def connectionMade(self) -> None:
        """
        The process started: it gets no input.
        """
        self.transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Keep output up to the cap (stdout and stderr together); kill the
        process when it goes over.
        """
        if childFD not in (1, 2) or "truncated" in self.flags:
            return
        room = self.command.maxOutput - len(self.out[0]) - len(self.out[1])
        self.out[childFD - 1] += data[: max(room, 0)]
        if len(data) > room:
            self._kill("truncated")

    def _kill(self, why: str) -> None:
        """
        Kill the process, noting C{why} (C{timeout} or C{truncated}).
        """
        self.flags.append(why)
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    def processExited(self, reason: Failure) -> None:
        """
        The process is gone; if a grandchild holds the pipes open, stop
        waiting for them after a grace period.
        """
        self._grace = self.clock.callLater(self.exitGrace, self.transport.loseConnection)

    def processEnded(self, reason: Failure) -> None:
        """
        Process and pipes are done: fire L{finished} with the reply.
        """
        for call in (self._timer, self._grace):
            if call is not None and call.active():
                call.cancel()
        code, signal = reason.value.exitCode, getattr(reason.value, "signal", None)
        status = f"signal {signal}" if signal is not None else f"exit {code}"
        status = " ".join([status] + self.flags)
        self.finished.callback([status.encode(), self.out[0], self.out[1]])
