# -*- test-case-name: tests.test_probesweep -*-
"""
The size sweep on the network: L{Sweeper} runs one short latency run
(L{sockservice.probe.modes.Probe}: C{--count} requests, on a fresh UDP port
or TCP connection) per size that the L{sockservice.probe.sweep.SizePlan}
names, until the plan is done, a run fails, or it is interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, List, Optional

from sockservice.client.errors import ClientError
from sockservice.probe.accounting import Counts
from sockservice.probe.latency import Latency
from sockservice.probe.modes import Probe, Settings
from sockservice.probe.pacing import Schedule
from sockservice.probe.sweep import DEFAULT_COUNT, SizeRow, Sizes, windowFor

__all__ = ["SweepOutcome", "Sweeper"]


@dataclass
class SweepOutcome:
    """
    What one sweep found.

    @ivar settings: The settings shared by every size (its C{size} unused).
    @ivar sizes: What C{--sizes} named.
    @ivar count: The requests per size.
    @ivar window: The window of every size, or C{None} (by size).
    @ivar rows: One per size tried, in the order tried.
    @ivar counts: The counts of every size together.
    @ivar latency: The round trips of every size together.
    @ivar error: The network failure that ended the sweep, or C{None}.
    """

    settings: Settings
    sizes: Sizes
    count: int
    window: Optional[int]
    rows: List[SizeRow]
    counts: Counts
    latency: Latency
    elapsedS: float
    error: Optional[ClientError] = None


class Sweeper:
    """
    One sweep over sizes.

    @ivar interrupted: Whether L{interrupt} was called.
    """

    def __init__(
        self,
        reactor: Any,
        settings: Settings,
        sizes: Sizes,
        count: Optional[int] = None,
        window: Optional[int] = None,
        onRow: Callable[[SizeRow], object] = lambda row: None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """
        @param settings: What to probe (its C{size} and its schedule but
            for the rate unused).
        @param count: The requests per size, or C{None} for L{DEFAULT_COUNT}.
        @param window: The window of every size, or C{None} for
            L{windowFor} each size.
        """
        self._reactor = reactor
        self.settings = settings
        self.sizes = sizes
        self.count = DEFAULT_COUNT if count is None else count
        self._window = window
        self._onRow = onRow
        self._clock = clock
        self.interrupted = False
        self._probe: Optional[Probe] = None

    def interrupt(self) -> None:
        """
        End the sweep now (Ctrl-C): the size being tried ends as if its run
        had ended, and no other is tried.
        """
        self.interrupted = True
        if self._probe is not None:
            self._probe.interrupt()

    def _settingsFor(self, size: int) -> Settings:
        window = windowFor(size, self.count) if self._window is None else self._window
        schedule = Schedule(self.settings.schedule.rate, window, self.count, None)
        return replace(self.settings, size=size, schedule=schedule)

    async def run(self) -> SweepOutcome:
        """
        Try each size the plan names, in turn.
        """
        plan = self.sizes.plan(self.settings.protocol)
        rows: List[SizeRow] = []
        counts = Counts()
        latency = Latency()
        error: Optional[ClientError] = None
        started = self._reactor.seconds()
        size = plan.next()
        while size is not None and not self.interrupted:
            self._probe = Probe(self._reactor, self._settingsFor(size), clock=self._clock)
            try:
                outcome = await self._probe.run()
            except ClientError as failure:
                error = failure
                break
            step = outcome.accounting
            row = SizeRow.of(size, step.counts, step.latency, outcome.elapsedS)
            rows.append(row)
            _add(counts, step.counts)
            latency.histogram.add(step.latency.histogram)
            self._onRow(row)
            if outcome.error is not None:
                error = outcome.error
                break
            plan.record(size, row.answered > 0)
            size = plan.next()
        self._probe = None
        elapsed = self._reactor.seconds() - started
        return SweepOutcome(
            self.settings,
            self.sizes,
            self.count,
            self._window,
            rows,
            counts,
            latency,
            elapsed,
            error,
        )


def _add(total: Counts, more: Counts) -> None:
    for name in vars(total):
        setattr(total, name, getattr(total, name) + getattr(more, name))
