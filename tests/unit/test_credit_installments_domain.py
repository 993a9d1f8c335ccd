"""Huabei installments and minimum repayment, the pure rules: fees of all four plans (1,000 ->
1,025 / 1,045 / 1,065 / 1,088) and odd amounts, the spread with its remainder in the first period,
which bills may be converted and how much, billing and prepaying periods, the minimum repayment,
judging a bill the day after its due date, daily interest and penalties, and the revolving rest
carried into the next bill."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.test_credit_domain import bill as credit_bill

from paybao.domain.credit import (
    Bill,
    BillStatus,
    ChargeKind,
    NewBill,
    RepaymentPart,
    allocate_repayment,
    charged,
    charges_start,
    day_started,
    judged,
    minimum_due_fen,
    minimum_fen,
    minimum_left_fen,
    new_bill,
    repaid,
    rolled,
    rolls_on,
    split_refund,
)
from paybao.domain.credit_installments import (
    CreditBillAlreadyConverted,
    CreditBillNotConvertible,
    CreditInstallmentAmountInvalid,
    CreditInstallmentCountInvalid,
    CreditInstallmentNotActive,
    PeriodStatus,
    PlanStatus,
    check_conversion,
    check_prepayment,
    converted,
    convertible_fen,
    convertible_on,
    month_plus,
    new_plan,
    period_billed,
    prepaid,
    schedule,
    spread,
    total_fee_fen,
)

BEFORE_DUE = date(2026, 4, 5)


def bill(bill_id: int = 1, period: str = "2026-03", **changes: object) -> Bill:
    """The credit tests' bill, of 1,000.00 unless told."""
    return credit_bill(bill_id, period, **{"principal_fen": 1_000_00, **changes})


# Fees and the schedule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "total_fen"),
    [(3, 1_025_00), (6, 1_045_00), (9, 1_065_00), (12, 1_088_00)],
)
def test_a_thousand_costs_the_published_totals(count: int, total_fen: int) -> None:
    periods = schedule(1_000_00, count, "2026-04")
    assert sum(p.amount_fen for p in periods) == total_fen
    assert len(periods) == count


@pytest.mark.parametrize(
    ("count", "principals", "fees"),
    [
        (3, [333_34, 333_33, 333_33], [8_34, 8_33, 8_33]),
        (6, [166_70] + [166_66] * 5, [7_50] * 6),
        (9, [111_12] + [111_11] * 8, [7_24] + [7_22] * 8),
        (12, [83_37] + [83_33] * 11, [7_37] + [7_33] * 11),
    ],
)
def test_the_remainder_of_principal_and_fee_goes_into_the_first_period(
    count: int, principals: list[int], fees: list[int]
) -> None:
    periods = schedule(1_000_00, count, "2026-11")
    assert [p.principal_fen for p in periods] == principals
    assert [p.fee_fen for p in periods] == fees
    assert [p.number for p in periods] == list(range(1, count + 1))
    assert periods[0].period == "2026-11" and periods[2].period == "2027-01"


@pytest.mark.parametrize(
    ("principal_fen", "count", "fee_fen", "first", "rest"),
    [
        # 333.33 x 2.5 % = 8.33325 -> 8.33 (down to the fen); 8.33 / 3 = 2.79 + 2.77 + 2.77.
        (333_33, 3, 8_33, (111_11, 2_79), (111_11, 2_77)),
        # 1,234.57 x 8.8 % = 108.64216 -> 108.64; 12 periods of 102.88 (+0.01 in the first).
        (1_234_57, 12, 108_64, (102_89, 9_09), (102_88, 9_05)),
        # The least one may convert: 100.00 x 8.8 % = 8.80 in 12.
        (100_00, 12, 8_80, (8_37, 77), (8_33, 73)),
        # 777.77 x 4.5 % = 34.99965 -> 34.99.
        (777_77, 6, 34_99, (129_67, 5_84), (129_62, 5_83)),
        # 1,000.01 x 6.5 % = 65.00065 -> 65.00.
        (1_000_01, 9, 65_00, (111_13, 7_24), (111_11, 7_22)),
    ],
)
def test_odd_amounts_round_the_fee_down_and_spread_evenly(
    principal_fen: int,
    count: int,
    fee_fen: int,
    first: tuple[int, int],
    rest: tuple[int, int],
) -> None:
    periods = schedule(principal_fen, count, "2026-04")
    assert sum(p.fee_fen for p in periods) == fee_fen
    assert sum(p.principal_fen for p in periods) == principal_fen
    assert (periods[0].principal_fen, periods[0].fee_fen) == first
    assert all((p.principal_fen, p.fee_fen) == rest for p in periods[1:])


@given(
    st.integers(min_value=100_00, max_value=50_000_00),
    st.sampled_from([(3, 250), (6, 450), (9, 650), (12, 880)]),
)
def test_a_schedule_adds_up_and_differs_by_less_than_a_fen_a_period(
    principal_fen: int, plan: tuple[int, int]
) -> None:
    count, rate_bp = plan
    periods = schedule(principal_fen, count, "2026-12")
    fee_fen = total_fee_fen(principal_fen, rate_bp)
    assert fee_fen * 10_000 <= principal_fen * rate_bp < (fee_fen + 1) * 10_000
    assert sum(p.principal_fen for p in periods) == principal_fen
    assert sum(p.fee_fen for p in periods) == fee_fen
    for parts in ([p.principal_fen for p in periods], [p.fee_fen for p in periods]):
        assert all(part == parts[1] for part in parts[1:])
        assert 0 <= parts[0] - parts[1] < count
    assert periods[-1].period == month_plus("2026-12", count - 1)


def test_spreading_and_months() -> None:
    assert spread(10, 3) == (4, 3, 3)
    assert spread(0, 6) == (0,) * 6
    assert month_plus("2026-11", 2) == "2027-01"
    assert month_plus("2026-01", 12) == "2027-01"
    with pytest.raises(CreditInstallmentCountInvalid):
        schedule(1_000_00, 4, "2026-04")


# Which bills, how much ---------------------------------------------------------------------------


def test_a_billed_bill_not_yet_due_converts_from_100_yuan_to_its_own_principal() -> None:
    owing = bill(periods_principal_fen=200_00, carried_fen=100_00, principal_fen=1_300_00)
    assert convertible_fen(owing) == 1_000_00  # not the periods' or the carried principal
    check_conversion(owing, 100_00, 3, BEFORE_DUE)
    check_conversion(owing, 1_000_00, 12, date(2026, 4, 10))  # the due date itself
    for amount_fen in (99_99, 1_000_01):
        with pytest.raises(CreditInstallmentAmountInvalid) as refused:
            check_conversion(owing, amount_fen, 6, BEFORE_DUE)
        assert refused.value.data == {"amount_fen_min": 100_00, "amount_fen_max": 1_000_00}
    with pytest.raises(CreditInstallmentCountInvalid):
        check_conversion(owing, 500_00, 24, BEFORE_DUE)
    # Repaid in part: only what is unpaid (the payment counts against its own principal last).
    partly = bill(repaid_principal_fen=950_00)
    assert convertible_fen(partly) == 50_00
    assert convertible_on(partly, BEFORE_DUE) == 0  # less than 100.00 left
    assert convertible_on(owing, BEFORE_DUE) == 1_000_00


@pytest.mark.parametrize(
    ("changes", "today"),
    [
        ({}, date(2026, 4, 11)),  # after the due date
        ({"status": BillStatus.OVERDUE}, BEFORE_DUE),
        ({"status": BillStatus.MIN_PAID}, BEFORE_DUE),
        ({"status": BillStatus.PAID, "repaid_principal_fen": 1_000_00}, BEFORE_DUE),
    ],
)
def test_only_a_billed_unpaid_bill_not_yet_due_converts(
    changes: dict[str, object], today: date
) -> None:
    with pytest.raises(CreditBillNotConvertible):
        check_conversion(bill(**changes), 500_00, 3, today)
    assert convertible_on(bill(**changes), today) == 0


def test_a_bill_converts_once_and_is_paid_when_all_of_it_went_into_the_plan() -> None:
    owing = bill(fee_fen=5_00)
    part = converted(owing, 600_00, now_us=5)
    assert (part.status, part.unpaid_principal_fen, part.unpaid_fen) == (
        BillStatus.BILLED,
        400_00,
        405_00,
    )
    with pytest.raises(CreditBillAlreadyConverted):
        check_conversion(part, 100_00, 3, BEFORE_DUE)
    whole = converted(bill(), 1_000_00, now_us=6)
    assert (whole.status, whole.paid_at_us, whole.unpaid_fen) == (BillStatus.PAID, 6, 0)
    # A refund of a purchase in the plan finds no unpaid principal: it goes to the balance.
    assert split_refund(100_00, 100_00, whole).to_balance_fen == 100_00


def test_periods_are_billed_one_a_month_and_the_last_completes_the_plan() -> None:
    plan = replace(new_plan(bill(), 1_000_00, 3, "2026-04", now_us=1), id=9)
    assert (plan.status, plan.unbilled_principal_fen, plan.unbilled_fee_fen) == (
        PlanStatus.ACTIVE,
        1_000_00,
        25_00,
    )
    plan = period_billed(plan, 1, bill_id=21, now_us=2)
    plan = period_billed(plan, 2, bill_id=22, now_us=3)
    assert (plan.billed_count, plan.billed_fee_fen, plan.status) == (2, 16_67, PlanStatus.ACTIVE)
    done = period_billed(plan, 3, bill_id=23, now_us=4)
    assert (done.status, done.ended_at_us, done.unbilled_principal_fen) == (
        PlanStatus.COMPLETED,
        4,
        0,
    )
    with pytest.raises(CreditInstallmentNotActive):
        check_prepayment(done)
    with pytest.raises(AssertionError):
        period_billed(plan, 2, bill_id=24, now_us=5)  # billed already


def test_prepaying_pays_the_unbilled_principal_and_waives_its_fees() -> None:
    plan = new_plan(bill(), 1_000_00, 6, "2026-04", now_us=1)
    plan = period_billed(plan, 1, bill_id=21, now_us=2)
    assert check_prepayment(plan) == 5 * 166_66
    done = prepaid(plan, now_us=3)
    assert (done.status, done.prepaid_fen, done.waived_fee_fen, done.billed_fee_fen) == (
        PlanStatus.PREPAID,
        5 * 166_66,
        5 * 7_50,
        7_50,
    )
    assert [p.status for p in done.periods] == [PeriodStatus.BILLED] + [PeriodStatus.PREPAID] * 5
    with pytest.raises(CreditInstallmentNotActive):
        prepaid(done, now_us=4)


# The minimum repayment ---------------------------------------------------------------------------


def test_the_minimum_is_a_tenth_of_the_principal_rounded_up_and_all_charges() -> None:
    assert minimum_fen(bill()) == 100_00
    assert minimum_fen(bill(principal_fen=1_234_57)) == 123_46  # 123.457 rounded up
    charged_bill = bill(principal_fen=1, fee_fen=8_34, penalty_fen=5, interest_fen=3)
    assert minimum_fen(charged_bill) == 1 + 8_34 + 5 + 3  # a tenth of a fen is a fen
    # Refunds and the part in a plan leave the principal the minimum is a tenth of.
    assert minimum_fen(bill(refunded_fen=100_00, converted_fen=400_00)) == 50_00
    assert minimum_left_fen(bill(repaid_principal_fen=60_00)) == 40_00
    assert minimum_left_fen(bill(repaid_principal_fen=100_00)) == 0
    # A charge made after an early repayment is still due in full.
    late = bill(repaid_principal_fen=500_00, interest_fen=2_00)
    assert minimum_left_fen(late) == 2_00


def test_the_day_after_the_due_date_judges_the_bill() -> None:
    assert judged(bill(repaid_principal_fen=100_00)).status is BillStatus.MIN_PAID
    assert judged(bill(repaid_principal_fen=99_99)).status is BillStatus.OVERDUE
    fees = bill(fee_fen=8_34)
    part = allocate_repayment([fees], 108_34)[0]
    assert (part.fee_fen, part.principal_fen) == (8_34, 100_00)
    assert judged(repaid(fees, part, now_us=1)).status is BillStatus.MIN_PAID


def test_minimum_due_is_overdue_bills_in_full_and_the_minimum_of_the_others() -> None:
    overdue = bill(1, "2026-02", status=BillStatus.OVERDUE, penalty_fen=1_50)
    billed = bill(2, "2026-03", principal_fen=300_00)
    revolving = bill(3, "2026-01", status=BillStatus.MIN_PAID, repaid_principal_fen=200_00)
    assert minimum_due_fen([overdue, billed, revolving]) == 1_001_50 + 30_00


# Daily charges and the roll on the 1st ------------------------------------------------------------


def test_a_revolving_bill_pays_interest_each_day_until_the_first() -> None:
    paid_minimum = bill(repaid_principal_fen=100_00)
    first = day_started(paid_minimum, date(2026, 4, 11))
    assert (first.bill.status, first.kind, first.base_fen, first.amount_fen) == (
        BillStatus.MIN_PAID,
        ChargeKind.INTEREST,
        900_00,
        45,  # 0.05 % of 900.00
    )
    assert first.next_day == date(2026, 4, 12)
    assert charged(first).interest_fen == 45
    assert rolls_on(date(2026, 4, 10)) == date(2026, 5, 1)
    last = day_started(first.bill, date(2026, 4, 30))
    assert last.amount_fen == 45 and last.next_day == date(2026, 5, 1)
    on_the_first = day_started(first.bill, date(2026, 5, 1))
    assert (on_the_first.amount_fen, on_the_first.next_day) == (0, None)


def test_below_the_minimum_the_bill_is_overdue_and_pays_the_penalty() -> None:
    charge = day_started(bill(repaid_principal_fen=50_00), date(2026, 4, 11))
    assert (charge.bill.status, charge.kind, charge.amount_fen) == (
        BillStatus.OVERDUE,
        ChargeKind.PENALTY,
        47,  # 0.05 % of 950.00 = 0.475, rounded down
    )
    assert charged(charge).penalty_fen == 47
    paid = bill(repaid_principal_fen=1_000_00, status=BillStatus.PAID)
    assert day_started(paid, date(2026, 4, 11)).next_day is None


def test_the_rest_of_a_revolving_bill_is_carried_into_the_next_with_its_interest() -> None:
    revolving = bill(status=BillStatus.MIN_PAID, repaid_principal_fen=100_00, interest_fen=9_00)
    old = rolled(revolving, into_bill_id=2)
    assert (old.status, old.unpaid_fen, old.rolled_principal_fen, old.rolled_interest_fen) == (
        BillStatus.ROLLED,
        0,
        900_00,
        9_00,
    )
    parts = NewBill(
        purchases_fen=50_00, periods_principal_fen=333_34, periods_fee_fen=8_34, carried_fen=909_00
    )
    new = new_bill(7, "2026-04", 10, parts, now_us=1)
    assert new is not None
    assert (new.principal_fen, new.fee_fen, new.due_date) == (
        1_292_34,
        8_34,
        date(2026, 5, 10),
    )
    # The carried part pays interest from the day the bill closes; the rest is free until due.
    new = replace(new, id=2)
    assert charges_start(new) == date(2026, 5, 1)
    before_due = day_started(new, date(2026, 5, 3))
    assert (before_due.base_fen, before_due.amount_fen) == (909_00, 45)
    assert before_due.bill.status is BillStatus.BILLED
    assert new_bill(7, "2026-04", 10, NewBill(0, 0, 0, 0), now_us=1) is None


def test_repayments_pay_penalty_then_interest_then_fees_then_principal() -> None:
    older = bill(1, "2026-02", status=BillStatus.OVERDUE, penalty_fen=30, principal_fen=10_00)
    newer = bill(2, "2026-03", fee_fen=8_34, interest_fen=45, principal_fen=500_00)
    parts = allocate_repayment([newer, older], 10_30 + 45 + 8_34 + 1_00)
    assert parts == (RepaymentPart(1, 30, 10_00), RepaymentPart(2, 0, 1_00, 45, 8_34))
