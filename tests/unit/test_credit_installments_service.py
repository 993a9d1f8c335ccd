"""Bill installments and the minimum repayment at the service layer, on an in-memory SQLite
database (the credit tests' world: real credit, ledger and job stores; fake users and password):
a conversion moves no money and takes the password; three 1sts bill three periods with their
fees (earned by the platform) and complete the plan; prepaying pays the unbilled principal and
waives its fees; a bill repaid down to its minimum revolves (interest each day, not frozen) and
its rest is carried into the next bill; a refund follows its purchase into that bill. Every
reconcile check of credit stays clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.unit.test_credit_service import PIN, USER, World, china, code_of
from tests.unit.test_credit_service import world as credit_world

from paybao.adapters.db.credit_checks import CREDIT_CHECKS
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.credit import BillStatus
from paybao.domain.credit_installments import PeriodStatus, PlanStatus
from paybao.services.credit_installments import InstallmentService

__all__ = ["credit_world"]  # the fixture the `world` below builds on


@pytest.fixture
def world(credit_world: World) -> Iterator[World]:
    yield credit_world


@pytest.fixture
def plans(world: World) -> InstallmentService:
    return InstallmentService(world.credit, world.billing.plans)


def differences(world: World) -> list[str]:
    """Every credit reconcile finding, but the purchases' trades (this world has no trades)."""
    with world.db.read() as tx:
        found = [d for _, check in CREDIT_CHECKS for d in check(tx, 0)]
    return [d.line() for d in found if d.kind != "credit_draw_journal"]


def income_fen(world: World) -> int:
    spec = platform_account(Purpose.CREDIT_INCOME)
    ids = world.ledger.open_accounts([spec])
    return world.balance(ids[spec.key])


def billed_march(world: World, amount_fen: int = 1_000_00) -> int:
    """A 2,000 CNY line, `amount_fen` bought in March, billed on 1 April (due the 10th)."""
    world.credit.grant(USER, 2_000_00)
    world.buy("MARCH", amount_fen)
    world.run_jobs_until(china(2026, 4, 1, 9))
    [bill] = world.credit.summary(USER).bills
    return bill.id


# Converting --------------------------------------------------------------------------------


def test_a_conversion_takes_the_password_moves_no_money_and_lowers_the_bill(
    world: World, plans: InstallmentService
) -> None:
    bill_id = billed_march(world)
    quote = plans.quote(USER, bill_id, 1_000_00, 3)
    assert (quote.fee_fen, quote.total_fen) == (25_00, 1_025_00)
    assert [(p.period, p.amount_fen) for p in quote.periods] == [
        ("2026-04", 341_68),
        ("2026-05", 341_66),
        ("2026-06", 341_66),
    ]
    assert [d.isoformat() for d in quote.due_dates] == ["2026-05-10", "2026-06-10", "2026-07-10"]
    wallet_before = world.balance(world.wallet_id)
    assert code_of(lambda: plans.convert(USER, bill_id, 600_00, 6, "000000")) == (
        "payment_password_wrong"
    )
    plan = plans.convert(USER, bill_id, 600_00, 6, PIN)
    assert (plan.status, plan.principal_fen, plan.fee_fen, plan.count) == (
        PlanStatus.ACTIVE,
        600_00,
        27_00,
        6,
    )
    line = world.credit.line(USER)
    assert (line.outstanding_fen, line.installment_fen, line.available_fen) == (
        1_000_00,
        600_00,
        1_000_00,
    )
    summary = world.credit.summary(USER)
    [bill] = summary.bills
    assert (bill.converted_fen, bill.unpaid_fen, summary.due_fen) == (600_00, 400_00, 400_00)
    assert summary.minimum_due_fen == 40_00  # a tenth of what is left on the bill
    assert world.balance(world.wallet_id) == wallet_before  # no money moved
    assert code_of(lambda: plans.convert(USER, bill_id, 100_00, 3, PIN)) == (
        "credit_bill_already_converted"
    )
    assert plans.convertible(USER, bill_id) == 0
    assert differences(world) == []


def test_what_cannot_be_converted_is_refused_with_its_code(
    world: World, plans: InstallmentService
) -> None:
    bill_id = billed_march(world, 500_00)
    assert plans.convertible(USER, bill_id) == 500_00
    refusals = {
        "credit_installment_amount_invalid": lambda: plans.convert(USER, bill_id, 99_99, 3, PIN),
        "credit_installment_count_invalid": lambda: plans.convert(USER, bill_id, 100_00, 5, PIN),
        "credit_bill_not_found": lambda: plans.convert(USER, bill_id + 1, 100_00, 3, PIN),
    }
    for code, call in refusals.items():
        assert code_of(call) == code
    assert code_of(lambda: plans.quote(USER, bill_id, 500_01, 3)) == (
        "credit_installment_amount_invalid"
    )
    world.run_jobs_until(china(2026, 4, 11, 1))  # overdue now
    assert world.credit.summary(USER).bills[0].status is BillStatus.OVERDUE
    assert code_of(lambda: plans.convert(USER, bill_id, 100_00, 3, PIN)) == (
        "credit_bill_not_convertible"
    )
    assert plans.convertible(USER, bill_id) == 0


# Three months of bills -----------------------------------------------------------------------


def test_each_first_bills_a_period_with_its_fee_until_the_plan_completes(
    world: World, plans: InstallmentService
) -> None:
    bill_id = billed_march(world)
    plans.convert(USER, bill_id, 1_000_00, 3, PIN)
    [march] = world.credit.summary(USER).bills
    assert (march.status, march.unpaid_fen) == (BillStatus.PAID, 0)  # all of it in the plan
    world.clock.set_us(china(2026, 4, 20))
    world.buy("APRIL", 50_00)
    expected = [(2026, 5, 341_68 + 50_00, 8_34), (2026, 6, 341_66, 8_33), (2026, 7, 341_66, 8_33)]
    for year, month, due_fen, fee_fen in expected:
        world.run_jobs_until(china(year, month, 1, 8))
        summary = world.credit.summary(USER)
        bill = summary.bills[0]
        assert (bill.unpaid_fen, bill.fee_fen, bill.due_date.month) == (due_fen, fee_fen, month)
        world.credit.repay(USER, summary.due_fen, PIN)
        assert differences(world) == []
    [plan] = plans.plans_of(USER)
    assert (plan.status, plan.billed_count, plan.billed_fee_fen) == (PlanStatus.COMPLETED, 3, 25_00)
    assert [p.bill_id is not None for p in plan.periods] == [True] * 3
    assert income_fen(world) == 25_00  # the platform earned the fees as they were billed
    line = world.credit.line(USER)
    assert (line.outstanding_fen, line.installment_fen, line.available_fen) == (0, 0, 2_000_00)
    assert code_of(lambda: plans.prepay(USER, plan.id, PIN)) == "credit_installment_not_active"
    world.run_jobs_until(china(2026, 8, 2))  # no more periods, no more bills
    assert len(world.credit.summary(USER).bills) == 4


def test_prepaying_pays_the_unbilled_principal_and_waives_the_rest_of_the_fees(
    world: World, plans: InstallmentService
) -> None:
    bill_id = billed_march(world)
    plan = plans.convert(USER, bill_id, 900_00, 6, PIN)  # 150.00 + 6.75 a period
    world.credit.repay(USER, 100_00, PIN)  # the rest of March's bill
    world.run_jobs_until(china(2026, 5, 2))
    wallet_before = world.balance(world.wallet_id)
    done = plans.prepay(USER, plan.id, PIN)
    assert (done.status, done.prepaid_fen, done.waived_fee_fen, done.billed_fee_fen) == (
        PlanStatus.PREPAID,
        750_00,
        5 * 6_75,
        6_75,
    )
    assert world.balance(world.wallet_id) == wallet_before - 750_00
    line = world.credit.line(USER)
    # What is owed now: the first period, billed on 1 May (150.00 + 6.75).
    assert (line.installment_fen, line.outstanding_fen) == (0, 156_75)
    assert code_of(lambda: plans.prepay(USER, plan.id, PIN)) == "credit_installment_not_active"
    world.credit.repay(USER, 156_75, PIN)
    world.run_jobs_until(china(2026, 7, 2))
    assert [p.status for p in plans.plan(USER, plan.id).periods] == (
        [PeriodStatus.BILLED] + [PeriodStatus.PREPAID] * 5
    )
    assert income_fen(world) == 6_75
    assert differences(world) == []


def test_a_prepayment_beyond_the_balance_is_insufficient_funds(
    world: World, plans: InstallmentService
) -> None:
    world.credit.grant(USER, 20_000_00)
    world.buy("BIG", 6_000_00)  # more than the wallet's 5,000.00
    world.run_jobs_until(china(2026, 4, 1, 9))
    [bill] = world.credit.summary(USER).bills
    plan = plans.convert(USER, bill.id, 6_000_00, 12, PIN)
    assert code_of(lambda: plans.prepay(USER, plan.id, PIN)) == "insufficient_funds"
    assert plans.plan(USER, plan.id).status is PlanStatus.ACTIVE
    assert world.credit.line(USER).installment_fen == 6_000_00
    assert differences(world) == []


# The minimum repayment and revolving interest ---------------------------------------------------


def test_a_bill_repaid_down_to_its_minimum_revolves_and_its_rest_rolls_into_the_next(
    world: World,
) -> None:
    credit = world.credit
    bill_id = billed_march(world)
    assert credit.summary(USER).minimum_due_fen == 100_00
    credit.repay(USER, 100_00, PIN)  # exactly the minimum
    world.run_jobs_until(china(2026, 4, 11, 1))
    line = credit.line(USER)
    [march] = credit.summary(USER).bills
    assert (march.status, march.interest_fen, line.overdue) == (BillStatus.MIN_PAID, 45, False)
    world.buy("APRIL", 20_00)  # not frozen
    world.run_jobs_until(china(2026, 4, 30, 23))
    assert credit.summary(USER).bills[0].interest_fen == 20 * 45  # the 11th to the 30th
    world.run_jobs_until(china(2026, 5, 1, 9))
    may, march = credit.summary(USER).bills
    assert (march.id, march.status, march.rolled_to_bill_id) == (bill_id, BillStatus.ROLLED, may.id)
    assert (may.carried_fen, may.principal_fen) == (909_00, 929_00)
    assert may.interest_fen == 45  # the 1st: 0.05 % of the carried 909.00 = 0.4545
    world.run_jobs_until(china(2026, 5, 3, 9))
    assert credit.summary(USER).bills[0].interest_fen == 3 * 45
    # A refund of a March purchase now lowers May's bill, which holds its rest.
    assert world.refund("MARCH", 1, 100_00) is not None
    may = credit.summary(USER).bills[0]
    assert (may.refunded_fen, may.unpaid_principal_fen) == (100_00, 829_00)
    credit.repay(USER, credit.summary(USER).due_fen, PIN)
    world.run_jobs_until(china(2026, 5, 20))
    assert credit.summary(USER).bills[0].status is BillStatus.PAID
    assert credit.line(USER).outstanding_fen == 0
    assert income_fen(world) == 23 * 45
    assert differences(world) == []


def test_below_the_minimum_the_bill_is_overdue_and_the_line_frozen(world: World) -> None:
    credit = world.credit
    billed_march(world)
    credit.repay(USER, 99_99, PIN)  # a fen short
    world.run_jobs_until(china(2026, 4, 11, 1))
    [march] = credit.summary(USER).bills
    assert (march.status, march.penalty_fen, march.interest_fen) == (BillStatus.OVERDUE, 45, 0)
    assert credit.line(USER).overdue
    assert code_of(lambda: world.buy("FROZEN", 1_00)) == "credit_overdue_frozen"
    assert differences(world) == []
