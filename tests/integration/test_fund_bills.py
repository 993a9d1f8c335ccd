"""fund_bill_list names the channel that paid, with its amount: ALIPAYACCOUNT for the wallet
balance, BANKCARD for a bound card (the cashier's quick-pay debit), and on a BANKCARD bill the
card's type (fund_type DEBIT_CARD | CREDIT_CARD, as Alipay's TradeFundBill). Snake case in the
JSON answers of pay / query (and refund_detail_item_list of refund / refund query), camelCase in
the notification's JSON string field (protocol §3: fundChannel, fundType). Trades record their
funding (`trades.funding`), and the migration fills it in for trades paid before."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from tests.integration.card_support import CardBuyer, card_buyer, card_paid
from tests.integration.gateway_support import Shop, call, make_buyer, make_shop
from tests.integration.test_migrations import _empty_database_url

from paybao.adapters.alipay.wire import verify_notification
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import upgrade
from paybao.adapters.db.tables.trade import trade_notifications
from paybao.adapters.db.tables.wallet import user_cards
from paybao.bootstrap import Platform
from paybao.domain.trades import Funding
from paybao.services.trades import NewTrade


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


@pytest.fixture
def buyer(platform: Platform) -> CardBuyer:
    return card_buyer(platform)


def notification_forms(platform: Platform) -> list[dict[str, str]]:
    """Every notification written so far, rendered and signed as it would be sent."""
    forms = platform.services["notification_forms"]
    public_pem = platform.services["platform_key"].public_pem
    with platform.engine.connect() as connection:
        snapshots = list(
            connection.execute(
                select(trade_notifications.c.snapshot).order_by(trade_notifications.c.id)
            ).scalars()
        )
    rendered = []
    for snapshot in snapshots:
        body, _ = forms.render(json.loads(snapshot), "n1", platform.clock.now_us())
        form = dict(urllib.parse.parse_qsl(body.decode()))
        assert verify_notification(form, public_pem)
        rendered.append(form)
    return rendered


def refund_query(client: TestClient, trade_no: str, request_no: str) -> dict[str, Any]:
    biz = {
        "trade_no": trade_no,
        "out_request_no": request_no,
        "query_options": ["refund_detail_item_list"],
    }
    return call(client, "alipay.trade.fastpay.refund.query", biz)


def test_a_balance_payment_names_alipayaccount_everywhere(
    platform: Platform, client: TestClient, shop: Shop
) -> None:
    buyer = make_buyer(platform, balance_fen=50_00)
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {"out_trade_no": "B-1", "auth_code": code, "subject": "余额", "total_amount": "20.00"}
    paid = call(client, "alipay.trade.pay", biz)
    assert paid["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "20.00"}]
    assert platform.services["trades"].get(paid["trade_no"]).funding is Funding.BALANCE
    query = call(client, "alipay.trade.query", {"out_trade_no": "B-1"})
    assert query["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "20.00"}]
    refund = call(
        client,
        "alipay.trade.refund",
        {"out_trade_no": "B-1", "refund_amount": "5.00", "out_request_no": "r1"},
    )
    assert refund["refund_detail_item_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "5.00"}
    ]
    assert refund_query(client, paid["trade_no"], "r1")["refund_detail_item_list"] == [
        {"fund_channel": "ALIPAYACCOUNT", "amount": "5.00"}
    ]
    forms = notification_forms(platform)
    assert [form["fund_bill_list"] for form in forms] == [
        '[{"amount":"20.00","fundChannel":"ALIPAYACCOUNT"}]'
    ] * 2


@pytest.mark.parametrize(("card_type", "fund_type"), [("DC", "DEBIT_CARD"), ("CC", "CREDIT_CARD")])
def test_a_card_payment_names_bankcard_and_the_card_type_everywhere(
    platform: Platform,
    client: TestClient,
    shop: Shop,
    buyer: CardBuyer,
    card_type: str,
    fund_type: str,
) -> None:
    # Wallets bind debit cards only; a credit card's row says CC (domain.bins.CardType).
    with platform.engine.begin() as connection:
        connection.execute(
            update(user_cards).where(user_cards.c.id == buyer[1]).values(card_type=card_type)
        )
    trade = card_paid(platform, buyer, total_fen=12_34)
    bankcard = {"fund_channel": "BANKCARD", "fund_type": fund_type}
    query = call(client, "alipay.trade.query", {"trade_no": trade.trade_no})
    assert query["fund_bill_list"] == [{**bankcard, "amount": "12.34"}]
    refund = call(client, "alipay.trade.refund", {"trade_no": trade.trade_no, "refund_amount": "1"})
    assert refund["refund_detail_item_list"] == [{**bankcard, "amount": "1.00"}]
    assert refund_query(client, trade.trade_no, trade.trade_no)["refund_detail_item_list"] == [
        {**bankcard, "amount": "1.00"}
    ]
    forms = notification_forms(platform)
    assert [(form["trade_status"], form.get("refund_fee")) for form in forms] == [
        ("TRADE_SUCCESS", None),
        ("TRADE_SUCCESS", "1.00"),
    ]
    for form in forms:  # a JSON string with camelCase keys, as Alipay sends it (§3)
        assert form["fund_bill_list"] == (
            f'[{{"amount":"12.34","fundChannel":"BANKCARD","fundType":"{fund_type}"}}]'
        )


def test_a_pay_answer_of_a_card_funded_trade_names_the_card_type(
    platform: Platform, shop: Shop, buyer: CardBuyer
) -> None:
    """alipay.trade.pay answers with the same fund_bill_list as query (`_paid_fields`)."""
    trade = card_paid(platform, buyer, total_fen=5_00)
    fields = platform.services["alipay_methods"]._paid_fields(trade)
    assert fields["fund_bill_list"] == [
        {"fund_channel": "BANKCARD", "amount": "5.00", "fund_type": "DEBIT_CARD"}
    ]


def test_a_card_funded_trade_without_its_card_payment_names_no_card_type(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    """fund_type only when the paying card is known: never a guess."""
    trade = card_paid(platform, buyer, total_fen=2_00)
    with platform.engine.begin() as connection:
        connection.execute(text("UPDATE card_payments SET status = 'credited'"))
    query = call(client, "alipay.trade.query", {"trade_no": trade.trade_no})
    assert query["fund_bill_list"] == [{"fund_channel": "BANKCARD", "amount": "2.00"}]


def test_refund_query_lists_channels_only_when_asked(
    platform: Platform, client: TestClient, shop: Shop, buyer: CardBuyer
) -> None:
    trade = card_paid(platform, buyer, total_fen=3_00)
    call(client, "alipay.trade.refund", {"trade_no": trade.trade_no, "refund_amount": "1.00"})
    plain = call(
        client,
        "alipay.trade.fastpay.refund.query",
        {"trade_no": trade.trade_no, "out_request_no": trade.trade_no},
    )
    assert plain["refund_amount"] == "1.00" and "refund_detail_item_list" not in plain
    # The trade's fund_bill_list is its payment's, refunded or not.
    after = call(client, "alipay.trade.query", {"trade_no": trade.trade_no})
    assert after["fund_bill_list"] == [
        {"fund_channel": "BANKCARD", "amount": "3.00", "fund_type": "DEBIT_CARD"}
    ]


def test_a_notification_snapshot_from_before_funding_was_recorded_says_alipayaccount(
    platform: Platform, shop: Shop
) -> None:
    buyer = make_buyer(platform)
    code = platform.services["trades"].issue_auth_code(buyer)
    trades = platform.services["trades"]
    new = NewTrade(shop.app.app_id, "O-1", "pay", "旧快照", 1_00, "fp", notify_url="http://x/n")
    trades.pay_with_code(new, code)
    with platform.engine.connect() as connection:
        snapshot = json.loads(
            connection.execute(select(trade_notifications.c.snapshot)).scalar_one()
        )
    assert snapshot.pop("funding") == "balance"
    fields = platform.services["notification_forms"].fields(snapshot, "n1", 0, "utf-8")
    assert fields["fund_bill_list"] == '[{"amount":"1.00","fundChannel":"ALIPAYACCOUNT"}]'


def test_the_migration_records_how_earlier_trades_were_paid(tmp_path: Path) -> None:
    engine = make_engine(_empty_database_url(tmp_path))
    for revision in ("0010_merchant_signups", "0007_merchant_login"):
        upgrade(engine, revision)
    common = {
        "app_id": "2021000000000001",
        "merchant_id": 1,
        "product": "create",
        "subject": "s",
        "total_fen": 100,
        "fingerprint": "f",
        "created_at_us": 1,
        "expires_at_us": 2,
    }
    rows = [
        {"trade_no": "T1", "out_trade_no": "o1", "status": "TRADE_SUCCESS", "paid_at_us": 2},
        {"trade_no": "T2", "out_trade_no": "o2", "status": "TRADE_SUCCESS", "paid_at_us": 2},
        {"trade_no": "T3", "out_trade_no": "o3", "status": "WAIT_BUYER_PAY", "paid_at_us": None},
    ]
    with engine.begin() as connection:
        for row in rows:
            connection.execute(
                text(
                    "INSERT INTO trades (trade_no, out_trade_no, status, paid_at_us, app_id,"
                    " merchant_id, product, subject, total_fen, fingerprint, created_at_us,"
                    " expires_at_us) VALUES (:trade_no, :out_trade_no, :status, :paid_at_us,"
                    " :app_id, :merchant_id, :product, :subject, :total_fen, :fingerprint,"
                    " :created_at_us, :expires_at_us)"
                ),
                {**common, **row},
            )
        connection.execute(
            text(
                "INSERT INTO card_payments (trade_no, user_id, card_id, amount_fen, status,"
                " created_at_us) VALUES ('T2', 1, 1, 100, 'paid', 1)"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT trade_no, funding FROM trades ORDER BY trade_no"))
        assert [tuple(row) for row in found] == [("T1", "balance"), ("T2", "card"), ("T3", None)]
    engine.dispose()
