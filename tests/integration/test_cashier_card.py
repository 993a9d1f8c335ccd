"""The cashier's bound-card funding: paid at once, refused by the bank, or answered late and
settled by the bank query job; a trade closed meanwhile leaves the charged money in the wallet."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.credit_support import cashier_pay, cashier_signed_in
from tests.integration.gateway_support import balance_fen, make_shop, wallet_balance
from tests.integration.test_wallet_rules import PIN, code_of, ledger_clean, open_user

from paybao.adapters.db.tables.merchant_portal import card_payments
from paybao.adapters.db.tables.trade import trade_notifications
from paybao.bootstrap import Platform
from paybao.domain.trades import TradeStatus
from paybao.services.trades import NewTrade, Trade, TradeRef

PHONE = "13900000101"
RETURN_URL = "https://shop.example/return"


def open_trade(platform: Platform, out_trade_no: str = "C-1", total_fen: int = 12_34) -> Trade:
    shop = make_shop(platform)
    new = NewTrade(
        app_id=shop.app.app_id,
        out_trade_no=out_trade_no,
        product="FAST_INSTANT_TRADE_PAY",
        subject="卡支付",
        total_fen=total_fen,
        fingerprint=out_trade_no,
        notify_url="http://127.0.0.1:9/notify",
        return_url=RETURN_URL,
    )
    trade: Trade = platform.services["trades"].create(new)
    return trade


def card_rows(platform: Platform) -> list[tuple[str, str | None]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(select(card_payments).order_by(card_payments.c.id)).all()
    return [(row.status, row.failure_code) for row in rows]


def notifications(platform: Platform) -> int:
    with platform.engine.connect() as connection:
        return len(connection.execute(select(trade_notifications.c.id)).all())


@pytest.fixture
def buyer(platform: Platform) -> tuple[int, int]:
    return open_user(platform, PHONE)


def test_card_pays_the_trade_in_one_journal_and_returns_to_the_merchant(
    platform: Platform, client: TestClient, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    trade = open_trade(platform)
    page = cashier_signed_in(client, trade.trade_no, PHONE)
    assert f'value="card:{card_id}"' in page and "尾号" in page
    platform.services["bank"].script.append("ok")
    answer = cashier_pay(client, trade.trade_no, f"card:{card_id}")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"].startswith(RETURN_URL)  # type: ignore[attr-defined]
    paid = platform.services["trades"].get(trade.trade_no)
    assert paid.status is TradeStatus.TRADE_SUCCESS and paid.buyer_user_id == user_id
    merchant = platform.services["merchants"].merchant(paid.merchant_id)
    assert balance_fen(platform, merchant.settlement_account_id) == 12_34 - paid.fee_fen
    assert wallet_balance(platform, user_id) == 0  # the card money passed through the wallet
    assert card_rows(platform) == [("paid", None)]
    assert notifications(platform) == 1
    assert ledger_clean(platform)


def test_bank_refusal_leaves_the_trade_open_and_moves_nothing(
    platform: Platform, client: TestClient, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    trade = open_trade(platform)
    cashier_signed_in(client, trade.trade_no, PHONE)
    platform.services["bank"].script.append("fail")
    answer = cashier_pay(client, trade.trade_no, f"card:{card_id}")
    assert answer.status_code == 402  # type: ignore[attr-defined]
    assert "银行扣款失败" in answer.text  # type: ignore[attr-defined]
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.WAIT_BUYER_PAY
    assert [row[0] for row in card_rows(platform)] == ["failed"]
    assert notifications(platform) == 0
    # The buyer may try again: this time the bank says yes.
    platform.services["bank"].script.append("ok")
    assert cashier_pay(client, trade.trade_no, f"card:{card_id}").status_code == 303  # type: ignore[attr-defined]
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.TRADE_SUCCESS
    assert wallet_balance(platform, user_id) == 0
    assert ledger_clean(platform)


def test_bank_timeout_waits_then_the_query_job_settles_the_trade(
    platform: Platform, client: TestClient, buyer: tuple[int, int]
) -> None:
    _, card_id = buyer
    trade = open_trade(platform)
    cashier_signed_in(client, trade.trade_no, PHONE)
    platform.services["bank"].script.append("timeout")
    answer = cashier_pay(client, trade.trade_no, f"card:{card_id}")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    waiting = client.get(answer.headers["location"])  # type: ignore[attr-defined]
    assert 'id="processing"' in waiting.text and 'http-equiv="refresh"' in waiting.text
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.WAIT_BUYER_PAY
    # A second click while the bank has not answered does not charge the card again.
    second = cashier_pay(client, trade.trade_no, f"card:{card_id}")
    assert second.status_code == 400 and "处理中" in second.text  # type: ignore[attr-defined]

    platform.sandbox_clock.advance(60)

    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.TRADE_SUCCESS
    assert card_rows(platform) == [("paid", None)]
    done = client.get(answer.headers["location"])  # type: ignore[attr-defined]
    assert 'id="return"' in done.text and 'id="processing"' not in done.text
    assert ledger_clean(platform)


def test_lost_request_fails_and_a_trade_closed_meanwhile_keeps_the_money_in_the_wallet(
    platform: Platform, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    card_pay, bank = platform.services["card_pay"], platform.services["bank"]
    lost_trade = open_trade(platform, "C-lost")
    bank.script.append("timeout_lost")
    assert card_pay.pay(lost_trade.trade_no, user_id, card_id, PIN).status == "processing"
    closed_trade = open_trade(platform, "C-closed")
    bank.script.append("timeout")
    late = card_pay.pay(closed_trade.trade_no, user_id, card_id, PIN)
    platform.services["trades"].close(closed_trade.app_id, TradeRef(trade_no=closed_trade.trade_no))

    platform.sandbox_clock.advance(60)

    assert card_rows(platform) == [("failed", "bank_not_received"), ("credited", None)]
    assert card_pay.payment(late.id).status == "credited"
    assert platform.services["trades"].get(lost_trade.trade_no).status is TradeStatus.WAIT_BUYER_PAY
    assert wallet_balance(platform, user_id) == 12_34
    assert ledger_clean(platform)


def test_wrong_password_and_someone_elses_card_never_reach_the_bank(
    platform: Platform, buyer: tuple[int, int]
) -> None:
    user_id, card_id = buyer
    _, other_card = open_user(platform, "13900000102", "李四")
    trade = open_trade(platform)
    card_pay = platform.services["card_pay"]
    assert code_of(lambda: card_pay.pay(trade.trade_no, user_id, card_id, "000000")) == (
        "payment_password_wrong"
    )
    assert code_of(lambda: card_pay.pay(trade.trade_no, user_id, other_card, PIN)) == (
        "card_not_found"
    )
    assert card_rows(platform) == []


def test_a_malformed_funding_choice_is_refused(
    platform: Platform, client: TestClient, buyer: tuple[int, int]
) -> None:
    trade = open_trade(platform)
    cashier_signed_in(client, trade.trade_no, PHONE)
    for funding in ("card:", "card:x1", "coupon"):
        answer = cashier_pay(client, trade.trade_no, funding)
        assert answer.status_code == 400  # type: ignore[attr-defined]
        assert "请选择付款方式" in answer.text  # type: ignore[attr-defined]
    # "credit" is Huabei (tests/integration/test_credit.py): refused without a credit line.
    answer = cashier_pay(client, trade.trade_no, "credit")
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "尚未开通花呗" in answer.text  # type: ignore[attr-defined]
    assert card_rows(platform) == []


def test_card_funding_does_not_count_against_balance_limits(
    platform: Platform, client: TestClient, buyer: tuple[int, int]
) -> None:
    """A class I user may pay at most 1,000 CNY from the balance in a lifetime; card-funded
    payments do not count against it (issue 3), even though the money passes the wallet."""
    user_id, card_id = buyer
    assert platform.services["users"].get(user_id).account_class == "I"
    trade = open_trade(platform, out_trade_no="C-limit", total_fen=1_200_00)
    cashier_signed_in(client, trade.trade_no, PHONE)
    platform.services["bank"].script.append("ok")
    answer = cashier_pay(client, trade.trade_no, f"card:{card_id}")
    assert answer.status_code == 303, answer.text  # type: ignore[attr-defined]
    assert platform.services["trades"].get(trade.trade_no).status is TradeStatus.TRADE_SUCCESS
    limits = platform.services["users"].limits(user_id)
    assert limits.used_fen == 0
    assert ledger_clean(platform)
