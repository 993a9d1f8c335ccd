"""Concurrent conversions of one bill make exactly one plan, and concurrent prepayments of one plan
take the money once (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL: the line's row lock
and compare-and-set, and the plan's unique bill id)."""

from __future__ import annotations

from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import wallet_balance
from tests.integration.test_credit_installments import billed
from tests.integration.test_wallet_rules import PIN
from tests.support.races import race_outcomes

from paybao.bootstrap import Platform
from paybao.domain.credit_installments import PlanStatus

RACERS = 6
COUNTS = (3, 6, 9, 12, 3, 6)


def test_concurrent_conversions_of_one_bill_make_exactly_one_plan(platform: Platform) -> None:
    user_id, bill_id = billed(platform, 1_000_00)
    installments = platform.services["credit_installments"]

    def convert(index: int) -> None:
        installments.convert(user_id, bill_id, 1_000_00 - index * 100_00, COUNTS[index], PIN)

    results = race_outcomes(RACERS, convert)
    assert results == ["credit_bill_already_converted"] * (RACERS - 1) + ["ok"]
    [plan] = installments.plans_of(user_id)
    [bill] = platform.services["credit"].summary(user_id).bills
    assert bill.converted_fen == plan.principal_fen
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (plan.principal_fen, 1_000_00)
    assert reconcile_clean(platform) == []


def test_concurrent_prepayments_of_one_plan_pay_once(platform: Platform) -> None:
    user_id, bill_id = billed(platform, 900_00, balance=2_000_00)
    installments = platform.services["credit_installments"]
    plan = installments.convert(user_id, bill_id, 900_00, 3, PIN)
    results = race_outcomes(3, lambda _index: installments.prepay(user_id, plan.id, PIN))
    assert results == ["credit_installment_not_active"] * 2 + ["ok"]
    assert wallet_balance(platform, user_id) == 2_000_00 - 900_00
    assert installments.plan(user_id, plan.id).status is PlanStatus.PREPAID
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (0, 0)
    assert reconcile_clean(platform) == []
