"""The monthly score pass: at 00:00 China time on the 6th, every user with the score switched on
gets the new period's snapshot, in order of user id, one short transaction per user.

The pass's progress is one `score_months` row per period (the last user scored). A
`score.month` job wakes it: it scores one batch, moves the cursor, and schedules the next wake —
at once while users remain, else on the next period's 6th. So periods are scored in order; a pass
that stopped (a crash between batches) goes on from its cursor; and a pass run twice, or two
wakes at once, score each (user, period) once, because a snapshot is unique per (user, period)
and the cursor moves compare-and-set. The chain starts when the first user switches the score on
(`ScoreService.grant`) and a daily sweep keeps it alive; the job runs outside any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol

from paybao.domain.fund import china_day, day_start_us
from paybao.domain.score import next_period, period_of, run_date
from paybao.services.jobs import Job
from paybao.services.ports import Tx
from paybao.services.score import JOB_MONTH, ScoreService, ScoreStore

RUNNING: Final = "running"
DONE: Final = "done"


@dataclass(frozen=True, slots=True)
class MonthState:
    period: str
    status: str  # running | done
    cursor_user_id: int  # the last user scored
    users_scored: int
    started_at_us: int
    finished_at_us: int | None = None


class MonthStore(ScoreStore, Protocol):
    def month_state(self, tx: Tx, *, for_update: bool = False) -> MonthState | None:
        """The latest period's row."""
        ...

    def save_month(self, tx: Tx, state: MonthState) -> None:
        """Insert the period's row, or update it."""
        ...


class ScoreMonths:
    def __init__(self, score: ScoreService, store: MonthStore) -> None:
        self.score = score
        self.store = store
        self.db = score.db
        self.clock = score.clock
        self.batch_size = score.policy.batch_size
        self._checked: date | None = None

    def install_jobs(self) -> None:
        self.score.jobs.register_outside_tx(JOB_MONTH, self.on_wake)

    def ensure_started(self) -> int:
        """Sweep: once a day per process, make sure the next 6th's wake exists when anyone has
        ever switched the score on (a lost job must not stop the monthly scores)."""
        today = china_day(self.clock.now_us())
        if self._checked == today:
            return 0
        with self.db.read() as tx:
            wanted = self.store.any_consent(tx)
        if wanted:
            self.db.run(self.score.schedule_next_pass_in)
        self._checked = today
        return 0

    def state(self) -> MonthState | None:
        with self.db.read() as tx:
            return self.store.month_state(tx)

    def on_wake(self, job: Job | None = None) -> int | None:
        """One batch of the pass that is due (if any). Returns None: the job is done either
        way; what follows is scheduled as jobs of its own."""
        position = self.db.run(self._position_in)
        if position is None:
            return None
        period, cursor = position
        with self.db.read() as tx:
            user_ids = self.store.consenting_users(tx, cursor, self.batch_size)
        for user_id in user_ids:
            self.score.score_user(user_id, period)
        self.db.run(lambda tx: self._advance_in(tx, period, cursor, user_ids))
        return None

    def _position_in(self, tx: Tx) -> tuple[str, int] | None:
        """Where the pass stands: (period, last user scored), or None when the next period's
        6th has not come yet (a wake is then scheduled for it)."""
        now_us = self.clock.now_us()
        state = self.store.month_state(tx)
        if state is None:
            period, cursor = period_of(china_day(now_us)), 0
        elif state.status == RUNNING:
            period, cursor = state.period, state.cursor_user_id
        else:
            period, cursor = next_period(state.period), 0
        start_us = day_start_us(run_date(period))
        if start_us > now_us:
            self.score.jobs.schedule_in(tx, JOB_MONTH, f"{period}@0", start_us)
            return None
        return period, cursor

    def _advance_in(self, tx: Tx, period: str, cursor: int, user_ids: list[int]) -> None:
        """Move the cursor past the batch just scored, unless another wake did meanwhile."""
        state = self.store.month_state(tx, for_update=True)
        if not _continues(state, period, cursor):
            return
        now_us = self.clock.now_us()
        full = len(user_ids) == self.batch_size
        started = state is None or state.period != period
        self.store.save_month(
            tx,
            MonthState(
                period=period,
                status=RUNNING if full else DONE,
                cursor_user_id=user_ids[-1] if user_ids else cursor,
                users_scored=(0 if started or state is None else state.users_scored)
                + len(user_ids),
                started_at_us=now_us if started or state is None else state.started_at_us,
                finished_at_us=None if full else now_us,
            ),
        )
        if full:
            self.score.jobs.schedule_in(tx, JOB_MONTH, f"{period}@{user_ids[-1]}", now_us)
        else:
            following = next_period(period)
            key = f"{following}@0"
            self.score.jobs.schedule_in(tx, JOB_MONTH, key, day_start_us(run_date(following)))


def _continues(state: MonthState | None, period: str, cursor: int) -> bool:
    """Whether the batch that started at (period, cursor) is the next one for the pass."""
    if state is None:
        return cursor == 0
    if state.period == period:
        return state.status == RUNNING and state.cursor_user_id == cursor
    return state.status == DONE and next_period(state.period) == period and cursor == 0
