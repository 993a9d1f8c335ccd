"""Checkout installments' pure rules: the terms a merchant may set, what the cashier offers
(the under-100 rule), the schedule (periods sum exactly to principal + the buyer's fee, the last
period takes the remainder), who pays the fee, and refunds lowering the unbilled periods, waiving
the buyer's fee and giving the merchant's back pro rata."""

from __future__ import annotations

import pytest

from paybao.domain.checkout_installments import (
    CreditChannelDisabled,
    InstallmentNotOffered,
    InstallmentTerms,
    InstallmentTermsInvalid,
    check_choice,
    checkout_plan,
    counts_offered,
    drawn,
    offer,
    refunded_plan,
)
from paybao.domain.credit import CreditLimitExceeded, CreditLine, CreditOverdueFrozen
from paybao.domain.credit_installments import (
    PeriodStatus,
    Plan,
    PlanStatus,
    period_billed,
    prepaid,
)


def test_terms_take_only_alipays_values() -> None:
    assert InstallmentTerms(6, 100).seller_pays
    for count, percent in ((9, 0), (24, 0), (0, 0), (3, 50), (None, 100)):
        with pytest.raises(InstallmentTermsInvalid):
            InstallmentTerms(count, percent)
    with pytest.raises(InstallmentTermsInvalid):
        InstallmentTerms(3, installments_allowed=False)


def test_the_cashier_offers_the_fixed_number_or_a_choice_from_100_cny() -> None:
    assert counts_offered(InstallmentTerms(), 100_00) == (3, 6, 12)
    assert counts_offered(InstallmentTerms(), 99_99) == ()
    assert counts_offered(InstallmentTerms(12), 10_00) == (12,)
    assert counts_offered(InstallmentTerms(installments_allowed=False), 1_000_00) == ()
    check_choice(InstallmentTerms(6), 50_00, 6)
    with pytest.raises(InstallmentNotOffered):
        check_choice(InstallmentTerms(6), 500_00, 3)
    with pytest.raises(InstallmentNotOffered):
        check_choice(InstallmentTerms(), 99_99, 3)
    with pytest.raises(CreditChannelDisabled):
        check_choice(InstallmentTerms(credit_allowed=False), 500_00, None)


@pytest.mark.parametrize(
    ("count", "fee_fen"), [(3, 25_00), (6, 45_00), (12, 88_00)]
)  # the bill installments' table: 2.5 / 4.5 / 8.8 %
def test_the_fee_is_the_one_table_and_the_periods_add_up(count: int, fee_fen: int) -> None:
    buyer = offer(1_000_00, count, 0, "2026-11")
    assert (buyer.buyer_fee_fen, buyer.seller_fee_fen) == (fee_fen, 0)
    assert sum(p.amount_fen for p in buyer.periods) == 1_000_00 + fee_fen
    assert [p.period for p in buyer.periods][:2] == ["2026-11", "2026-12"]
    seller = offer(1_000_00, count, 100, "2026-11")
    assert (seller.buyer_fee_fen, seller.seller_fee_fen) == (0, fee_fen)
    assert sum(p.amount_fen for p in seller.periods) == 1_000_00


def test_the_last_period_takes_the_remainder() -> None:
    chosen = offer(100_00, 3, 0, "2026-11")  # fee 2.50
    assert [(p.principal_fen, p.fee_fen) for p in chosen.periods] == [
        (33_33, 83),
        (33_33, 83),
        (33_34, 84),
    ]
    assert (chosen.first_fen, chosen.last_fen, chosen.total_fen) == (34_16, 34_18, 102_50)
    twelve = offer(1_000_01, 12, 100, "2026-12")
    assert [p.principal_fen for p in twelve.periods] == [83_33] * 11 + [83_38]
    assert twelve.periods[-1].period == "2027-11"
    with pytest.raises(InstallmentNotOffered):  # under a fen a period
        offer(11, 12, 0, "2026-11")


def _line(limit_fen: int = 1_000_00, outstanding_fen: int = 0, overdue: bool = False) -> CreditLine:
    return CreditLine(7, 70, limit_fen, 0, outstanding_fen, 10, overdue, 0, 0)


def test_a_draw_owes_the_whole_principal_as_installments() -> None:
    after = drawn(_line(), 600_00)
    assert (after.open_fen, after.installment_fen, after.outstanding_fen) == (0, 600_00, 600_00)
    assert after.available_fen == 400_00
    with pytest.raises(CreditLimitExceeded):
        drawn(_line(outstanding_fen=500_01), 500_00)
    with pytest.raises(CreditOverdueFrozen):
        drawn(_line(overdue=True), 1_00)


def _plan(principal_fen: int, count: int, seller_percent: int) -> Plan:
    chosen = offer(principal_fen, count, seller_percent, "2026-11")
    return checkout_plan(7, "T1", chosen, 0)


def test_a_partial_refund_spreads_the_rest_and_waives_the_fee_pro_rata() -> None:
    plan = _plan(300_00, 3, 0)  # fee 7.50
    plan = period_billed(plan, 1, 41, 1)
    result = refunded_plan(plan, 150_00, 2)
    # 150.00 of the unbilled 200.00: their 5.00 of fee less 3.75 (rounded up for the buyer).
    assert (result.to_line_fen, result.to_balance_fen, result.waived_fee_fen) == (150_00, 0, 3_75)
    after = result.plan
    assert [(p.principal_fen, p.fee_fen) for p in after.periods] == [
        (100_00, 2_50),
        (25_00, 62),
        (25_00, 63),
    ]
    assert after.status is PlanStatus.ACTIVE
    last = refunded_plan(after, 150_00, 3)
    assert (last.to_line_fen, last.to_balance_fen, last.waived_fee_fen) == (50_00, 100_00, 1_25)
    assert last.plan.status is PlanStatus.COMPLETED and last.plan.ended_at_us == 3
    assert [p.status for p in last.plan.periods][1:] == [PeriodStatus.REFUNDED] * 2


def test_a_refund_leaves_as_many_periods_as_keep_a_fen() -> None:
    plan = _plan(12_00, 12, 0)
    result = refunded_plan(plan, 12_00 - 5, 1)
    kept = [p for p in result.plan.periods if p.status is PeriodStatus.SCHEDULED]
    assert [p.principal_fen for p in kept] == [1] * 5
    assert result.plan.unbilled_principal_fen == 5


def test_the_merchants_fee_comes_back_pro_rata_and_all_of_it_in_full() -> None:
    plan = _plan(1_000_00, 12, 100)  # the merchant pays 88.00
    backs = []
    for amount_fen in (333_33, 333_33, 333_34):
        result = refunded_plan(plan, amount_fen, 1)
        backs.append(result.seller_fee_back_fen)
        plan = result.plan
    assert backs == [29_33, 29_33, 29_34]
    assert sum(backs) == 88_00 and plan.seller_fee_refunded_fen == 88_00
    assert plan.status is PlanStatus.REFUNDED


def test_a_refund_after_prepaying_goes_to_the_balance() -> None:
    plan = prepaid(_plan(300_00, 3, 0), 1)
    result = refunded_plan(plan, 300_00, 2)
    assert (result.to_line_fen, result.to_balance_fen, result.waived_fee_fen) == (0, 300_00, 0)
    assert result.plan.status is PlanStatus.PREPAID
