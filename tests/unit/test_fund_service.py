"""FundService and the daily pass on in-memory fakes: the money moves through the ledger as the
rules say (wallet -> custody -> fund account -> wallet), refusals change nothing, income is paid
once per (user, day) on what was confirmed at the end of that day."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeLedgerStore, FakeTx

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.errors import DomainError, Forbidden
from paybao.domain.fund import (
    LEDGER_CODE_FUND_CONFIRM,
    LEDGER_CODE_FUND_IN,
    LEDGER_CODE_FUND_INCOME,
    LEDGER_CODE_FUND_OUT,
    LEDGER_CODE_FUND_REDEEM,
    OrderKind,
    OrderStatus,
    RedeemSpeed,
    day_start_us,
)
from paybao.domain.ledger import Transfer
from paybao.services.clock import ManualClock
from paybao.services.fund import FundService
from paybao.services.fund_days import DayState, FundDays
from paybao.services.fund_records import FundIncome, FundOrder, FundPolicy, FundRate, Holding
from paybao.services.jobs import Job
from paybao.services.ledger import LedgerService

PASSWORD = "135790"
MONDAY = date(2026, 1, 5)
USER = 7


def at(day: date, hour: int, minute: int = 0) -> int:
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)
    return int(moment.timestamp()) * 1_000_000


# Fakes ----------------------------------------------------------------------------------------


class FakeFundStore:
    """FundStore and DayStore over FakeDatabase's state (copied per transaction)."""

    def _fund(self, tx: FakeTx) -> dict[str, Any]:
        return tx.state.setdefault(  # type: ignore[no-any-return]
            "fund", {"holdings": {}, "orders": {}, "incomes": {}, "rates": {}, "days": {}}
        )

    def holding(self, tx: FakeTx, user_id: int, *, for_update: bool = False) -> Holding | None:
        return self._fund(tx)["holdings"].get(user_id)  # type: ignore[no-any-return]

    def insert_holding(self, tx: FakeTx, user_id: int, account_id: int, now_us: int) -> None:
        holdings = self._fund(tx)["holdings"]
        if user_id not in holdings:
            holdings[user_id] = Holding(user_id, account_id, 0, 0, 0, 0, None, 0, now_us, now_us)

    def update_holding(self, tx: FakeTx, user_id: int, values: dict[str, Any]) -> None:
        holdings = self._fund(tx)["holdings"]
        holdings[user_id] = replace(holdings[user_id], **values)
        held = holdings[user_id]
        assert min(held.confirmed_fen, held.pending_fen, held.redeeming_fen) >= 0  # CHECK

    def holders_to_settle(
        self, tx: FakeTx, after_user_id: int, active_since_us: int, limit: int
    ) -> list[int]:
        found = [
            h.user_id
            for h in self._fund(tx)["holdings"].values()
            if h.user_id > after_user_id
            and (
                h.confirmed_fen > 0
                or h.pending_fen > 0
                or h.redeeming_fen > 0
                or h.updated_at_us >= active_since_us
            )
        ]
        return sorted(found)[:limit]

    def totals(self, tx: FakeTx) -> dict[str, int]:
        return {}

    def insert_order(self, tx: FakeTx, order: FundOrder) -> int:
        orders = self._fund(tx)["orders"]
        order_id = len(orders) + 1
        orders[order_id] = replace(order, id=order_id)
        return order_id

    def order(self, tx: FakeTx, order_id: int) -> FundOrder | None:
        return self._fund(tx)["orders"].get(order_id)  # type: ignore[no-any-return]

    def orders_of(
        self, tx: FakeTx, user_id: int, limit: int, before_id: int | None
    ) -> list[FundOrder]:
        mine = [o for o in self._fund(tx)["orders"].values() if o.user_id == user_id]
        mine = [o for o in mine if before_id is None or o.id < before_id]
        return sorted(mine, key=lambda o: -o.id)[:limit]

    def pending_orders(self, tx: FakeTx, user_id: int, limit: int) -> list[FundOrder]:
        orders = self._fund(tx)["orders"].values()
        return [o for o in orders if o.user_id == user_id and o.status == "pending"][:limit]

    def due_orders(self, tx: FakeTx, user_id: int, day: date, limit: int) -> list[FundOrder]:
        return [
            o
            for o in self.pending_orders(tx, user_id, 10**6)
            if o.kind in (OrderKind.IN, OrderKind.OUT_NORMAL)
            and o.settle_date is not None
            and o.settle_date <= day
        ][:limit]

    def finish_order(
        self, tx: FakeTx, order_id: int, from_status: str, to_status: str, now_us: int
    ) -> bool:
        orders = self._fund(tx)["orders"]
        if orders[order_id].status != from_status:
            return False
        orders[order_id] = replace(
            orders[order_id], status=OrderStatus(to_status), finished_at_us=now_us
        )
        return True

    def redeemed_since(self, tx: FakeTx, user_id: int, since_us: int) -> int:
        return sum(
            o.amount_fen
            for o in self._fund(tx)["orders"].values()
            if o.user_id == user_id and o.kind != OrderKind.IN and o.created_at_us >= since_us
        )

    def insert_income(self, tx: FakeTx, income: FundIncome) -> bool:
        incomes = self._fund(tx)["incomes"]
        key = (income.user_id, income.income_date)
        if key in incomes:
            return False
        incomes[key] = income
        return True

    def income(self, tx: FakeTx, user_id: int, day: date) -> FundIncome | None:
        return self._fund(tx)["incomes"].get((user_id, day))  # type: ignore[no-any-return]

    def incomes_of(
        self, tx: FakeTx, user_id: int, limit: int, before: date | None
    ) -> list[FundIncome]:
        mine = [i for (u, _), i in self._fund(tx)["incomes"].items() if u == user_id]
        mine = [i for i in mine if before is None or i.income_date < before]
        return sorted(mine, key=lambda i: i.income_date, reverse=True)[:limit]

    def rates_between(self, tx: FakeTx, first: date, last: date) -> dict[date, int]:
        rates = self._fund(tx)["rates"].values()
        return {r.rate_date: r.per_10k_e4 for r in rates if first <= r.rate_date <= last}

    def upsert_rate(self, tx: FakeTx, rate: FundRate) -> None:
        self._fund(tx)["rates"][rate.rate_date] = rate

    def rates(self, tx: FakeTx, limit: int) -> list[FundRate]:
        rates = sorted(self._fund(tx)["rates"].values(), key=lambda r: r.rate_date)
        return list(reversed(rates))[:limit]

    def day_state(self, tx: FakeTx, *, for_update: bool = False) -> DayState | None:
        days = self._fund(tx)["days"]
        return days[max(days)] if days else None

    def save_day(self, tx: FakeTx, state: DayState) -> None:
        self._fund(tx)["days"][state.day] = state


class FakeUsers:
    def __init__(self) -> None:
        self.wallets: dict[int, int] = {}
        self.frozen: set[int] = set()

    def check_can_pay_in(self, tx: Any, user_id: int, amount_fen: int, *, funding: str) -> None:
        assert funding == "fund"
        if user_id in self.frozen:
            raise Forbidden("frozen", code="account_frozen")

    def wallet_account_id_in(self, tx: Any, user_id: int) -> int:
        return self.wallets[user_id]

    def verify_payment_password(self, user_id: int, payment_password: str) -> None:
        if payment_password != PASSWORD:
            raise Forbidden("wrong payment password", code="payment_password_wrong")


class FakeJobs:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, int]] = []
        self.outside: dict[str, Any] = {}

    def schedule_in(
        self, tx: Any, kind: str, key: str, due_at_us: int, payload: Any = None
    ) -> bool:
        self.scheduled.append((kind, key, due_at_us))
        return True

    def register_outside_tx(self, kind: str, handler: Any) -> None:
        self.outside[kind] = handler


class World:
    def __init__(self, *, batch_size: int = 100) -> None:
        self.clock = ManualClock(at(MONDAY, 10))
        self.db = FakeDatabase()
        self.ledger = LedgerService(self.db, FakeLedgerStore(), self.clock)
        self.users = FakeUsers()
        self.jobs = FakeJobs()
        self.store = FakeFundStore()
        self.fund = FundService(
            db=self.db,
            store=self.store,
            ledger=self.ledger,
            users=self.users,  # type: ignore[arg-type]
            clock=self.clock,
            jobs=self.jobs,  # type: ignore[arg-type]
            policy=FundPolicy(settle_batch_size=batch_size),
        )
        self.days = FundDays(self.fund, self.store)
        self.days.install_jobs()
        clearing = platform_account(Purpose.BANK_CLEARING)
        self.clearing_id = self.ledger.open_accounts([clearing])[clearing.key]

    def user(self, user_id: int = USER, balance_fen: int = 100_000_00) -> int:
        spec = user_account(user_id)
        wallet_id = self.ledger.open_accounts([spec])[spec.key]
        self.users.wallets[user_id] = wallet_id
        topup = Transfer(f"topup:{user_id}", self.clearing_id, wallet_id, balance_fen, code=301)
        assert self.ledger.apply([topup])[0].result.succeeded
        return user_id

    def balance(self, spec_or_id: Any) -> int:
        if isinstance(spec_or_id, int):
            return self.ledger.balance(self.users.wallets[spec_or_id]).balance_fen
        account_id = self.ledger.open_accounts([spec_or_id])[spec_or_id.key]
        return self.ledger.balance(account_id).balance_fen

    def fund_balance(self, user_id: int = USER) -> int:
        return self.balance(user_account(user_id, Purpose.FUND))

    def custody(self) -> int:
        return self.balance(platform_account(Purpose.FUND_CUSTODY))

    def holding(self, user_id: int = USER) -> Holding:
        with self.db.read() as tx:
            found = self.store.holding(tx, user_id)
        assert found is not None
        return found

    def settle(self, day: date, user_id: int = USER) -> Any:
        self.clock.set_us(max(self.clock.now_us(), day_start_us(day)))
        return self.days.settle_user_day(user_id, day)

    def transfers(self, code: int) -> list[Any]:
        return [t for t in self.db.state["transfers"].values() if t.code == code]


@pytest.fixture
def world() -> World:
    return World()


# Transfer in and confirmation -----------------------------------------------------------------


def test_transfer_in_waits_in_custody_then_confirms_on_t_plus_one(world: World) -> None:
    world.user()
    order = world.fund.transfer_in(USER, 20_000_00, PASSWORD)
    assert (order.kind, order.status) == (OrderKind.IN, OrderStatus.PENDING)
    assert (order.trade_date, order.settle_date) == (MONDAY, MONDAY + timedelta(days=1))
    assert world.balance(USER) == 80_000_00
    assert world.custody() == 20_000_00
    assert world.fund_balance() == 0
    assert (world.holding().pending_fen, world.holding().confirmed_fen) == (20_000_00, 0)
    [journal] = world.transfers(LEDGER_CODE_FUND_IN)
    assert (journal.id, journal.amount_fen) == (f"fund:in:{order.id}", 20_000_00)
    # The daily pass starts with the first transfer in.
    assert ("fund.day", f"start:{MONDAY}", at(MONDAY, 10)) in world.jobs.scheduled

    assert world.settle(MONDAY).confirmed_fen == 0  # not due yet
    settled = world.settle(MONDAY + timedelta(days=1))
    assert (settled.confirmed_fen, settled.income_fen) == (20_000_00, 0)
    assert world.custody() == 0
    assert world.fund_balance() == 20_000_00
    assert (world.holding().pending_fen, world.holding().confirmed_fen) == (0, 20_000_00)
    assert world.fund.order(order.id).status is OrderStatus.CONFIRMED
    assert len(world.transfers(LEDGER_CODE_FUND_CONFIRM)) == 1


def test_refusals_change_nothing(world: World) -> None:
    world.user(balance_fen=100_00)
    before = copy.deepcopy(world.db.state)
    cases: list[tuple[Any, str]] = [
        (lambda: world.fund.transfer_in(USER, 100_01, PASSWORD), "insufficient_funds"),
        (lambda: world.fund.transfer_in(USER, 50_00, "000000"), "payment_password_wrong"),
        (lambda: world.fund.transfer_in(USER, 0, PASSWORD), "fund_amount_invalid"),
        (
            lambda: world.fund.transfer_out(USER, 1, RedeemSpeed.FAST, PASSWORD),
            "fund_insufficient_shares",
        ),
    ]
    for attempt, code in cases:
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == code
    world.users.frozen.add(USER)
    with pytest.raises(DomainError) as frozen:
        world.fund.transfer_in(USER, 50_00, PASSWORD)
    assert frozen.value.code == "account_frozen"
    assert world.db.state == before


# Income -----------------------------------------------------------------------------------------


def test_income_starts_on_the_confirmation_day_and_is_paid_once(world: World) -> None:
    world.user()
    world.fund.transfer_in(USER, 20_000_00, PASSWORD)
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    world.settle(tuesday)  # confirms; Monday earned nothing
    # Settling Tuesday again (two wakes at once) must not pay Monday on the shares confirmed
    # by the first settlement.
    assert world.settle(tuesday).income_fen == 0
    assert world.fund.incomes(USER) == []
    settled = world.settle(wednesday)  # Tuesday's income on 20,000.00 at 0.6500
    assert settled.income_fen == 130
    again = world.settle(wednesday)  # the pass runs twice: nothing more
    assert (again.income_fen, again.confirmed_fen) == (0, 0)
    [income] = world.fund.incomes(USER)
    assert (income.income_date, income.base_fen, income.income_fen) == (tuesday, 20_000_00, 130)
    assert len(world.transfers(LEDGER_CODE_FUND_INCOME)) == 1
    assert world.fund_balance() == 20_000_00 + 130
    assert world.holding().income_total_fen == 130
    income_account = platform_account(Purpose.FUND_INCOME)
    assert world.balance(income_account) == -130  # the platform pays it: negative
    summary = world.fund.summary(USER)
    assert (summary.income_yesterday_fen, summary.yesterday) == (130, tuesday)
    # Income compounds: Wednesday earns on 20,001.30.
    assert world.settle(MONDAY + timedelta(days=3)).income_fen == 130  # 130.0084 fen


def test_income_rounds_down_and_a_published_figure_beats_the_default(world: World) -> None:
    world.user()
    world.fund.transfer_in(USER, 150_00, PASSWORD)
    tuesday = MONDAY + timedelta(days=1)
    world.clock.set_us(at(tuesday, 8))
    world.fund.publish_rate(tuesday, 13000, by="ops")  # 1.3000 CNY per 10,000
    world.settle(tuesday)
    assert world.settle(tuesday + timedelta(days=1)).income_fen == 1  # 1.95 fen
    [income] = world.fund.incomes(USER)
    assert income.per_10k_e4 == 13000
    # Wednesday: nobody published, the default 0.6500 applies: 0.975065 fen -> nothing, and
    # the day is still on record (0.00), as Alipay shows a small balance's day.
    assert world.settle(tuesday + timedelta(days=2)).income_fen == 0
    newest = world.fund.incomes(USER)[0]
    assert (newest.per_10k_e4, newest.income_fen, newest.base_fen) == (6500, 0, 150_01)
    assert world.holding().income_total_fen == 1 == len(world.transfers(LEDGER_CODE_FUND_INCOME))


def test_a_late_pass_pays_on_what_was_confirmed_at_the_end_of_the_day(world: World) -> None:
    world.user()
    world.fund.transfer_in(USER, 20_000_00, PASSWORD)
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    world.settle(tuesday)
    # Wednesday 09:00: the pass has not run yet (a worker was down); the user takes 5,000 out.
    world.clock.set_us(at(wednesday, 9))
    world.fund.transfer_out(USER, 5_000_00, RedeemSpeed.FAST, PASSWORD)
    # Tuesday ended with 20,000.00 confirmed: that is what earns, not the 15,000.00 left now.
    assert world.days.settle_user_day(USER, wednesday).income_fen == 130
    assert world.fund.incomes(USER)[0].base_fen == 20_000_00


def test_publishing_is_for_today_or_ahead(world: World) -> None:
    with pytest.raises(DomainError) as closed:
        world.fund.publish_rate(MONDAY - timedelta(days=1), 6000, by="ops")
    assert closed.value.code == "fund_rate_date_closed"
    with pytest.raises(DomainError) as far:
        world.fund.publish_rate(MONDAY + timedelta(days=40), 6000, by="ops")
    assert far.value.code == "fund_rate_date_too_far"
    with pytest.raises(DomainError) as invalid:
        world.fund.publish_rate(MONDAY, 10**6, by="ops")
    assert invalid.value.code == "fund_rate_invalid"
    world.fund.publish_rate(MONDAY, 6000, by="ops")
    world.fund.publish_rate(MONDAY, 6100, by="ops")  # replaced while the day is open
    assert [(r.rate_date, r.per_10k_e4) for r in world.fund.rates()] == [(MONDAY, 6100)]


# Transfer out -----------------------------------------------------------------------------------


def _confirmed(world: World, amount_fen: int) -> None:
    world.fund.transfer_in(USER, amount_fen, PASSWORD)
    world.settle(MONDAY + timedelta(days=1))


def test_fast_out_is_instant_and_limited_per_day(world: World) -> None:
    world.user()
    _confirmed(world, 30_000_00)
    first = world.fund.transfer_out(USER, 6_000_00, RedeemSpeed.FAST, PASSWORD)
    assert (first.kind, first.status) == (OrderKind.OUT_FAST, OrderStatus.SUCCEEDED)
    assert world.balance(USER) == 70_000_00 + 6_000_00
    with pytest.raises(DomainError) as over:
        world.fund.transfer_out(USER, 4_000_01, RedeemSpeed.FAST, PASSWORD)
    assert over.value.code == "fund_fast_redeem_quota_exceeded"
    assert over.value.data["left_fen"] == 4_000_00
    world.fund.transfer_out(USER, 4_000_00, RedeemSpeed.FAST, PASSWORD)
    assert world.fund.summary(USER).fast_left_fen == 0
    # The quota is per China day: it is whole again after midnight.
    world.clock.set_us(at(MONDAY + timedelta(days=2), 0, 1))
    assert world.fund.summary(USER).fast_left_fen == 10_000_00
    assert len(world.transfers(LEDGER_CODE_FUND_OUT)) == 2
    assert world.fund_balance() == 20_000_00 == world.holding().confirmed_fen


def test_normal_out_is_unlimited_and_arrives_on_the_next_trading_day(world: World) -> None:
    world.user()
    _confirmed(world, 30_000_00)
    friday = MONDAY + timedelta(days=4)
    world.clock.set_us(at(friday, 16))  # after the cut-off on a Friday: T is Monday
    order = world.fund.transfer_out(USER, 25_000_00, RedeemSpeed.NORMAL, PASSWORD)
    assert (order.trade_date, order.settle_date) == (MONDAY + timedelta(7), MONDAY + timedelta(8))
    assert world.holding().redeeming_fen == 25_000_00
    assert world.custody() == 25_000_00
    assert len(world.transfers(LEDGER_CODE_FUND_REDEEM)) == 1
    for day in range(5, 8):  # Saturday to Monday: nothing arrives
        assert world.settle(MONDAY + timedelta(days=day)).arrived_fen == 0
    settled = world.settle(MONDAY + timedelta(days=8))
    assert settled.arrived_fen == 25_000_00
    assert world.balance(USER) == 70_000_00 + 25_000_00
    assert world.custody() == 0
    assert world.fund.order(order.id).status is OrderStatus.SUCCEEDED


def test_pending_shares_cannot_leave(world: World) -> None:
    world.user()
    _confirmed(world, 1_000_00)
    world.fund.transfer_in(USER, 2_000_00, PASSWORD)
    with pytest.raises(DomainError) as waiting:
        world.fund.transfer_out(USER, 1_500_00, RedeemSpeed.NORMAL, PASSWORD)
    assert waiting.value.code == "fund_shares_pending_confirmation"
    with pytest.raises(DomainError) as short:
        world.fund.transfer_out(USER, 3_000_01, RedeemSpeed.NORMAL, PASSWORD)
    assert short.value.code == "fund_insufficient_shares"
    world.fund.transfer_out(USER, 1_000_00, RedeemSpeed.NORMAL, PASSWORD)


# The pass ---------------------------------------------------------------------------------------


def test_the_pass_settles_every_holder_in_batches_and_days_in_order() -> None:
    world = World(batch_size=2)
    users = [world.user(user_id) for user_id in (3, 5, 8, 13, 21)]
    for user_id in users:
        world.fund.transfer_in(user_id, 1_000_00, PASSWORD)
    handler = world.jobs.outside["fund.day"]

    def wake() -> None:
        assert handler(Job(0, "fund.day", "any", {}, world.clock.now_us(), 0)) is None

    wake()  # Monday: nothing confirms yet
    world.clock.set_us(at(MONDAY + timedelta(days=1), 0, 5))
    for _ in range(6):  # each wake settles a batch of two
        wake()
    assert all(world.holding(u).confirmed_fen == 1_000_00 for u in users)
    state = world.days.state()
    assert state is not None
    assert (state.day, state.status, state.users_settled) == (MONDAY + timedelta(1), "done", 5)
    # A day not begun yet: the wake only waits for it.
    wake()
    due = day_start_us(MONDAY + timedelta(days=2))
    assert ("fund.day", f"{MONDAY + timedelta(days=2)}@0", due) in world.jobs.scheduled
    assert world.days.state() == state
