"""Yu'e Bao on a real database (SQLite, or PostgreSQL by URL): transfer in, confirmation on
the next trading day and income on the test clock, the daily pass run twice, the FAST quota
and the shares under concurrent requests, the wallet statement, and reconciliation catching a
tampered holding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer, wallet_balance
from tests.support.races import race

from paybao.adapters.db.tables.fund import fund_days, fund_incomes
from paybao.adapters.db.tables.ledger import ledger_transfers
from paybao.bootstrap import Platform, build_platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.errors import DomainError
from paybao.domain.fund import (
    LEDGER_CODE_FUND_INCOME,
    OrderKind,
    OrderStatus,
    RedeemSpeed,
    china_datetime,
)
from paybao.services.fund import FundService
from paybao.services.wallet_statement import StatementQuery
from paybao.settings import Settings

DAY_S = 86_400
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY = range(6)


def china_now(platform: Platform) -> datetime:
    return china_datetime(platform.clock.now_us())


def next_at(now: datetime, weekday: int, hour: int, minute: int = 0) -> datetime:
    """The next such weekday and time strictly after `now`."""
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    target += timedelta(days=(weekday - now.weekday()) % 7)
    return target + timedelta(days=7) if target <= now else target


def move_to(platform: Platform, weekday: int, hour: int, minute: int = 0) -> datetime:
    """Advance the sandbox clock (running every job that falls due) to the next such China
    weekday and time, strictly ahead of now."""
    now = china_now(platform)
    target = next_at(now, weekday, hour, minute)
    delta_us = int((target - now).total_seconds() * 1_000_000)
    platform.sandbox_clock.advance((delta_us + 999_999) // 1_000_000)
    return china_now(platform)


def next_day(platform: Platform, hour: int = 10) -> datetime:
    now = china_now(platform)
    return move_to(platform, (now.weekday() + 1) % 7, hour)


def fund_of(platform: Platform) -> FundService:
    service: FundService = platform.services["fund"]
    return service


def count(platform: Platform, query: Any) -> int:
    with platform.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def income_journals(platform: Platform) -> int:
    t = ledger_transfers
    return count(platform, select(func.count()).where(t.c.code == LEDGER_CODE_FUND_INCOME))


def platform_balance(platform: Platform, purpose: Purpose) -> int:
    spec = platform_account(purpose)
    account_id = platform.ledger.open_accounts([spec])[spec.key]
    return platform.ledger.balance(account_id).balance_fen


def assert_clean(platform: Platform) -> None:
    report = platform.reconcile.run()
    assert report.differences == []
    assert {name for name in report.checks_run if name.startswith("fund.")} == {
        "fund.holdings_match_ledger",
        "fund.custody_matches_orders",
        "fund.orders_have_journals",
    }


def holder(platform: Platform, phone: str = "13800138100", confirmed_fen: int = 0) -> int:
    """A wallet user with 50,000.00 in the balance, `confirmed_fen` of it confirmed in the fund
    (moved in on a Monday morning, confirmed Tuesday; the clock is then Tuesday 10:00)."""
    user_id = make_buyer(platform, phone, balance_fen=50_000_00)
    if confirmed_fen:
        move_to(platform, MONDAY, 10)
        fund_of(platform).transfer_in(user_id, confirmed_fen, PAYMENT_PASSWORD)
        move_to(platform, TUESDAY, 10)
        assert fund_of(platform).summary(user_id).confirmed_fen == confirmed_fen
    return user_id


# The whole cycle ------------------------------------------------------------------------------


def test_in_confirmed_next_trading_day_income_out_and_statement(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = holder(platform)
    monday = move_to(platform, MONDAY, 10).date()
    order = fund.transfer_in(user_id, 20_000_00, PAYMENT_PASSWORD)
    assert (order.status, order.trade_date, order.settle_date) == (
        OrderStatus.PENDING,
        monday,
        monday + timedelta(days=1),
    )
    summary = fund.summary(user_id)
    assert (summary.total_fen, summary.pending_fen, summary.confirmed_fen) == (20_000_00,) * 2 + (
        0,
    )
    assert [p.settle_date for p in summary.pending] == [monday + timedelta(days=1)]
    assert wallet_balance(platform, user_id) == 30_000_00
    assert platform_balance(platform, Purpose.FUND_CUSTODY) == 20_000_00

    # Tuesday: confirmed, earning from today; nothing earned yet.
    next_day(platform)
    summary = fund.summary(user_id)
    assert (summary.confirmed_fen, summary.pending_fen, summary.income_yesterday_fen) == (
        20_000_00,
        0,
        0,
    )
    assert platform_balance(platform, Purpose.FUND_CUSTODY) == 0

    # Wednesday: Tuesday's income, 20,000.00 x 0.6500 / 10,000 = 1.30.
    next_day(platform)
    summary = fund.summary(user_id)
    assert (summary.income_yesterday_fen, summary.income_total_fen) == (130, 130)
    assert summary.confirmed_fen == 20_001_30
    assert str(summary.yield_7d_percent) == "2.4008" and summary.per_10k == "0.6500"

    # Out: 3,000.00 at once, 5,000.00 on the next trading day (Thursday).
    fast = fund.transfer_out(user_id, 3_000_00, RedeemSpeed.FAST, PAYMENT_PASSWORD)
    normal = fund.transfer_out(user_id, 5_000_00, RedeemSpeed.NORMAL, PAYMENT_PASSWORD)
    assert fast.status is OrderStatus.SUCCEEDED
    assert normal.settle_date == china_now(platform).date() + timedelta(days=1)
    assert wallet_balance(platform, user_id) == 33_000_00
    next_day(platform)
    assert wallet_balance(platform, user_id) == 38_000_00
    assert fund.order(normal.id).status is OrderStatus.SUCCEEDED
    # Wednesday earned on what was left at its end: 12,001.30 -> 0.78.
    summary = fund.summary(user_id)
    assert (summary.income_yesterday_fen, summary.confirmed_fen) == (78, 12_002_08)

    # The wallet statement names the fund's movements with their own kinds.
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=10))
    kinds = [(entry.kind, entry.amount_fen) for entry in entries]
    assert kinds[:4] == [
        ("fund_out", 5_000_00),
        ("fund_out", 3_000_00),
        ("fund_in", -20_000_00),
        ("topup", 50_000_00),
    ]
    records = fund.orders(user_id)
    assert [(o.kind, o.status) for o in records] == [
        (OrderKind.OUT_NORMAL, OrderStatus.SUCCEEDED),
        (OrderKind.OUT_FAST, OrderStatus.SUCCEEDED),
        (OrderKind.IN, OrderStatus.CONFIRMED),
    ]
    assert [i.income_fen for i in fund.incomes(user_id)] == [78, 130]
    assert_clean(platform)


def test_income_accrues_over_the_weekend_and_money_waits_for_monday(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = holder(platform, confirmed_fen=10_000_00)  # Tuesday 10:00
    move_to(platform, FRIDAY, 16)  # after the cut-off: counts for Monday, confirmed Tuesday
    friday = china_now(platform).date()
    late = fund.transfer_in(user_id, 10_000_00, PAYMENT_PASSWORD)
    assert (late.trade_date, late.settle_date) == (
        friday + timedelta(days=3),
        friday + timedelta(days=4),
    )
    move_to(platform, MONDAY, 10)
    summary = fund.summary(user_id)
    assert summary.pending_fen == 10_000_00
    # Income every day, Saturday and Sunday too, on the confirmed 10,000.00 only.
    incomes = fund.incomes(user_id)
    days = [i.income_date for i in incomes]
    assert days[:3] == [friday + timedelta(days=2), friday + timedelta(days=1), friday]
    assert all(10_000_00 <= i.base_fen < 10_010_00 for i in incomes)
    with pytest.raises(DomainError) as waiting:
        fund.transfer_out(user_id, 10_500_00, RedeemSpeed.NORMAL, PAYMENT_PASSWORD)
    assert waiting.value.code == "fund_shares_pending_confirmation"
    move_to(platform, TUESDAY, 10)
    assert fund.summary(user_id).pending_fen == 0
    assert_clean(platform)


@pytest.fixture
def holiday_platform(settings: Settings) -> Iterator[Platform]:
    """The Monday after the Friday the holiday test moves to (China time) is a holiday."""
    probe = build_platform(settings)
    now = china_now(probe)
    probe.close()
    # The test's first step is move_to(FRIDAY, 10): from a Friday afternoon or a weekend that
    # is next week's Friday, not the coming Monday's.
    monday = (next_at(now, FRIDAY, 10) + timedelta(days=3)).date()
    built = build_platform(settings.model_copy(update={"fund_holidays": monday.isoformat()}))
    built.ledger.open_platform_accounts()
    yield built
    built.close()


def test_a_holiday_setting_is_not_a_trading_day(holiday_platform: Platform) -> None:
    platform = holiday_platform
    user_id = make_buyer(platform, "13800138101", balance_fen=1_000_00)
    friday = move_to(platform, FRIDAY, 10).date()
    order = fund_of(platform).transfer_in(user_id, 500_00, PAYMENT_PASSWORD)
    assert order.settle_date == friday + timedelta(days=4)  # Monday is off: Tuesday
    assert move_to(platform, FRIDAY, 15, 30).date() == friday  # the same Friday, later
    late = fund_of(platform).transfer_in(user_id, 500_00, PAYMENT_PASSWORD)
    # After the cut-off: T is Tuesday (Monday is off), confirmed on Wednesday.
    assert (late.trade_date, late.settle_date) == (
        friday + timedelta(days=4),
        friday + timedelta(days=5),
    )
    move_to(platform, WEDNESDAY, 10)
    assert [o.status for o in fund_of(platform).orders(user_id)] == [OrderStatus.CONFIRMED] * 2


# The daily pass --------------------------------------------------------------------------------


def test_the_daily_pass_pays_once_when_it_runs_twice(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = holder(platform, confirmed_fen=20_000_00)
    next_day(platform)  # Wednesday: Tuesday's income
    assert fund.summary(user_id).income_yesterday_fen == 130
    journals, before = income_journals(platform), fund.summary(user_id)
    # Forget that today's pass ran (as if a crash lost its progress) and wake it again.
    today = china_now(platform).date()
    with platform.engine.begin() as connection:
        connection.execute(fund_days.delete().where(fund_days.c.day == today))
    platform.db.run(fund.wake_in)
    platform.db.run(
        lambda tx: platform.jobs.schedule_in(tx, "fund.day", "again", platform.clock.now_us())
    )
    assert platform.jobs.run_due() >= 1
    state = platform.services["fund_days"].state()
    assert (state.day, state.status) == (today, "done")
    assert income_journals(platform) == journals
    assert fund.summary(user_id) == before
    # And the one settlement, repeated by hand, changes nothing either.
    settled = platform.services["fund_days"].settle_user_day(user_id, today)
    assert (settled.income_fen, settled.confirmed_fen, settled.arrived_fen) == (0, 0, 0)
    rows = count(platform, select(func.count()).select_from(fund_incomes))
    assert rows == 1
    assert_clean(platform)


def test_the_pass_settles_many_holders_in_batches(platform: Platform) -> None:
    fund = fund_of(platform)
    fund.policy = type(fund.policy)(
        calendar=fund.policy.calendar,
        fast_redeem_daily_fen=fund.policy.fast_redeem_daily_fen,
        per_10k_default_e4=fund.policy.per_10k_default_e4,
        settle_batch_size=2,
    )
    platform.services["fund_days"].batch_size = 2
    users = [make_buyer(platform, f"1380013820{n}", balance_fen=1_000_00) for n in range(5)]
    move_to(platform, MONDAY, 10)
    for user_id in users:
        fund.transfer_in(user_id, 1_000_00, PAYMENT_PASSWORD)
    move_to(platform, WEDNESDAY, 10)
    for user_id in users:
        summary = fund.summary(user_id)
        assert (summary.confirmed_fen, summary.income_yesterday_fen) == (1_000_06, 6)
    state = platform.services["fund_days"].state()
    assert (state.status, state.users_settled) == ("done", 5)
    assert_clean(platform)


# Concurrency -----------------------------------------------------------------------------------


def test_the_fast_quota_holds_under_concurrent_requests(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = holder(platform, confirmed_fen=40_000_00)
    wallet_before = wallet_balance(platform, user_id)
    results = race(
        8,
        lambda _: fund.transfer_out(user_id, 2_500_00, RedeemSpeed.FAST, PAYMENT_PASSWORD),
    )
    moved = [r for r in results if not isinstance(r, str)]
    refused = [r for r in results if isinstance(r, str)]
    assert len(moved) == 4, results  # exactly the 10,000.00 allowed today
    assert refused == ["fund_fast_redeem_quota_exceeded"] * 4
    assert wallet_balance(platform, user_id) == wallet_before + 10_000_00
    summary = fund.summary(user_id)
    assert (summary.confirmed_fen, summary.fast_left_fen) == (30_000_00, 0)
    # The quota says nothing of NORMAL transfers out.
    fund.transfer_out(user_id, 20_000_00, RedeemSpeed.NORMAL, PAYMENT_PASSWORD)
    assert_clean(platform)


def test_shares_cannot_be_transferred_out_twice(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = holder(platform, confirmed_fen=20_000_00)
    results = race(
        4,
        lambda _: fund.transfer_out(user_id, 15_000_00, RedeemSpeed.NORMAL, PAYMENT_PASSWORD),
    )
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == [
        "fund_insufficient_shares"
    ] * 3 + ["ok"]
    assert platform_balance(platform, Purpose.FUND_CUSTODY) == 15_000_00
    assert fund.summary(user_id).confirmed_fen == 5_000_00
    assert_clean(platform)


def test_the_balance_cannot_be_transferred_in_twice(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = make_buyer(platform, "13800138102", balance_fen=1_000_00)
    results = race(4, lambda _: fund.transfer_in(user_id, 600_00, PAYMENT_PASSWORD))
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == [
        "insufficient_funds"
    ] * 3 + ["ok"]
    assert wallet_balance(platform, user_id) == 400_00
    assert fund.summary(user_id).pending_fen == 600_00
    assert_clean(platform)


# Reconciliation --------------------------------------------------------------------------------


def test_reconcile_catches_a_tampered_holding_and_a_lost_journal(platform: Platform) -> None:
    user_id = holder(platform, confirmed_fen=5_000_00)
    fund_of(platform).transfer_in(user_id, 1_000_00, PAYMENT_PASSWORD)
    assert_clean(platform)
    with platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE fund_holdings SET confirmed_fen = confirmed_fen + 1 WHERE user_id = :u"),
            {"u": user_id},
        )
    report = platform.reconcile.run()
    assert report.totals["fund.holdings_match_ledger"] == 1
    [difference] = report.differences
    assert difference.kind == "fund_holding_mismatch"
    assert f"user {user_id}" in difference.subject
    assert "balance 500000" in difference.expected and "balance 500001" in difference.actual
    with platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE fund_holdings SET confirmed_fen = confirmed_fen - 1 WHERE user_id = :u"),
            {"u": user_id},
        )
        # An order marked confirmed by hand: no journal moved it out of custody.
        connection.execute(
            text("UPDATE fund_orders SET status = 'confirmed' WHERE status = 'pending'")
        )
    report = platform.reconcile.run()
    kinds = sorted(d.kind for d in report.differences)
    assert kinds == ["fund_custody_mismatch", "fund_holding_mismatch", "fund_order_journal"]


def test_nothing_moves_on_a_wrong_password_or_a_frozen_account(platform: Platform) -> None:
    fund = fund_of(platform)
    user_id = make_buyer(platform, "13800138103", balance_fen=1_000_00)
    with pytest.raises(DomainError) as wrong:
        fund.transfer_in(user_id, 100_00, "000000")
    assert wrong.value.code == "payment_password_wrong"
    platform.db.run(lambda tx: platform.services["users"].set_status_in(tx, user_id, "frozen"))
    with pytest.raises(DomainError) as frozen:
        fund.transfer_in(user_id, 100_00, PAYMENT_PASSWORD)
    assert frozen.value.code == "account_frozen"
    assert wallet_balance(platform, user_id) == 1_000_00
    assert fund.orders(user_id) == []


def test_first_day_of_a_fresh_installation(platform: Platform) -> None:
    """No job runs for an installation without a fund: the pass starts with the first money."""
    platform.sandbox_clock.advance(3 * DAY_S)
    assert platform.services["fund_days"].state() is None
    user_id = make_buyer(platform, "13800138104", balance_fen=100_00)
    fund_of(platform).transfer_in(user_id, 100_00, PAYMENT_PASSWORD)
    platform.sandbox_clock.advance(60)
    state = platform.services["fund_days"].state()
    assert state is not None and state.day == china_now(platform).date()
    assert isinstance(state.day, date)
