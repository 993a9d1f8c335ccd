"""Refunds of card-funded trades go back to the card (原路退回); balance-funded ones to the
balance.

A card refund is credited through the sandbox bank after the refund commits; a lost answer is
retried with the same request id (never paying twice), a refusal leaves the money visibly in the
buyer's balance. Everything here runs on SQLite and on PostgreSQL (PAYBAO_TEST_DATABASE_URL)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from tests.integration.card_support import CardBuyer, card_balance, card_buyer, card_paid
from tests.integration.gateway_support import (
    APP_ID,
    Shop,
    call,
    make_buyer,
    make_shop,
    wallet_balance,
)
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD, post_form, sign_in
from tests.integration.test_wallet_rules import ledger_clean
from tests.reliability.test_double_spend import storm

from paybao.adapters.db.tables.merchant_portal import card_refunds
from paybao.bootstrap import Platform
from paybao.domain.bills import last_closed_day
from paybao.domain.cards import generate_card_number
from paybao.domain.trades import TradeStatus
from paybao.services.card_refunds import JOB_CARD_REFUND
from paybao.services.trades import TradeRef
from paybao.services.wallet_statement import StatementQuery
from paybao.web.api_wallet import CODES_BY_KIND

US_PER_S = 1_000_000
CARD_BILL = {"fund_channel": "BANKCARD", "fund_type": "DEBIT_CARD"}


@pytest.fixture
def shop(platform: Platform) -> Shop:
    shop = make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    return shop


@pytest.fixture
def buyer(platform: Platform) -> CardBuyer:
    return card_buyer(platform)


def card_refund_rows(platform: Platform) -> list[tuple[str, str | None]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(select(card_refunds).order_by(card_refunds.c.refund_id)).all()
    return [(row.status, row.failure_code) for row in rows]


def bank_lines(platform: Platform, prefix: str) -> list[tuple[str, int, str]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT kind, amount_fen, status FROM bank_requests"
                " WHERE request_id LIKE :prefix ORDER BY id"
            ),
            {"prefix": f"{prefix}%"},
        ).all()
    return [(row.kind, int(row.amount_fen), row.status) for row in rows]


def statement_kinds(platform: Platform, user_id: int) -> list[tuple[str, int]]:
    """(kind, signed amount) of the buyer's statement, oldest first."""
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=100))
    return [(entry.kind, entry.amount_fen) for entry in reversed(entries)]


def held_fen(platform: Platform, user_id: int) -> int:
    balance, available = platform.services["wallet"].balance(user_id)
    return int(balance - available)


def reconcile_clean(platform: Platform) -> list[Any]:
    """Every reconciliation check, with the bank's statement, for today."""
    day = last_closed_day(platform.clock.now_us() + 86_400 * US_PER_S)
    return list(platform.reconcile.run(day).differences)


# Refunds go back to the card ----------------------------------------------------------------


def test_partial_and_full_refunds_of_a_card_paid_trade_go_back_to_the_card(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    user_id, _, card_number = buyer
    before = card_balance(platform, card_number)
    trade = card_paid(platform, buyer, total_fen=100_00)
    assert card_balance(platform, card_number) == before - 100_00

    part = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "K-1", "refund_amount": "30.00", "out_request_no": "r1"},
    )
    assert (part["code"], part["fund_change"], part["refund_fee"]) == ("10000", "Y", "30.00")
    assert part["refund_detail_item_list"] == [CARD_BILL | {"amount": "30.00"}]
    assert card_balance(platform, card_number) == before - 70_00
    assert wallet_balance(platform, user_id) == 0  # the refund passed through the wallet
    assert held_fen(platform, user_id) == 0

    rest = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "K-1", "refund_amount": "70.00", "out_request_no": "r2"},
    )
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "100.00")
    assert rest["refund_detail_item_list"] == [CARD_BILL | {"amount": "70.00"}]
    assert card_balance(platform, card_number) == before
    assert wallet_balance(platform, user_id) == 0
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.TRADE_CLOSED
    assert card_refund_rows(platform) == [("succeeded", None), ("succeeded", None)]
    assert [line[:2] for line in bank_lines(platform, "cardrefund:")] == [
        ("credit", 30_00),
        ("credit", 70_00),
    ]
    # The buyer's statement says what happened: paid by card, refunded, back to the card.
    kinds = statement_kinds(platform, user_id)
    assert kinds[-6:] == [
        ("card_payment", 100_00),
        ("payment", -100_00),
        ("refund", 30_00),
        ("card_refund", -30_00),
        ("refund", 70_00),
        ("card_refund", -70_00),
    ]
    assert ledger_clean(platform)
    assert reconcile_clean(platform) == []


def test_balance_paid_trades_still_refund_to_the_balance(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=50_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "B-1", "auth_code": code, "subject": "余额", "total_amount": "20.00"}
    call(client, "alipay.trade.pay", biz)
    refund = call(client, "alipay.trade.refund", {"out_trade_no": "B-1", "refund_amount": "5.00"})
    assert refund["fund_change"] == "Y"
    assert wallet_balance(platform, buyer) == 50_00 - 20_00 + 5_00
    assert held_fen(platform, buyer) == 0
    assert card_refund_rows(platform) == []
    assert bank_lines(platform, "cardrefund:") == []
    assert statement_kinds(platform, buyer)[-1] == ("refund", 5_00)
    assert ledger_clean(platform)


def test_the_same_out_request_no_refunds_the_card_once(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    _, _, card_number = buyer
    before = card_balance(platform, card_number)
    card_paid(platform, buyer, total_fen=10_00)
    biz = {"out_trade_no": "K-1", "refund_amount": "4.00", "out_request_no": "same"}
    first = call(client, "alipay.trade.refund", biz)
    again = call(client, "alipay.trade.refund", biz)
    assert (first["fund_change"], again["fund_change"]) == ("Y", "N")
    assert again["refund_detail_item_list"] == [CARD_BILL | {"amount": "4.00"}]
    other = call(client, "alipay.trade.refund", {**biz, "refund_amount": "5.00"})
    assert other["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert card_balance(platform, card_number) == before - 10_00 + 4_00
    assert bank_lines(platform, "cardrefund:") == [("credit", 4_00, "succeeded")]
    assert ledger_clean(platform)


def test_cancel_of_a_card_paid_trade_refunds_the_card(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    user_id, _, card_number = buyer
    before = card_balance(platform, card_number)
    card_paid(platform, buyer, total_fen=12_34)
    cancelled = call(client, "alipay.trade.cancel", {"out_trade_no": "K-1"})
    assert (cancelled["code"], cancelled["action"]) == ("10000", "refund")
    assert card_balance(platform, card_number) == before
    assert wallet_balance(platform, user_id) == 0
    again = call(client, "alipay.trade.cancel", {"out_trade_no": "K-1"})
    assert again["action"] == "refund"
    assert bank_lines(platform, "cardrefund:") == [("credit", 12_34, "succeeded")]
    assert ledger_clean(platform)


def test_refund_from_the_merchant_portal_goes_back_to_the_card_and_says_so(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    _, _, card_number = buyer
    before = card_balance(platform, card_number)
    trade = card_paid(platform, buyer, total_fen=10_00)
    assert sign_in(client, shop.merchant.id).status_code == 303
    client.headers["Accept-Language"] = "en"
    path = f"/merchant/trades/{trade.trade_no}"
    assert 'data-funding="card"' in client.get(path).text
    done = post_form(client, path, f"{path}/refund", {"amount": "3.00"})
    assert done.status_code == 303, done.text
    assert card_balance(platform, card_number) == before - 7_00
    page = client.get(done.headers["location"]).text
    assert 'data-route="card" data-card-refund="succeeded"' in page
    assert f"*{card_number[-4:]}" in page
    # A refund the bank refuses says where the money went instead.
    platform.services["bank"].script.append("fail")
    refused = post_form(client, path, f"{path}/refund", {"amount": "2.00"})
    assert refused.status_code == 303, refused.text
    page = client.get(path).text
    assert 'data-card-refund="failed"' in page
    assert "refused by the bank, left in the buyer&#39;s balance" in page
    assert card_balance(platform, card_number) == before - 7_00
    assert ledger_clean(platform)


# When the bank does not answer, or refuses -------------------------------------------------


@pytest.mark.parametrize("fault", ["timeout", "timeout_lost"])
def test_a_lost_answer_keeps_the_money_held_until_the_job_credits_the_card_once(
    platform: Platform, shop: Shop, buyer: CardBuyer, fault: str
) -> None:
    """`timeout`: the bank credited the card but the answer was lost; `timeout_lost`: the
    request never reached it. Either way the retry job asks again with the same request id, and
    the card ends up credited exactly once."""
    user_id, _, card_number = buyer
    before = card_balance(platform, card_number)
    trade = card_paid(platform, buyer, total_fen=20_00)
    bank = platform.services["bank"]
    bank.script.append(fault)
    result = platform.services["refunds"].refund(
        APP_ID, TradeRef(trade_no=trade.trade_no), "t1", 8_00
    )
    assert result.fund_change and result.trade.refunded_fen == 8_00  # done for the merchant
    assert card_refund_rows(platform) == [("processing", None)]
    # Meanwhile the money is visibly on its way: in the buyer's balance, held, not available.
    assert wallet_balance(platform, user_id) == 8_00 and held_fen(platform, user_id) == 8_00
    (hold,) = platform.services["wallet"].holds(user_id)
    assert (hold.kind, hold.amount_fen, hold.reference) == ("card_refund", 8_00, trade.trade_no)
    assert hold.expires_at_us is None  # only the bank's answer ends it
    assert ledger_clean(platform)

    bank.script.append("timeout")  # the first retry is not answered either
    platform.sandbox_clock.advance(31)
    assert card_refund_rows(platform) == [("processing", None)]
    platform.sandbox_clock.advance(60)

    assert card_refund_rows(platform) == [("succeeded", None)]
    assert card_balance(platform, card_number) == before - 20_00 + 8_00
    assert bank_lines(platform, "cardrefund:") == [("credit", 8_00, "succeeded")]
    assert wallet_balance(platform, user_id) == 0 and held_fen(platform, user_id) == 0
    with platform.engine.connect() as connection:
        attempts = connection.execute(select(card_refunds.c.attempts)).scalar_one()
        pending_jobs = connection.execute(
            text("SELECT COUNT(*) FROM jobs WHERE kind = :kind AND done_at_us IS NULL"),
            {"kind": JOB_CARD_REFUND},
        ).scalar_one()
    assert attempts == 3 and pending_jobs == 0
    assert ledger_clean(platform)
    assert reconcile_clean(platform) == []


def test_a_refusal_leaves_the_refund_in_the_buyers_balance_visibly(
    platform: Platform, shop: Shop, buyer: CardBuyer
) -> None:
    user_id, _, card_number = buyer
    before = card_balance(platform, card_number)
    trade = card_paid(platform, buyer, total_fen=20_00)
    platform.services["bank"].script.append("fail")
    refunds = platform.services["refunds"]
    refunds.refund(APP_ID, TradeRef(trade_no=trade.trade_no), "f1", 6_00)

    assert card_refund_rows(platform) == [("failed", "bank_declined")]
    assert card_balance(platform, card_number) == before - 20_00
    assert wallet_balance(platform, user_id) == 6_00 and held_fen(platform, user_id) == 0
    assert statement_kinds(platform, user_id)[-1] == ("refund", 6_00)
    # A later retry of the job, or of the merchant's request, changes nothing.
    platform.sandbox_clock.advance(120)
    refunds.refund(APP_ID, TradeRef(trade_no=trade.trade_no), "f1", 6_00)
    assert card_refund_rows(platform) == [("failed", "bank_declined")]
    assert card_balance(platform, card_number) == before - 20_00
    assert wallet_balance(platform, user_id) == 6_00
    assert ledger_clean(platform)
    assert reconcile_clean(platform) == []


def test_a_seller_short_of_money_refunds_nothing_and_asks_no_bank(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    trade = card_paid(platform, buyer, total_fen=10_00)
    merchant = platform.services["merchants"].merchant(trade.merchant_id)
    payout_card = generate_card_number(random.Random(7), "ICBC")
    platform.services["bank"].open_card(
        payout_card, "ICBC", "商户", "110101199003071234", "13900000000", 0
    )
    settlement = platform.services["settlement"]
    settlement.bind_card(merchant.id, payout_card)
    available = platform.ledger.balance(merchant.settlement_account_id).available_fen
    settlement.withdraw(merchant.id, merchant.settlement_account_id, available, "all")
    answer = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "K-1", "refund_amount": "5.00", "out_request_no": "x"},
    )
    assert answer["sub_code"] == "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    assert platform.services["trades"].get(trade.trade_no).refunded_fen == 0
    assert card_refund_rows(platform) == [] and bank_lines(platform, "cardrefund:") == []
    assert ledger_clean(platform)


# The buyer's statement ----------------------------------------------------------------------


def test_statement_kinds_are_filterable_and_documented(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    user_id, _, _ = buyer
    trade = card_paid(platform, buyer, total_fen=5_00)
    platform.services["refunds"].refund(APP_ID, TradeRef(trade_no=trade.trade_no), "s1", 2_00)
    wallet = platform.services["wallet"]
    only = StatementQuery(kinds=frozenset({CODES_BY_KIND["card_refund"]}))
    assert [(e.kind, e.amount_fen, e.reference) for e in wallet.statement(user_id, only)] == [
        ("card_refund", -2_00, trade.trade_no)
    ]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"refund", "card_refund"} <= set(schema["EntryOut"]["properties"]["kind"]["enum"])
    assert "card_refund" in schema["HoldOut"]["properties"]["kind"]["enum"]


def test_a_card_trade_refunded_by_many_requests_at_once_credits_the_card_exactly(
    platform: Platform, shop: Shop, buyer: CardBuyer
) -> None:
    _, _, card_number = buyer
    before = card_balance(platform, card_number)
    trade = card_paid(platform, buyer, total_fen=100_00)
    refunds, ref = platform.services["refunds"], TradeRef(trade_no=trade.trade_no)
    distinct = storm([lambda n=n: refunds.refund(APP_ID, ref, f"req-{n}", 30_00) for n in range(8)])
    assert distinct["ok"] == 3, distinct  # 3 x 30.00 fit in 100.00, the 4th does not
    same = storm([lambda: refunds.refund(APP_ID, ref, "req-same", 10_00) for _ in range(8)])
    assert same == Counter({"ok": 8}), same  # one refund, answered to every repeat
    platform.sandbox_clock.advance(31)  # any card refund a race left waiting is sent now
    assert card_refund_rows(platform) == [("succeeded", None)] * 4
    assert card_balance(platform, card_number) == before
    assert sorted(line[1] for line in bank_lines(platform, "cardrefund:")) == [10_00] + [30_00] * 3
    assert ledger_clean(platform)
    assert reconcile_clean(platform) == []
