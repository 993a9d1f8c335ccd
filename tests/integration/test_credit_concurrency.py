"""Concurrent credit payments cannot overdraw a line, and concurrent repayments cannot repay a
bill twice (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL: row locks and compare-and-set
on the line's version, in the same transaction as the journal)."""

from __future__ import annotations

from tests.integration.credit_support import (
    advance_to,
    credit_buyer,
    next_month,
    pay_with_credit,
    reconcile_clean,
    shop_trade,
)
from tests.integration.gateway_support import wallet_balance
from tests.integration.test_wallet_rules import PIN
from tests.support.races import race_outcomes

from paybao.bootstrap import Platform
from paybao.domain.trades import Funding

RACERS = 6


def test_concurrent_credit_payments_cannot_overdraw_the_line(platform: Platform) -> None:
    user_id = credit_buyer(platform, limit_fen=1_000_00)
    trades = platform.services["trades"]
    open_trades = [shop_trade(platform, f"RACE-{i}", 300_00) for i in range(RACERS)]

    def pay(index: int) -> None:
        trade_no = open_trades[index].trade_no
        trades.pay_by_buyer(trade_no, user_id, PIN, funding=Funding.CREDIT)

    results = race_outcomes(RACERS, pay)
    # 3 x 300.00 fit in 1,000.00; a 4th would overdraw it.
    assert results == ["credit_limit_exceeded"] * 3 + ["ok"] * 3
    line = platform.services["credit"].line(user_id)
    assert (line.open_fen, line.outstanding_fen, line.available_fen) == (900_00, 900_00, 100_00)
    assert platform.ledger.balance(line.account_id).balance_fen == -900_00
    paid = [t for t in (trades.get(o.trade_no) for o in open_trades) if t.paid]
    assert len(paid) == 3 and all(t.funding is Funding.CREDIT for t in paid)
    assert reconcile_clean(platform) == []


def test_concurrent_repayments_cannot_repay_a_bill_twice(platform: Platform) -> None:
    user_id = credit_buyer(platform, limit_fen=1_000_00, balance_fen=1_000_00)
    pay_with_credit(platform, user_id, "DEBT", 250_00)
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 8)
    credit = platform.services["credit"]
    results = race_outcomes(3, lambda _index: credit.repay(user_id, 250_00, PIN))
    assert results == ["credit_nothing_due"] * 2 + ["ok"]
    assert wallet_balance(platform, user_id) == 750_00
    assert credit.line(user_id).outstanding_fen == 0
    assert reconcile_clean(platform) == []
