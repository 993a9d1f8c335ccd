"""Concurrent payments in Huabei installments on one line: the whole principal of each is owed at
once, so exactly as many as the line has room for succeed (SQLite, or PostgreSQL with
PAYBAO_TEST_DATABASE_URL: the line's row lock and its compare-and-set on the version); and
concurrent refunds of one installment trade by the same request number lower its plan once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.checkout_installment_support import extend, page_pay, plan_of
from tests.integration.credit_support import credit_buyer, reconcile_clean
from tests.integration.test_wallet_rules import PIN
from tests.support.races import race_outcomes

from paybao.bootstrap import Platform
from paybao.domain.trades import Funding
from paybao.services.trades import TradeRef

RACERS = 6


def test_concurrent_installment_payments_cannot_overdraw_the_line(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=1_000_00)
    trade_nos = [page_pay(client, f"RACE-{i}", "300.00") for i in range(RACERS)]
    trades = platform.services["trades"]

    def pay(index: int) -> None:
        trades.pay_by_buyer(
            trade_nos[index],
            user_id,
            PIN,
            funding=Funding.CREDIT,
            installments=(3, 6, 12)[index % 3],
        )

    results = race_outcomes(RACERS, pay)
    assert results == ["credit_limit_exceeded"] * 3 + ["ok"] * 3
    paid = [no for no in trade_nos if trades.get(no).paid]
    assert len(paid) == 3
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen, line.available_fen) == (
        900_00,
        900_00,
        100_00,
    )
    assert sum(plan_of(platform, no).principal_fen for no in paid) == 900_00
    assert reconcile_clean(platform) == []


def test_concurrent_refunds_by_one_request_lower_the_plan_once(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=1_000_00)
    trade_no = page_pay(client, "RACE-R", "600.00", extend_params=extend("6", "100"))
    platform.services["trades"].pay_by_buyer(
        trade_no, user_id, PIN, funding=Funding.CREDIT, installments=6
    )
    app_id = platform.services["trades"].get(trade_no).app_id
    refunds = platform.services["refunds"]
    ref = TradeRef(trade_no=trade_no)
    results = race_outcomes(4, lambda _index: refunds.refund(app_id, ref, "once", 120_00))
    assert results == ["ok"] * 4  # replays answer the first result
    plan = plan_of(platform, trade_no)
    assert (plan.refunded_fen, plan.cancelled_fen, plan.seller_fee_refunded_fen) == (
        120_00,
        120_00,
        5_40,  # 4.5 % of 600.00 = 27.00, a fifth of it back
    )
    assert platform.services["credit"].line(user_id).installment_fen == 480_00
    assert reconcile_clean(platform) == []
