"""Pruning `merchant_signups`: the rows the sign-up rate limits count (services/
merchant_accounts.py) matter only inside the limits' sliding windows, so older ones go.

A chain of jobs, like the day close (services/day_close.py): the job of period `p` (key `p`,
periods of `interval_s` counted from the epoch) is due when the period ends; it deletes at most
`batch_max` rows made before now minus the longest window, oldest first, and schedules the next
period's job. If it filled its batch, a follow-up (key `p#n`) is due at once, so a backlog
goes down batch by batch, never in one long transaction. A sweep schedules the current
period's job if none is (a fresh install, or a chain broken by a dead job); jobs are unique by
(kind, key), so asking twice schedules once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ports import Clock, Database, Tx

JOB_PRUNE_SIGNUPS = "merchant.signups_prune"
# Prune about once per window (rows then live at most two windows), between hourly and daily.
PRUNE_INTERVAL_S_MIN = 3600
PRUNE_INTERVAL_S_MAX = 86_400
PRUNE_BATCH_MAX = 1000


def prune_interval_s(keep_s: int) -> int:
    return min(max(keep_s, PRUNE_INTERVAL_S_MIN), PRUNE_INTERVAL_S_MAX)


class SignUpPruneStore(Protocol):
    def prune(self, tx: Tx, before_us: int, limit: int) -> int:
        """Delete at most `limit` rows made before `before_us`, oldest first; how many went."""
        ...


@dataclass
class SignUpPruning:
    db: Database
    store: SignUpPruneStore
    jobs: JobRunner
    clock: Clock
    keep_s: int  # the longest rate-limit window: younger rows still count toward a limit
    interval_s: int = PRUNE_INTERVAL_S_MAX
    batch_max: int = PRUNE_BATCH_MAX
    _ensured: int | None = None

    def __post_init__(self) -> None:
        assert self.keep_s > 0 and self.interval_s > 0 and self.batch_max > 0

    def install_jobs(self) -> None:
        self.jobs.register(JOB_PRUNE_SIGNUPS, self._prune_job)

    def ensure_scheduled(self) -> int:
        """Sweep: the current period has its pruning job (cheap once it has)."""
        period = self._period_of(self.clock.now_us())
        if self._ensured == period:
            return 0
        self.db.run(lambda tx: self._schedule_period_in(tx, period))
        self._ensured = period
        return 0

    def prune_in(self, tx: Tx) -> int:
        """One batch: the oldest rows past the windows. How many were deleted."""
        before_us = self.clock.now_us() - self.keep_s * US_PER_S
        return self.store.prune(tx, before_us, self.batch_max)

    def _prune_job(self, tx: Tx, job: Job) -> None:
        period_text, _, part = job.key.partition("#")
        period = int(period_text)
        if self.prune_in(tx) >= self.batch_max:  # maybe more: the next batch at once
            following = f"{period}#{int(part or 0) + 1}"
            self.jobs.schedule_in(tx, JOB_PRUNE_SIGNUPS, following, self.clock.now_us())
        self._schedule_period_in(tx, max(period + 1, self._period_of(self.clock.now_us())))

    def _schedule_period_in(self, tx: Tx, period: int) -> None:
        due_us = (period + 1) * self.interval_s * US_PER_S
        self.jobs.schedule_in(tx, JOB_PRUNE_SIGNUPS, str(period), due_us)

    def _period_of(self, at_us: int) -> int:
        return at_us // (self.interval_s * US_PER_S)
