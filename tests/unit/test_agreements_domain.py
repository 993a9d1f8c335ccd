"""domain/agreements.py: products, cycle windows (3 days ahead, one per period), the rules a user
may sign, the deduction limits and their order, validity, agreement numbers. Pure."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.agreements import (
    CHARGE_AHEAD_DAYS,
    FOREVER,
    CycleState,
    PeriodRule,
    PeriodType,
    Product,
    WithholdingLimits,
    add_months,
    check_cycle_deduction,
    check_period_rule,
    check_single,
    check_user_cap,
    check_user_cap_value,
    check_user_totals,
    due_date,
    new_agreement_no,
    period_index,
    product_of,
    validity_end,
)
from paybao.domain.errors import DomainError

TODAY = date(2026, 5, 1)
LIMITS = WithholdingLimits()


def monthly(day: int = 10, **extra: object) -> PeriodRule:
    values: dict[str, object] = {
        "period_type": PeriodType.MONTH,
        "period": 1,
        "execute_date": date(2026, 5, day),
        "single_amount_fen": 30_00,
    }
    values.update(extra)
    return PeriodRule(**values)  # type: ignore[arg-type]


def weekly(**extra: object) -> PeriodRule:
    values: dict[str, object] = {
        "period_type": PeriodType.DAY,
        "period": 7,
        "execute_date": date(2026, 5, 10),
        "single_amount_fen": 10_00,
    }
    values.update(extra)
    return PeriodRule(**values)  # type: ignore[arg-type]


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(DomainError) as raised:
        call()
    return raised.value.code


# Products -----------------------------------------------------------------------------------


def test_the_personal_product_code_decides_and_the_product_code_must_agree() -> None:
    assert product_of(None, "CYCLE_PAY_AUTH_P") is Product.CYCLE_PAY_AUTH
    assert product_of("GENERAL_WITHHOLDING", "GENERAL_WITHHOLDING_P").cyclic is False
    assert code_of(lambda: product_of(None, "FOO_P")) == "agreement_product_not_supported"
    mismatch = code_of(lambda: product_of("CYCLE_PAY_AUTH", "GENERAL_WITHHOLDING_P"))
    assert mismatch == "agreement_product_not_supported"


# Windows ------------------------------------------------------------------------------------


def test_monthly_windows_open_three_days_before_each_due_date() -> None:
    rule = monthly(day=10)
    assert period_index(rule, date(2026, 5, 6)) is None
    assert period_index(rule, date(2026, 5, 7)) == 0
    assert period_index(rule, date(2026, 6, 6)) == 0
    assert period_index(rule, date(2026, 6, 7)) == 1
    assert due_date(rule, 12) == date(2027, 5, 10)


def test_daily_periods_of_seven_days() -> None:
    rule = weekly()
    assert period_index(rule, date(2026, 5, 6)) is None
    assert period_index(rule, date(2026, 5, 7)) == 0
    assert period_index(rule, date(2026, 5, 13)) == 0
    assert period_index(rule, date(2026, 5, 14)) == 1
    assert due_date(rule, 2) == date(2026, 5, 24)


def test_a_quarterly_rule_counts_months_in_steps() -> None:
    rule = monthly(day=28, period=3)
    assert period_index(rule, date(2026, 8, 24)) == 0
    assert period_index(rule, date(2026, 8, 25)) == 1
    assert due_date(rule, 1) == date(2026, 8, 28)
    assert add_months(date(2026, 11, 28), 3) == date(2027, 2, 28)


@given(
    period_type=st.sampled_from(list(PeriodType)),
    period=st.integers(1, 40),
    first=st.dates(date(2026, 1, 1), date(2030, 12, 28)),
    offset_days=st.integers(-10, 2000),
)
def test_every_day_from_the_first_window_is_in_exactly_one_window(
    period_type: PeriodType, period: int, first: date, offset_days: int
) -> None:
    if period_type is PeriodType.DAY:
        period = max(period, 7)
    else:
        period = period % 12 + 1
        first = first.replace(day=min(first.day, 28))
    rule = PeriodRule(period_type, period, first, 1_00)
    on = first + timedelta(days=offset_days)
    index = period_index(rule, on)
    ahead = timedelta(days=CHARGE_AHEAD_DAYS)
    if on + ahead < first:
        assert index is None
    else:
        assert index is not None
        assert due_date(rule, index) - ahead <= on < due_date(rule, index + 1) - ahead


# Rules a user may sign -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        weekly(period=6),
        monthly(day=29),
        monthly(period=13),
        monthly(execute_date=date(2026, 4, 30)),
        monthly(single_amount_fen=100_01),
        monthly(single_amount_fen=0),
        monthly(total_amount_fen=20_00),
        monthly(total_payments=0),
    ],
)
def test_rules_outside_the_product_are_refused(rule: PeriodRule) -> None:
    assert code_of(lambda: check_period_rule(rule, TODAY, 100_00)) == "invalid_period_rule"


def test_a_sound_rule_passes() -> None:
    rule = monthly(total_amount_fen=360_00, total_payments=12)
    assert check_period_rule(rule, TODAY, 100_00) is rule


# Deductions ---------------------------------------------------------------------------------


def test_cycle_deduction_refusals_in_order() -> None:
    rule = monthly(day=10, total_amount_fen=50_00, total_payments=2)
    fresh = CycleState(0, 0)
    early = date(2026, 5, 6)
    in_window = date(2026, 5, 8)

    def deduct(state: CycleState, amount_fen: int, on: date, used: bool = False) -> object:
        return lambda: check_cycle_deduction(rule, state, amount_fen, on, period_used=used)

    assert code_of(deduct(fresh, 10_00, early)) == "cycle_pay_date_not_match"
    assert code_of(deduct(fresh, 10_00, in_window, used=True)) == "cycle_pay_period_used"
    assert code_of(deduct(fresh, 30_01, in_window)) == "cycle_pay_single_fee_exceed"
    assert code_of(deduct(CycleState(1, 30_00), 30_00, in_window)) == "cycle_pay_total_fee_exceed"
    assert code_of(deduct(CycleState(2, 20_00), 10_00, in_window)) == "cycle_pay_total_times_exceed"
    assert check_cycle_deduction(rule, fresh, 30_00, in_window, period_used=False) == 0


def test_product_caps_and_the_users_own_cap() -> None:
    check_single(100_00, LIMITS)
    assert code_of(lambda: check_single(100_01, LIMITS)) == "withholding_single_limit"
    check_user_totals(1_000_00, 1_000_00, 10_00, LIMITS)
    day = code_of(lambda: check_user_totals(1_000_01, 1_000_01, 10_00, LIMITS))
    assert day == "withholding_day_limit"
    month = code_of(lambda: check_user_totals(500_00, 30_000_01, 10_00, LIMITS))
    assert month == "withholding_month_limit"
    check_user_cap(None, 29_999_00, 1_00)
    check_user_cap(50_00, 40_00, 10_00)
    assert code_of(lambda: check_user_cap(50_00, 40_01, 10_00)) == "agreement_user_cap_exceeded"
    assert check_user_cap_value(None, LIMITS) is None
    assert code_of(lambda: check_user_cap_value(0, LIMITS)) == "invalid_agreement_cap"
    assert code_of(lambda: check_user_cap_value(30_000_01, LIMITS)) == "invalid_agreement_cap"


def test_limits_must_nest() -> None:
    with pytest.raises(AssertionError):
        WithholdingLimits(single_fen_max=2_000_00, day_fen_max=1_000_00)


# Validity, numbers --------------------------------------------------------------------------


def test_validity_in_days_months_or_forever() -> None:
    start = datetime.fromisoformat("2026-01-31T10:00:00+08:00")
    assert validity_end(start, None) == FOREVER
    assert validity_end(start, "30d") == start + timedelta(days=30)
    assert validity_end(start, "1m") == datetime.fromisoformat("2026-02-28T10:00:00+08:00")
    assert validity_end(start, "2m") == datetime.fromisoformat("2026-03-31T10:00:00+08:00")
    for bad in ("2y", "m", "0d", "9999d", "121m"):
        assert code_of(lambda bad=bad: validity_end(start, bad)) == "invalid_validity"


def test_agreement_numbers_are_twenty_digits_led_by_the_date() -> None:
    numbers = {new_agreement_no(TODAY) for _ in range(50)}
    assert len(numbers) == 50
    assert all(len(n) == 20 and n.isdigit() and n.startswith("20260501") for n in numbers)
