"""Yu'e Bao's daily pass: at the start of each China day D, for every holder in order of user
id, one transaction per (user, D) that pays the income of D-1, confirms the transfers in whose
confirmation day has come, and lands the NORMAL transfers out that arrive on D.

Income of D-1 is paid on what was confirmed at the end of D-1: the holding's confirmed amount
now, plus whatever the user transferred out since D began (the pass may run late: a worker that
was down, a clock moved ahead), using the figure published for D-1 or the default setting. It is
settled once per (user, day): the holding keeps the last day settled, so a second settlement of
a day (the pass run twice, two wakes at once) does nothing; income is also unique per (user,
day), and orders move by compare-and-set.

The pass's progress is one `fund_days` row per day (the last user settled). A `fund.day` job
wakes it: it settles one batch of users (each in its own short transaction), moves the cursor,
and schedules the next wake: at once while users remain, else at the start of the next day. So
days are settled in order, exactly once, and a pass that stopped (a crash between batches)
starts again from the last cursor. The chain is started by the first transfer into the fund and
kept alive by a sweep; the job runs outside any transaction (it opens its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from paybao.domain.accounts import Purpose
from paybao.domain.fund import (
    LEDGER_CODE_FUND_CONFIRM,
    LEDGER_CODE_FUND_INCOME,
    LEDGER_CODE_FUND_OUT,
    OrderKind,
    OrderStatus,
    china_day,
    day_start_us,
    income_fen,
    rate_on,
)
from paybao.domain.ledger import Transfer
from paybao.services.fund import JOB_DAY, FundService
from paybao.services.fund_records import FundIncome, FundOrder, FundStore, Holding
from paybao.services.jobs import Job
from paybao.services.ports import Tx

# Orders of one user settled in one pass; more (hundreds in a day) wait for the next day's.
ORDERS_DUE_MAX = 500
RUNNING = "running"
DONE = "done"


@dataclass(frozen=True, slots=True)
class DayState:
    day: date
    status: str  # running | done
    cursor_user_id: int  # the last user settled
    users_settled: int
    started_at_us: int
    finished_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """What one (user, day) settlement did."""

    user_id: int
    day: date
    income_fen: int = 0
    confirmed_fen: int = 0
    arrived_fen: int = 0


class DayStore(FundStore, Protocol):
    def day_state(self, tx: Tx, *, for_update: bool = False) -> DayState | None:
        """The latest day's row."""
        ...

    def save_day(self, tx: Tx, state: DayState) -> None:
        """Insert the day's row, or update it."""
        ...

    def holders_to_settle(
        self, tx: Tx, after_user_id: int, active_since_us: int, limit: int
    ) -> list[int]:
        """Users after `after_user_id`, in order, with anything in the fund or on its way,
        or whose holding changed at or after `active_since_us`."""
        ...


class FundDays:
    def __init__(self, fund: FundService, store: DayStore) -> None:
        self.fund = fund
        self.store = store
        self.db = fund.db
        self.clock = fund.clock
        self.batch_size = fund.policy.settle_batch_size
        assert 0 < self.batch_size <= 1000
        self._checked: date | None = None

    def install_jobs(self) -> None:
        self.fund.jobs.register_outside_tx(JOB_DAY, self._on_wake)

    def ensure_started(self) -> int:
        """Sweep: once a day per process, wake a pass that has ever run (a chain a crash or a
        lost job broke must not stay broken). Installations without a fund pay nothing."""
        today = china_day(self.clock.now_us())
        if self._checked == today:
            return 0
        with self.db.read() as tx:
            started = self.store.day_state(tx) is not None
        if started:
            self.db.run(self.fund.wake_in)
        self._checked = today
        return 0

    def state(self) -> DayState | None:
        """How far the daily pass got (the operators' page shows it)."""
        with self.db.read() as tx:
            return self.store.day_state(tx)

    # The pass -----------------------------------------------------------------------------

    def _on_wake(self, job: Job) -> int | None:
        position = self.db.run(lambda tx: self._position_in(tx, job))
        if position is None:
            return None
        day, cursor = position
        active_since_us = day_start_us(day)
        with self.db.read() as tx:
            user_ids = self.store.holders_to_settle(tx, cursor, active_since_us, self.batch_size)
        for user_id in user_ids:
            self.settle_user_day(user_id, day)
        self.db.run(lambda tx: self._advance_in(tx, day, cursor, user_ids))
        return None

    def _position_in(self, tx: Tx, job: Job) -> tuple[date, int] | None:
        """Where the pass stands: (day, last user settled), or None when the next day has not
        begun yet (a wake then waits for it)."""
        now_us = self.clock.now_us()
        state = self.store.day_state(tx)
        if state is None:
            day, cursor = china_day(min(job.due_at_us, now_us)), 0
        elif state.status == RUNNING:
            day, cursor = state.day, state.cursor_user_id
        else:
            day, cursor = state.day + timedelta(days=1), 0
        start_us = day_start_us(day)
        if start_us > now_us:
            self.fund.jobs.schedule_in(tx, JOB_DAY, f"{day.isoformat()}@0", start_us)
            return None
        return day, cursor

    def _advance_in(self, tx: Tx, day: date, cursor: int, user_ids: list[int]) -> None:
        """Move the cursor past the batch just settled, unless another wake did meanwhile."""
        state = self.store.day_state(tx, for_update=True)
        if not _continues(state, day, cursor):
            return
        now_us = self.clock.now_us()
        full = len(user_ids) == self.batch_size
        started = state is None or state.day != day
        self.store.save_day(
            tx,
            DayState(
                day=day,
                status=RUNNING if full else DONE,
                cursor_user_id=user_ids[-1] if user_ids else cursor,
                users_settled=(0 if started or state is None else state.users_settled)
                + len(user_ids),
                started_at_us=now_us if started or state is None else state.started_at_us,
                finished_at_us=None if full else now_us,
            ),
        )
        if full:
            key = f"{day.isoformat()}@{user_ids[-1]}"
            self.fund.jobs.schedule_in(tx, JOB_DAY, key, now_us)
        else:
            following = day + timedelta(days=1)
            key = f"{following.isoformat()}@0"
            self.fund.jobs.schedule_in(tx, JOB_DAY, key, day_start_us(following))

    # One user, one day --------------------------------------------------------------------

    def settle_user_day(self, user_id: int, day: date) -> Settled:
        """The start of `day` for one user: yesterday's income, confirmations and arrivals
        that fall due. Idempotent: a second call for the same (user, day) changes nothing."""
        return self.db.run(lambda tx: self._settle_in(tx, user_id, day))

    def _settle_in(self, tx: Tx, user_id: int, day: date) -> Settled:
        holding = self.store.holding(tx, user_id, for_update=True)
        if holding is None or (holding.settled_day is not None and holding.settled_day >= day):
            return Settled(user_id, day)  # nothing held, or this day is settled already
        income = self._income_in(tx, holding, day - timedelta(days=1))
        transfers: list[Transfer] = []
        income_paid_fen = 0
        if income is not None and income.income_fen:
            income_paid_fen = income.income_fen
            transfers.append(self._income_transfer(tx, holding, income))
        confirmed_fen = arrived_fen = 0
        for order in self.store.due_orders(tx, user_id, day, ORDERS_DUE_MAX):
            transfers.append(self._settle_order_in(tx, holding, order))
            if order.kind is OrderKind.IN:
                confirmed_fen += order.amount_fen
            else:
                arrived_fen += order.amount_fen
        if transfers:
            self.fund.ledger.transfer_in(tx, transfers)
        self.store.update_holding(
            tx,
            user_id,
            {
                "confirmed_fen": holding.confirmed_fen + income_paid_fen + confirmed_fen,
                "pending_fen": holding.pending_fen - confirmed_fen,
                "redeeming_fen": holding.redeeming_fen - arrived_fen,
                "income_total_fen": holding.income_total_fen + income_paid_fen,
                "settled_day": day,
            },
        )
        return Settled(user_id, day, income_paid_fen, confirmed_fen, arrived_fen)

    def _income_in(self, tx: Tx, holding: Holding, income_day: date) -> FundIncome | None:
        """The income of `income_day`, written now; None if paid before or nothing earned."""
        if self.store.income(tx, holding.user_id, income_day) is not None:
            return None
        since_us = day_start_us(income_day + timedelta(days=1))
        base_fen = holding.confirmed_fen + self.store.redeemed_since(tx, holding.user_id, since_us)
        if base_fen == 0:
            return None
        published = self.store.rates_between(tx, income_day, income_day)
        per_10k_e4 = rate_on(income_day, published, self.fund.policy.per_10k_default_e4)
        income = FundIncome(
            user_id=holding.user_id,
            income_date=income_day,
            base_fen=base_fen,
            per_10k_e4=per_10k_e4,
            income_fen=income_fen(base_fen, per_10k_e4),
            created_at_us=self.clock.now_us(),
        )
        # The holding's row lock makes this the only writer; the key makes sure of it.
        return income if self.store.insert_income(tx, income) else None

    def _income_transfer(self, tx: Tx, holding: Holding, income: FundIncome) -> Transfer:
        day = income.income_date.isoformat()
        return Transfer(
            f"fund:income:{holding.user_id}:{day}",
            self.fund.platform_account_in(tx, Purpose.FUND_INCOME),
            holding.account_id,
            income.income_fen,
            code=LEDGER_CODE_FUND_INCOME,
            reference=f"fund:income:{day}",
        )

    def _settle_order_in(self, tx: Tx, holding: Holding, order: FundOrder) -> Transfer:
        custody_id = self.fund.platform_account_in(tx, Purpose.FUND_CUSTODY)
        now_us = self.clock.now_us()
        reference = f"fund:{order.id}"
        if order.kind is OrderKind.IN:
            moved = self.store.finish_order(
                tx, order.id, OrderStatus.PENDING, OrderStatus.CONFIRMED, now_us
            )
            assert moved, f"fund order {order.id} changed under the holding's lock"
            return Transfer(
                f"fund:confirm:{order.id}",
                custody_id,
                holding.account_id,
                order.amount_fen,
                code=LEDGER_CODE_FUND_CONFIRM,
                reference=reference,
            )
        assert order.kind is OrderKind.OUT_NORMAL
        moved = self.store.finish_order(
            tx, order.id, OrderStatus.PENDING, OrderStatus.SUCCEEDED, now_us
        )
        assert moved, f"fund order {order.id} changed under the holding's lock"
        return Transfer(
            f"fund:arrive:{order.id}",
            custody_id,
            self.fund.users.wallet_account_id_in(tx, holding.user_id),
            order.amount_fen,
            code=LEDGER_CODE_FUND_OUT,
            reference=reference,
        )


def _continues(state: DayState | None, day: date, cursor: int) -> bool:
    """Whether the batch that started at (day, cursor) is the next one for the pass."""
    if state is None:
        return cursor == 0
    if state.day == day:
        return state.status == RUNNING and state.cursor_user_id == cursor
    return state.status == DONE and state.day + timedelta(days=1) == day and cursor == 0
