"""Paying by code through the gateway: device codes with `alipay.trade.pay` (password-free,
10003 then confirmation, single use, unbinding, limits), order QR codes, static codes, scan."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    call,
    make_buyer,
    make_shop,
    wallet_balance,
)
from tests.reliability.test_double_spend_more import storm
from tests.support.snapshots import rows_of

from paybao.adapters.qr import decode_image
from paybao.bootstrap import Platform
from paybao.domain.paycode import encode_with_locator

MONEY_TABLES = ("trades", "ledger_transfers", "paycode_confirmations", "paycode_day_totals")


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform)


def code_of(platform: Platform, bound: Any, offset_s: int = 0) -> str:
    seed = base64.b64decode(bound.seed_base64)
    now_s = platform.clock.now_us() // 1_000_000 + offset_s
    return encode_with_locator(bound.locator_digits, seed, now_s)


def bind(platform: Platform, user_id: int) -> Any:
    return platform.services["paycodes"].bind_device(user_id, "phone", PAYMENT_PASSWORD)


def pay(client: TestClient, code: str, out_trade_no: str, amount: str) -> dict[str, Any]:
    biz = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": code,
        "subject": "咖啡",
        "total_amount": amount,
    }
    return call(client, "alipay.trade.pay", biz)


def test_password_free_payment_completes_at_once(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=500_00)
    bound = bind(platform, buyer)

    result = pay(client, code_of(platform, bound), "pc-1", "12.34")

    assert (result["code"], result["buyer_user_id"]) == ("10000", f"2088{buyer:012d}")
    assert wallet_balance(platform, buyer) == 500_00 - 12_34
    assert platform.reconcile.run().clean


def test_code_is_single_use_even_when_payment_fails(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=10_00)
    code = code_of(platform, bind(platform, buyer))

    failed = pay(client, code, "pc-2", "50.00")  # more than the balance
    again = pay(client, code, "pc-3", "1.00")

    assert failed["sub_code"] == "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    assert again["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert wallet_balance(platform, buyer) == 10_00


def test_replay_of_same_order_returns_first_result(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    code = code_of(platform, bind(platform, buyer))

    first = pay(client, code, "pc-4", "3.00")
    second = pay(client, code, "pc-4", "3.00")

    assert first["trade_no"] == second["trade_no"] and second["code"] == "10000"
    assert wallet_balance(platform, buyer) == 97_00


def test_a_till_resending_an_unanswered_pay_is_told_it_paid(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    """The same pay (order and device code) sent at once by a till that did not hear back: the
    code is spent by the first, the others wait for its result and answer with it, never
    PAYMENT_AUTH_CODE_INVALID for money that moved. Another order with that code is refused."""
    buyer = make_buyer(platform, balance_fen=100_00)
    code = code_of(platform, bind(platform, buyer))

    answers = storm([lambda: pay(client, code, "pc-race", "7.00") for _ in range(6)])

    assert {(a["code"], a["trade_no"]) for a in answers} == {("10000", answers[0]["trade_no"])}
    assert wallet_balance(platform, buyer) == 93_00
    assert pay(client, code, "pc-other", "1.00")["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert platform.reconcile.run().clean


def test_skew_window_one_step(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    bound = bind(platform, buyer)

    assert pay(client, code_of(platform, bound, -60), "pc-5", "1.00")["code"] == "10000"
    assert pay(client, code_of(platform, bound, 60), "pc-6", "1.00")["code"] == "10000"
    late = pay(client, code_of(platform, bound, -180), "pc-7", "1.00")
    assert late["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"


def test_unbound_device_and_wrong_seed_rejected(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    bound = bind(platform, buyer)
    forged = encode_with_locator(
        bound.locator_digits, b"\x01" * 32, platform.clock.now_us() // 1_000_000
    )
    assert pay(client, forged, "pc-8", "1.00")["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"

    platform.services["paycodes"].unbind_device(buyer, bound.device_id)
    dead = pay(client, code_of(platform, bound), "pc-9", "1.00")

    assert dead["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert wallet_balance(platform, buyer) == 100_00


def test_random_codes_touch_no_account(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    bind(platform, buyer)
    before = rows_of(platform, MONEY_TABLES)
    balances = platform.ledger.balance(platform.services["users"].get(buyer).wallet_account_id)

    for number in range(20):
        code = f"{25 + number % 6}{(number * 7919 + 12345) % 10**16:016d}"
        result = pay(client, code, f"rnd-{number}", "1.00")
        assert result["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"

    assert rows_of(platform, MONEY_TABLES) == before
    after = platform.ledger.balance(platform.services["users"].get(buyer).wallet_account_id)
    assert after == balances


def test_above_password_free_waits_then_buyer_confirms(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=3_000_00)
    bound = bind(platform, buyer)

    result = pay(client, code_of(platform, bound), "pc-10", "1500.00")
    assert (result["code"], result["msg"]) == ("10003", " order success pay inprocess")
    query = call(client, "alipay.trade.query", {"out_trade_no": "pc-10"})
    assert query["trade_status"] == "WAIT_BUYER_PAY"

    paycodes = platform.services["paycodes"]
    [(row, _)] = paycodes.pending(buyer)
    paycodes.confirm(buyer, row.id, PAYMENT_PASSWORD)

    query = call(client, "alipay.trade.query", {"out_trade_no": "pc-10"})
    assert query["trade_status"] == "TRADE_SUCCESS"
    assert wallet_balance(platform, buyer) == 1_500_00
    assert paycodes.pending(buyer) == []


def test_merchant_cancels_waiting_payment(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=3_000_00)
    paycodes = platform.services["paycodes"]
    paycodes.set_password_free_fen(buyer, 0)

    assert pay(client, code_of(platform, bind(platform, buyer)), "pc-11", "1.00")["code"] == "10003"
    cancel = call(client, "alipay.trade.cancel", {"out_trade_no": "pc-11"})

    assert cancel["code"] == "10000"
    assert paycodes.pending(buyer) == []


def test_daily_password_free_cap_falls_back_to_password(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=3_000_00)
    bound = bind(platform, buyer)

    assert pay(client, code_of(platform, bound, -60), "pc-12", "900.00")["code"] == "10000"
    assert pay(client, code_of(platform, bound), "pc-13", "200.00")["code"] == "10003"


def test_failed_attempts_require_password_instead_of_locking(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    bound = bind(platform, buyer)
    now_s = platform.clock.now_us() // 1_000_000
    for attempt in range(10):
        forged = encode_with_locator(bound.locator_digits, bytes([attempt + 1]) * 32, now_s)
        pay(client, forged, f"bad-{attempt}", "1.00")

    result = pay(client, code_of(platform, bound), "pc-14", "1.00")

    assert result["code"] == "10003"  # still usable by the owner, with the password


def test_order_qr_hidden_until_scanned_then_paid(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, phone="13800138001", balance_fen=100_00)
    created = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "qr-9", "total_amount": "8", "subject": "s"},
    )
    url = created["qr_code"]
    assert url.startswith("http://testserver/qr/") and len(url.rsplit("/", 1)[1]) >= 20
    token = url.rsplit("/", 1)[1]
    image = client.get(f"/qr/{token}.png")
    assert decode_image(image.content) == [url]
    again = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "qr-9", "total_amount": "8", "subject": "s"},
    )
    assert again["qr_code"] == url
    hidden = call(client, "alipay.trade.query", {"out_trade_no": "qr-9"})
    assert hidden["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    opened = client.get(f"/qr/{token}", follow_redirects=False)
    assert opened.headers["location"].startswith("/cashier/")
    trade_no = opened.headers["location"].rsplit("/", 1)[1]
    platform.services["trades"].pay_by_buyer(trade_no, buyer, PAYMENT_PASSWORD)

    paid = call(client, "alipay.trade.query", {"out_trade_no": "qr-9"})
    assert paid["trade_status"] == "TRADE_SUCCESS"
    assert client.get(f"/qr/{token}").status_code == 400  # already paid


def test_order_qr_expires_after_two_hours_unscanned(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    created = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "qr-x", "total_amount": "1", "subject": "s"},
    )
    token = created["qr_code"].rsplit("/", 1)[1]
    platform.sandbox_clock.advance(2 * 3600 + 1)

    page = client.get(f"/qr/{token}")

    assert page.status_code == 400 and 'data-code="code_expired"' in page.text
    assert client.get("/qr/not-a-token").status_code == 404


def sign_in(client: TestClient, phone: str) -> str:
    page = client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"phone": phone, "password": LOGIN_PASSWORD, "csrf_token": csrf})
    return csrf


def test_static_merchant_code_pays_and_notifies(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, phone="13800138002", balance_fen=1_000_00)
    codes = platform.services["static_codes"]
    code = codes.static_code_for("merchant", shop.merchant.id)
    assert codes.static_code_for("merchant", shop.merchant.id) == code
    url = codes.static_url(code)
    poster = client.get(f"/c/{code.token}/poster.png")
    assert decode_image(poster.content) == [url]
    csrf = sign_in(client, "13800138002")

    page = client.get(f"/c/{code.token}")
    assert "测试商户" in page.text
    idem = page.text.split('name="idem" value="')[1].split('"')[0]
    form = {"amount": "20.00", "payment_password": PAYMENT_PASSWORD, "idem": idem}
    done = client.post(f"/c/{code.token}", data={**form, "csrf_token": csrf})
    assert done.status_code == 200 and 'id="paid"' in done.text
    twice = client.post(f"/c/{code.token}", data={**form, "csrf_token": csrf})
    assert twice.status_code == 200

    assert wallet_balance(platform, buyer) == 980_00
    [trade] = platform.services["trades"].search(_search(shop))
    assert (trade.product, trade.total_fen, trade.status.value) == (
        "static_code",
        20_00,
        "TRADE_SUCCESS",
    )


def _search(shop: Any) -> Any:
    from paybao.services.trades import TradeSearch

    return TradeSearch(merchant_id=shop.merchant.id)


def test_static_code_daily_limit(platform: Platform, client: TestClient, shop: Any) -> None:
    buyer = make_buyer(platform, phone="13800138003", balance_fen=1_000_00)
    codes = platform.services["static_codes"]
    token = codes.static_code_for("merchant", shop.merchant.id).token

    codes.pay_static(buyer, token, 400_00, PAYMENT_PASSWORD, "k1")
    with pytest.raises(Exception) as refused:
        codes.pay_static(buyer, token, 100_01, PAYMENT_PASSWORD, "k2")

    assert getattr(refused.value, "code", "") == "static_code_daily_limit"
    assert wallet_balance(platform, buyer) == 600_00


def test_personal_code_transfers_to_user(platform: Platform, shop: Any) -> None:
    payer = make_buyer(platform, phone="13800138004", balance_fen=100_00)
    payee = make_buyer(platform, phone="13800138005", balance_fen=0)
    codes = platform.services["static_codes"]
    token = codes.static_code_for("user", payee).token

    payment = codes.pay_static(payer, token, 30_00, PAYMENT_PASSWORD, "k")

    assert payment.transfer_id is not None
    assert wallet_balance(platform, payee) == 30_00


def test_scan_routes_and_errors(platform: Platform, client: TestClient, shop: Any) -> None:
    make_buyer(platform, phone="13800138006", balance_fen=0)
    codes = platform.services["static_codes"]
    static = codes.static_url(codes.static_code_for("merchant", shop.merchant.id))
    created = call(
        client,
        "alipay.trade.precreate",
        {"out_trade_no": "qr-s", "total_amount": "1", "subject": "s"},
    )
    csrf = sign_in(client, "13800138006")

    def scan(text: str) -> Any:
        return client.post(
            "/wallet/scan", data={"text": text, "csrf_token": csrf}, follow_redirects=False
        )

    assert scan(static).headers["location"].startswith("/c/")
    assert scan(created["qr_code"]).headers["location"].startswith("/qr/")
    assert 'data-code="code_malformed"' in scan("hello").text
    assert 'data-code="code_unknown"' in scan("https://example.com/qr/abc").text
    assert 'data-code="code_unknown"' in scan("http://testserver/qr/nope").text
    assert 'data-code="code_is_paycode"' in scan("281234567890123456").text
    image = client.get(created["qr_code"].removeprefix("http://testserver") + ".png").content
    uploaded = client.post(
        "/wallet/scan",
        data={"csrf_token": csrf},
        files={"image": ("qr.png", image, "image/png")},
        follow_redirects=False,
    )
    assert uploaded.headers["location"] == created["qr_code"].removeprefix("http://testserver")
