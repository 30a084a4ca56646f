# -*- test-case-name: tests.test_command -*-
"""
One run of an allowed command, as a L{ProcessProtocol}: output kept up to a
cap, a timeout, and a reply when both the process and its pipes are done.
"""

from __future__ import annotations

from typing import Callable, List, Optional, cast

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IProcessTransport, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from sockservice.command.allowlist import AllowedCommand

__all__ = ["CommandProcess"]


class CommandProcess(ProcessProtocol):
    """
    One running command: collects its output within the cap, kills it on
    timeout or overflow, and fires L{finished} with the reply fields.

    When the process leads a process group of its own (see
    L{sockservice.command.session}), every kill is sent to the whole group,
    and whatever is left of the group when the run ends is killed too: no
    descendant outlives its run.

    @ivar out: The output kept so far: C{[stdout chunks, stderr chunks]}.
    @ivar kept: How many bytes of output L{out} holds.
    @ivar flags: Why the service killed the process (C{timeout},
        C{truncated}, C{shutdown}), in order.
    """

    exitGrace = 2.0
    transport: IProcessTransport

    def __init__(
        self,
        command: AllowedCommand,
        clock: IReactorTime,
        killGroup: Optional[Callable[[int], None]] = None,
    ) -> None:
        """
        @param command: What runs, for its timeout and output cap.
        @param clock: For the timeout (C{callLater}).
        @param killGroup: Kills every process of a group, given its ID; when
            given, the process is taken to lead its own group.
        """
        self.command = command
        self.clock = clock
        self.killGroup = killGroup
        self.out: List[List[bytes]] = [[], []]
        self.kept = 0
        self.flags: List[str] = []
        self.finished: Deferred[List[bytes]] = Deferred()
        self._timer = clock.callLater(command.timeout, self.kill, "timeout")
        self._grace: Optional[IDelayedCall] = None
        self._group: Optional[int] = None

    def connectionMade(self) -> None:
        """
        The process started: it gets no input.
        """
        if self.killGroup is not None:
            self._group = self.transport.pid
        self.transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Keep output up to the cap (stdout and stderr together); kill the
        process when it goes over.
        """
        if childFD not in (1, 2) or "truncated" in self.flags:
            return
        room = self.command.maxOutput - self.kept
        if len(data) > room:
            data = data[: max(room, 0)]
            self.kill("truncated")
        if data:
            self.out[childFD - 1].append(data)
            self.kept += len(data)

    def kill(self, why: str) -> None:
        """
        Kill the process (and its group), noting C{why}.
        """
        self.flags.append(why)
        if self._group is not None:
            self.killGroup(self._group)  # type: ignore[misc]  # set when _group is
        try:
            self.transport.signalProcess("KILL")
        except ProcessExitedAlready:
            pass

    def processExited(self, reason: Failure) -> None:
        """
        The process is gone; if a descendant holds the pipes open, stop
        waiting for them after a grace period.
        """
        self._grace = self.clock.callLater(self.exitGrace, self.transport.loseConnection)

    def processEnded(self, reason: Failure) -> None:
        """
        Process and pipes are done: kill what is left of its group, and fire
        L{finished} with the reply.
        """
        for call in (self._timer, self._grace):
            if call is not None and call.active():
                call.cancel()
        if self._group is not None:
            self.killGroup(self._group)  # type: ignore[misc]  # set when _group is
            self._group = None
        ended = cast(ProcessTerminated, reason.value)  # or ProcessDone: both have exitCode
        code, signal = ended.exitCode, getattr(ended, "signal", None)
        status = f"signal {signal}" if signal is not None else f"exit {code}"
        status = " ".join([status] + self.flags)
        self.finished.callback([status.encode(), b"".join(self.out[0]), b"".join(self.out[1])])
