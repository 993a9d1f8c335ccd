"""Huabei's pure rules: billing months in China time, statement and due dates, daily penalties
rounded down, repayment allocation (oldest bill first, penalty first), refund splits, and the
line's checks (limit range, repayment day, draws within what is available, the overdue freeze)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.credit import (
    Bill,
    BillStatus,
    CreditLimitExceeded,
    CreditLimitInvalid,
    CreditLine,
    CreditNothingDue,
    CreditNotOpened,
    CreditOverdueFrozen,
    CreditPolicy,
    CreditRepaymentDayInvalid,
    CreditRepaymentTooLarge,
    RepaymentPart,
    allocate_repayment,
    can_draw,
    check_draw,
    check_limit_fen,
    check_repayment_day,
    day_start,
    due_date_of,
    overdue_from,
    overdue_on,
    penalty_fen_for,
    period_of,
    refunded,
    repaid,
    split_refund,
    statement_at,
    still_overdue,
)


def line(**changes: object) -> CreditLine:
    base = CreditLine(
        user_id=7,
        account_id=70,
        limit_fen=1_000_00,
        open_fen=0,
        outstanding_fen=0,
        repayment_day=10,
        overdue=False,
        version=3,
        granted_at_us=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def bill(bill_id: int = 1, period: str = "2026-03", **changes: object) -> Bill:
    base = Bill(
        id=bill_id,
        user_id=7,
        period=period,
        principal_fen=100_00,
        refunded_fen=0,
        penalty_fen=0,
        repaid_principal_fen=0,
        repaid_penalty_fen=0,
        due_date=date(2026, 4, 10),
        status=BillStatus.BILLED,
        created_at_us=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# Billing dates ---------------------------------------------------------------------------


def test_the_billing_month_is_chinas_not_utcs() -> None:
    # 2026-03-31 16:30 UTC is already 1 April 00:30 in Beijing.
    assert period_of(datetime(2026, 3, 31, 16, 30, tzinfo=UTC)) == "2026-04"
    assert period_of(datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == "2026-03"
    with pytest.raises(AssertionError):
        period_of(datetime(2026, 3, 31, 15, 59))  # noqa: DTZ001 (naive times are refused)


def test_a_month_closes_on_the_first_of_the_next_at_midnight_china_time() -> None:
    assert statement_at("2026-03") == datetime(2026, 4, 1, tzinfo=CHINA_TZ)
    assert statement_at("2026-12") == datetime(2027, 1, 1, tzinfo=CHINA_TZ)
    assert statement_at("2026-03").astimezone(UTC) == datetime(2026, 3, 31, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "day", "due"),
    [
        ("2026-03", 10, date(2026, 4, 10)),
        ("2026-03", 8, date(2026, 4, 8)),
        ("2026-01", 9, date(2026, 2, 9)),
        ("2026-12", 10, date(2027, 1, 10)),
    ],
)
def test_due_date_is_the_repayment_day_of_the_next_month(period: str, day: int, due: date) -> None:
    assert due_date_of(period, day) == due


def test_penalties_start_the_day_after_the_due_date() -> None:
    assert overdue_from(date(2026, 4, 10)) == date(2026, 4, 11)
    assert overdue_from(date(2026, 2, 28)) == date(2026, 3, 1)
    assert day_start(date(2026, 4, 11)) == datetime(2026, 4, 10, 16, tzinfo=UTC)


def test_only_the_8th_9th_or_10th_is_a_repayment_day() -> None:
    assert [check_repayment_day(d) for d in (8, 9, 10)] == [8, 9, 10]
    for day in (0, 1, 7, 11, 28, 31):
        with pytest.raises(CreditRepaymentDayInvalid):
            check_repayment_day(day)
        with pytest.raises(CreditRepaymentDayInvalid):
            due_date_of("2026-03", day)


# Penalties ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal_fen", "penalty_fen"),
    [(100_00, 5), (1_999, 0), (2_000, 1), (3_999, 1), (50_000_00, 2_500), (0, 0)],
)
def test_the_daily_penalty_is_005_percent_rounded_down(
    principal_fen: int, penalty_fen: int
) -> None:
    assert penalty_fen_for(principal_fen, 500) == penalty_fen


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_a_penalty_never_exceeds_its_exact_value(principal_fen: int, rate_ppm: int) -> None:
    penalty_fen = penalty_fen_for(principal_fen, rate_ppm)
    assert penalty_fen * 1_000_000 <= principal_fen * rate_ppm < (penalty_fen + 1) * 1_000_000


def test_a_bill_turns_overdue_only_while_it_owes_something() -> None:
    owing = bill()
    assert overdue_on(owing, date(2026, 4, 11)).status is BillStatus.OVERDUE
    paid = bill(repaid_principal_fen=100_00, status=BillStatus.PAID)
    assert overdue_on(paid, date(2026, 4, 11)).status is BillStatus.PAID
    with pytest.raises(AssertionError):
        overdue_on(owing, date(2026, 4, 10))  # the due date itself is not overdue


# The line ----------------------------------------------------------------------------------


def test_limits_are_500_to_50000_yuan_by_default_and_configurable() -> None:
    assert check_limit_fen(500_00) == 500_00
    assert check_limit_fen(50_000_00) == 50_000_00
    for bad in (0, 499_99, 50_000_01, -1):
        with pytest.raises(CreditLimitInvalid):
            check_limit_fen(bad)
    assert check_limit_fen(100, CreditPolicy(limit_fen_min=100, limit_fen_max=200)) == 100


def test_a_draw_takes_from_what_is_available_and_no_more() -> None:
    after = check_draw(line(), 600_00)
    assert (after.open_fen, after.outstanding_fen, after.available_fen) == (600_00, 600_00, 400_00)
    assert check_draw(after, 400_00).available_fen == 0
    with pytest.raises(CreditLimitExceeded) as refused:
        check_draw(after, 400_01)
    assert refused.value.data["available_fen"] == 400_00


def test_no_line_or_an_overdue_one_pays_nothing() -> None:
    with pytest.raises(CreditNotOpened):
        check_draw(None, 1)
    with pytest.raises(CreditOverdueFrozen):
        check_draw(line(overdue=True), 1)
    assert not can_draw(line(overdue=True), 1)
    assert not can_draw(None, 1)
    assert can_draw(line(), 1_000_00) and not can_draw(line(), 1_000_01)


def test_a_limit_lowered_below_the_debt_leaves_nothing_available() -> None:
    owing = line(limit_fen=500_00, open_fen=0, outstanding_fen=800_00)
    assert owing.available_fen == 0
    assert owing.billed_fen == 800_00


# Repayments --------------------------------------------------------------------------------


def test_repayments_pay_the_oldest_bill_first_and_penalties_before_principal() -> None:
    march = bill(1, "2026-03", penalty_fen=30, status=BillStatus.OVERDUE)
    april = bill(2, "2026-04", principal_fen=50_00)
    parts = allocate_repayment([april, march], 101_10)
    assert parts == (RepaymentPart(1, 30, 100_00), RepaymentPart(2, 0, 80))
    assert sum(part.amount_fen for part in parts) == 101_10


def test_nothing_billed_or_too_much_is_refused() -> None:
    with pytest.raises(CreditNothingDue):
        allocate_repayment([], 1)
    with pytest.raises(CreditNothingDue):
        allocate_repayment([bill(repaid_principal_fen=100_00, status=BillStatus.PAID)], 1)
    with pytest.raises(CreditRepaymentTooLarge) as refused:
        allocate_repayment([bill()], 100_01)
    assert refused.value.data["due_fen"] == 100_00


def test_a_bill_repaid_in_full_is_paid_and_unfreezes() -> None:
    overdue = bill(penalty_fen=5, status=BillStatus.OVERDUE)
    part = allocate_repayment([overdue], 50_00)[0]
    partly = repaid(overdue, part, now_us=9)
    assert (partly.status, partly.unpaid_fen, partly.paid_at_us) == (
        BillStatus.OVERDUE,
        50_05,
        None,
    )
    assert still_overdue([partly])
    rest = allocate_repayment([partly], 50_05)[0]
    done = repaid(partly, rest, now_us=10)
    assert (done.status, done.unpaid_fen, done.paid_at_us) == (BillStatus.PAID, 0, 10)
    assert not still_overdue([done])
    assert not still_overdue([bill()])  # billed, not yet due: no freeze


@given(
    st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=6),
    st.data(),
)
def test_allocation_adds_up_and_never_pays_more_than_owed(
    principals: list[int], data: st.DataObject
) -> None:
    bills = [bill(i + 1, f"2025-{i + 1:02d}", principal_fen=p) for i, p in enumerate(principals)]
    amount_fen = data.draw(st.integers(min_value=1, max_value=sum(principals)))
    parts = allocate_repayment(bills, amount_fen)
    assert sum(part.amount_fen for part in parts) == amount_fen
    by_id = {b.id: b for b in bills}
    for part in parts:
        assert part.principal_fen <= by_id[part.bill_id].unpaid_principal_fen
    # Oldest first: only the last bill paid may be paid in part.
    for part in parts[:-1]:
        assert part.amount_fen == by_id[part.bill_id].unpaid_fen


# Refunds -----------------------------------------------------------------------------------


def test_a_refund_of_an_unbilled_purchase_goes_back_to_the_line() -> None:
    assert split_refund(30_00, 80_00, None).to_line_fen == 30_00


def test_a_refund_of_a_billed_purchase_lowers_the_bill_and_what_was_repaid_comes_back() -> None:
    unpaid = bill()
    assert split_refund(30_00, 60_00, unpaid) == split_refund(30_00, 30_00, unpaid)
    assert split_refund(30_00, 60_00, unpaid).to_balance_fen == 0
    partly = bill(repaid_principal_fen=80_00)  # 20.00 still owed
    split = split_refund(30_00, 60_00, partly)
    assert (split.to_line_fen, split.to_balance_fen) == (20_00, 10_00)
    settled = refunded(partly, split.to_line_fen, now_us=5)
    assert (settled.status, settled.unpaid_fen) == (BillStatus.PAID, 0)
    paid = bill(repaid_principal_fen=100_00, status=BillStatus.PAID)
    assert split_refund(30_00, 60_00, paid).to_balance_fen == 30_00
