"""alipay.trade.create with buyer_id: an order for one buyer (the JSAPI flow after "Log in with
paybao"). Only that user pays it: at the cashier, and on every other path that pays an open
trade (payment-code confirmation, static codes, withholding, card pay: all through
`TradeService.pay_in` / `quote_in`); an unknown or frozen buyer is refused with Alipay's codes
and nothing is written; the same out_trade_no with another buyer is ACQ.CONTEXT_INCONSISTENT.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from tests.integration.admin_support import csrf_of
from tests.integration.checkout_installment_support import page_pay
from tests.integration.gateway_support import (
    PAYMENT_PASSWORD,
    call,
    count_rows,
    make_buyer,
    make_shop,
    sign_in_on,
    wallet_balance,
)

from paybao.adapters.alipay.methods import user_wire_id
from paybao.adapters.db.tables.trade import trade_notifications
from paybao.adapters.db.tables.trade import trades as trades_table
from paybao.bootstrap import Platform
from paybao.domain.coupons import NO_COUPONS
from paybao.domain.errors import DomainError
from paybao.domain.trades import TradeStatus
from paybao.services.trades import NewTrade, TradeBuyerNotMatch, TradeRef
from paybao.web.app import create_app

CREATE = "alipay.trade.create"
QUERY = "alipay.trade.query"
PHONE_A = "13900000601"
PHONE_B = "13900000602"


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


@pytest.fixture
def buyers(platform: Platform, shop: Any) -> tuple[int, int]:
    return make_buyer(platform, phone=PHONE_A), make_buyer(platform, phone=PHONE_B)


def _order(out_trade_no: str, buyer_id: int | None = None, **extra: Any) -> dict[str, Any]:
    biz: dict[str, Any] = {"out_trade_no": out_trade_no, "total_amount": "12.00", "subject": "S"}
    if buyer_id is not None:
        biz["buyer_id"] = user_wire_id(buyer_id)
    biz.update(extra)
    return biz


def _refused(work: Any) -> str:
    try:
        work()
    except DomainError as error:
        return error.code
    raise AssertionError("not refused")


def _other_client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform, run_worker=False))


def _pay_from_balance(client: TestClient, trade_no: str, csrf_token: str) -> Response:
    """The cashier's pay form, from the balance, as the signed-in browser posts it."""
    return client.post(
        f"/cashier/{trade_no}/pay",
        data={
            "csrf_token": csrf_token,
            "funding": "balance",
            "payment_password": PAYMENT_PASSWORD,
        },
        follow_redirects=False,
    )


def test_designated_buyer_pays_at_the_cashier_and_query_names_them(
    platform: Platform, client: TestClient, buyers: tuple[int, int]
) -> None:
    buyer_a, _ = buyers
    created = call(client, CREATE, _order("D-1", buyer_a))
    assert created["code"] == "10000"
    trade_no = created["trade_no"]

    # Before payment: the order is already the buyer's (JSAPI), with no amounts paid.
    before = call(client, QUERY, {"out_trade_no": "D-1"})
    assert (before["trade_status"], before["buyer_user_id"]) == (
        "WAIT_BUYER_PAY",
        user_wire_id(buyer_a),
    )
    assert before["buyer_logon_id"].startswith("139") and before["buyer_pay_amount"] == "0.00"

    sign_in_on(client, f"/cashier/{trade_no}", PHONE_A)
    page = client.get(f"/cashier/{trade_no}").text
    assert 'id="pay"' in page and 'id="other-buyer"' not in page
    answer = _pay_from_balance(client, trade_no, csrf_of(page))
    assert answer.status_code in (200, 303), answer.text

    after = call(client, QUERY, {"out_trade_no": "D-1"})
    assert (after["trade_status"], after["buyer_user_id"]) == (
        "TRADE_SUCCESS",
        user_wire_id(buyer_a),
    )
    assert after["buyer_pay_amount"] == "12.00"
    assert wallet_balance(platform, buyer_a) == 100_00 - 12_00
    # The notification is the one any paid trade gets: the same fields, naming the buyer.
    designated = _notification_fields(platform, trade_no)
    plain_no = page_pay(client, "D-1-plain", "12.00")
    platform.services["trades"].pay_by_buyer(plain_no, buyer_a, PAYMENT_PASSWORD)
    plain = _notification_fields(platform, plain_no)
    assert sorted(designated) == sorted(plain)
    assert (designated["buyer_id"], designated["trade_status"]) == (
        user_wire_id(buyer_a),
        "TRADE_SUCCESS",
    )


def _notification_fields(platform: Platform, trade_no: str) -> dict[str, str]:
    """The form of the trade's one notification, as the notifier would send it."""
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(trade_notifications.c.snapshot)
            .join(trades_table, trades_table.c.id == trade_notifications.c.trade_id)
            .where(trades_table.c.trade_no == trade_no)
        ).all()
    assert len(rows) == 1
    forms = platform.services["notification_forms"]
    return dict(forms.fields(json.loads(rows[0].snapshot), "n1", platform.clock.now_us(), "utf-8"))


def test_another_user_is_refused_at_the_cashier_and_nothing_is_paid(
    platform: Platform, client: TestClient, buyers: tuple[int, int]
) -> None:
    buyer_a, buyer_b = buyers
    trade_no = call(client, CREATE, _order("D-2", buyer_a))["trade_no"]

    sign_in_on(client, f"/cashier/{trade_no}", PHONE_B)
    page = client.get(f"/cashier/{trade_no}")
    assert page.status_code == 200
    assert 'id="other-buyer"' in page.text and 'id="pay"' not in page.text
    assert "This order can only be paid by the buyer it was made for" in page.text
    # A pay form posted anyway (a crafted request, with the session's CSRF token from an order
    # B may pay): refused, nothing moves.
    open_no = page_pay(client, "D-2-open", "12.00")
    token = csrf_of(client.get(f"/cashier/{open_no}").text)
    answer = _pay_from_balance(client, trade_no, token)
    assert answer.status_code == 403
    assert "交易买家不匹配" in answer.text
    trade = platform.services["trades"].get(trade_no)
    assert trade.status is TradeStatus.WAIT_BUYER_PAY and trade.buyer_user_id is None
    assert wallet_balance(platform, buyer_b) == 100_00
    assert count_rows(platform, "trade_notifications") == 0

    # The designated buyer, in another browser, still pays it.
    with _other_client(platform) as other:
        sign_in_on(other, f"/cashier/{trade_no}", PHONE_A)
        form = other.get(f"/cashier/{trade_no}").text
        paid = _pay_from_balance(other, trade_no, csrf_of(form))
        assert paid.status_code in (200, 303)
    assert platform.services["trades"].get(trade_no).buyer_user_id == buyer_a


def test_every_other_pay_path_refuses_another_user(
    platform: Platform, client: TestClient, buyers: tuple[int, int]
) -> None:
    buyer_a, buyer_b = buyers
    trades = platform.services["trades"]
    trade_no = call(client, CREATE, _order("D-3", buyer_a))["trade_no"]
    trade = trades.get(trade_no)
    assert trade.designated_buyer_id == buyer_a

    # The cashier's service call (balance or credit, with the password).
    refused = _refused(lambda: trades.pay_by_buyer(trade_no, buyer_b, PAYMENT_PASSWORD))
    assert refused == "trade_buyer_not_match"
    # pay_in: payment-code confirmation, static codes, transit, withholding, pre-authorisation.
    assert _refused(lambda: platform.db.run(lambda tx: trades.pay_in(tx, trade, buyer_b))) == (
        "trade_buyer_not_match"
    )
    # quote_in: what a card payment prices before its bank debit (so no debit happens).
    assert _refused(lambda: trades.quote(trade_no, buyer_b, NO_COUPONS)) == "trade_buyer_not_match"
    card_rows = count_rows(platform, "card_payments")
    card_pay = platform.services["card_pay"]
    refused = _refused(lambda: card_pay.pay(trade_no, buyer_b, 1, PAYMENT_PASSWORD))
    assert refused == "trade_buyer_not_match"
    assert count_rows(platform, "card_payments") == card_rows
    # A till scanning B's payment code for the same order number: another order (a pay, not
    # a create), so Alipay's idempotency rule refuses it first.
    code = trades.issue_auth_code(buyer_b)
    till = call(
        client,
        "alipay.trade.pay",
        {**_order("D-3"), "scene": "bar_code", "auth_code": code},
    )
    assert till["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"

    unpaid = trades.get(trade_no)
    assert unpaid.status is TradeStatus.WAIT_BUYER_PAY and unpaid.paid_at_us is None
    assert wallet_balance(platform, buyer_b) == 100_00
    # The designated buyer pays through the same service call.
    paid = trades.pay_by_buyer(trade_no, buyer_a, PAYMENT_PASSWORD)
    assert paid.buyer_user_id == buyer_a and paid.status is TradeStatus.TRADE_SUCCESS


def test_wrong_payer_is_refused_before_the_password_counts(
    platform: Platform, buyers: tuple[int, int], client: TestClient
) -> None:
    buyer_a, buyer_b = buyers
    trades = platform.services["trades"]
    trade_no = call(client, CREATE, _order("D-4", buyer_a))["trade_no"]
    for _ in range(6):  # more than the five wrong tries that lock the payment password
        assert _refused(lambda: trades.pay_by_buyer(trade_no, buyer_b, "000000")) == (
            "trade_buyer_not_match"
        )
    other = page_pay(client, "D-4b", "12.00")
    assert trades.pay_by_buyer(other, buyer_b, PAYMENT_PASSWORD).buyer_user_id == buyer_b


def test_unknown_malformed_and_frozen_buyers_are_refused_and_nothing_is_written(
    platform: Platform, client: TestClient, buyers: tuple[int, int]
) -> None:
    buyer_a, _ = buyers
    before = count_rows(platform, "trades")
    unknown = call(client, CREATE, _order("D-5") | {"buyer_id": "2088099999999999"})
    assert (unknown["code"], unknown["sub_code"], unknown["sub_msg"]) == (
        "40004",
        "ACQ.BUYER_NOT_EXIST",
        "买家不存在",
    )
    malformed = call(client, CREATE, _order("D-5") | {"buyer_id": "13900000601"})
    assert (malformed["code"], malformed["sub_code"]) == ("40004", "ACQ.INVALID_PARAMETER")
    both = call(
        client,
        CREATE,
        _order("D-5", buyer_a) | {"buyer_open_id": user_wire_id(buyer_a + 1)},
    )
    assert both["sub_code"] == "ACQ.INVALID_PARAMETER"

    users = platform.services["users"]
    platform.db.run(lambda tx: users.set_status_in(tx, buyer_a, "frozen"))
    frozen = call(client, CREATE, _order("D-5", buyer_a))
    assert (frozen["sub_code"], frozen["sub_msg"]) == (
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
        "买家状态非法",
    )
    assert count_rows(platform, "trades") == before
    assert call(client, QUERY, {"out_trade_no": "D-5"})["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_buyer_open_id_is_the_same_id(
    platform: Platform, client: TestClient, buyers: tuple[int, int]
) -> None:
    buyer_a, _ = buyers
    biz = _order("D-6") | {"buyer_open_id": user_wire_id(buyer_a)}
    created = call(client, CREATE, biz)
    assert created["code"] == "10000"
    trade = platform.services["trades"].get(created["trade_no"])
    assert trade.designated_buyer_id == buyer_a
    # buyer_id and buyer_open_id naming the same user agree; buyer_id alone is the same order.
    same = call(client, CREATE, _order("D-6", buyer_a) | {"buyer_open_id": user_wire_id(buyer_a)})
    assert same["trade_no"] == created["trade_no"]


def test_repeat_is_idempotent_and_another_buyer_is_inconsistent(
    platform: Platform, client: TestClient, shop: Any, buyers: tuple[int, int]
) -> None:
    buyer_a, buyer_b = buyers
    first = call(client, CREATE, _order("D-7", buyer_a))
    again = call(client, CREATE, _order("D-7", buyer_a))
    assert again["code"] == "10000" and again["trade_no"] == first["trade_no"]
    rows = count_rows(platform, "trades")

    other = call(client, CREATE, _order("D-7", buyer_b))
    assert (other["code"], other["sub_code"]) == ("40004", "ACQ.CONTEXT_INCONSISTENT")
    nobody = call(client, CREATE, _order("D-7"))
    assert (nobody["sub_code"], nobody["sub_msg"]) == (
        "ACQ.INVALID_PARAMETER",
        "参数无效:买家不能为空",
    )
    # An order made for anyone (the cashier's) cannot be taken over by naming a buyer either.
    page_pay(client, "D-8", "12.00")
    late = call(client, CREATE, _order("D-8", buyer_a))
    assert late["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert count_rows(platform, "trades") == rows + 1
    trade = platform.services["trades"].find(shop.app.app_id, TradeRef(out_trade_no="D-7"))
    assert trade.designated_buyer_id == buyer_a


def test_the_merchant_owner_cannot_be_the_designated_buyer(platform: Platform) -> None:
    owner = make_buyer(platform, phone="13900000609")
    shop = make_shop(platform, app_id="2021000000000778", owner_user_id=owner)
    new = NewTrade(
        app_id=shop.app.app_id,
        out_trade_no="D-9",
        product="create",
        subject="S",
        total_fen=1_00,
        fingerprint="f",
        designated_buyer_id=owner,
    )
    assert _refused(lambda: platform.services["trades"].create(new)) == "buyer_seller_equal"
    assert count_rows(platform, "trades") == 0


def test_service_refusal_type(platform: Platform, shop: Any, buyers: tuple[int, int]) -> None:
    buyer_a, buyer_b = buyers
    new = NewTrade(
        app_id=shop.app.app_id,
        out_trade_no="D-10",
        product="create",
        subject="S",
        total_fen=1_00,
        fingerprint="f",
        designated_buyer_id=buyer_a,
    )
    trades = platform.services["trades"]
    trade = trades.create(new)
    with pytest.raises(TradeBuyerNotMatch):
        trades.pay_by_buyer(trade.trade_no, buyer_b, PAYMENT_PASSWORD)
    assert trades.create(new).trade_no == trade.trade_no
