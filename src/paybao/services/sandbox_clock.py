"""Moving platform time in sandbox mode, running every timer that falls due on the way.

Time is moved to each due job in turn, so a job runs with the clock at (or just past) its due
time, in due order, exactly once; jobs that schedule further jobs inside the window run too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import SandboxOnly
from paybao.services.clock import US_PER_S
from paybao.services.jobs import JobRunner

STEPS_MAX = 100_000


class AdjustableClock(Protocol):
    def now_us(self) -> int: ...

    def offset_us(self, *, fresh: bool = False) -> int: ...

    def set_offset_us(self, offset_us: int) -> None: ...


Sweep = Callable[[], int]


@dataclass(frozen=True, slots=True)
class AdvanceReport:
    from_us: int
    to_us: int
    jobs_run: int
    swept: int


class SandboxClockService:
    def __init__(
        self,
        clock: AdjustableClock,
        runner: JobRunner,
        sweeps: list[Sweep],
        *,
        sandbox: bool,
    ) -> None:
        self.clock = clock
        self.runner = runner
        # The same list the worker runs: features that add a sweep add it to both.
        self.sweeps = sweeps
        self.sandbox = sandbox

    def advance(self, seconds: int) -> AdvanceReport:
        if not self.sandbox:
            raise SandboxOnly("the clock moves only in sandbox mode (PAYBAO_SANDBOX=1)")
        assert seconds > 0
        start_us = self.clock.now_us()
        # Platform time ends at (now when called) + seconds: wall time the jobs take on the way
        # is absorbed, so a caller that computed a boundary from now lands where it aimed.
        target_us = start_us + seconds * US_PER_S
        jobs_run = 0
        # Sweep first, as the worker's pass does: a sweep may create a timer due inside the
        # window (the day close at the coming midnight), and the loop only sees what exists.
        swept = self._sweep()
        for _ in range(STEPS_MAX):
            due_us = self.runner.next_due_at_us()
            if due_us is None or due_us > target_us:
                break
            self._move_to(due_us)
            swept += self._sweep()
            jobs_run += self._run_all_due()
        self._move_to(target_us)
        swept += self._sweep()
        jobs_run += self._run_all_due()
        return AdvanceReport(start_us, self.clock.now_us(), jobs_run, swept)

    def _move_to(self, at_us: int) -> None:
        now_us = self.clock.now_us()
        if at_us > now_us:
            self.clock.set_offset_us(self.clock.offset_us(fresh=True) + (at_us - now_us))

    def _run_all_due(self) -> int:
        total = 0
        for _ in range(STEPS_MAX):
            ran = self.runner.run_due()
            total += ran
            if ran == 0:
                return total
        return total

    def _sweep(self) -> int:
        return sum(sweep() for sweep in self.sweeps)
