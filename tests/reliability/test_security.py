"""Security checks: tenants are isolated, replays are refused, passwords lock, logs keep secrets.

- A merchant with its own valid keys cannot query, refund, close or cancel another merchant's
  trade: the gateway answers as if the trade did not exist, and nothing changes.
- A user cannot cancel, read or spend through another user's transfer or card, by the REST
  API or the pages, and a forged session cookie signs nobody in.
- A gateway request stamped outside the timestamp window is refused; the same request
  replayed inside it is idempotent (one trade, one debit).
- Login and payment passwords lock after the allowed wrong tries (REST and cashier).
- Nothing logged at DEBUG during registration, card binding, top-up, gateway pay and refund
  holds a password, payment password, private key, full ID or card number, or a token.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paybao.adapters.alipay.methods import user_wire_id
from paybao.adapters.alipay.platform_key import PRIVATE_KEY_FILE
from paybao.adapters.alipay.wire import TIMESTAMP_FORMAT
from paybao.bootstrap import Platform
from paybao.services.merchants import NewMerchant
from paybao.settings import Settings
from tests.integration.gateway_support import (
    LOGIN_PASSWORD as BUYER_LOGIN_PASSWORD,
)
from tests.integration.gateway_support import (
    PAYMENT_PASSWORD as BUYER_PAYMENT_PASSWORD,
)
from tests.integration.gateway_support import (
    app_keys,
    call,
    make_buyer,
    make_shop,
    other_keys,
    parse_verified,
    signed_params,
    wallet_balance,
)
from tests.reliability.hostile_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    all_logs_at_debug,
    register_user,
    snapshot,
    top_up,
    wallet_post,
)

OTHER_APP_ID = "2021000000000888"


@pytest.fixture
def shop(platform: Platform) -> Any:
    return make_shop(platform, notify_url="http://127.0.0.1:9/notify")


def pay(client: TestClient, platform: Platform, buyer: int, out_trade_no: str, amount: str) -> Any:
    biz = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "咖啡",
        "total_amount": amount,
    }
    return call(client, "alipay.trade.pay", biz)


# Merchants are isolated ------------------------------------------------------------------


def test_merchant_cannot_touch_another_merchants_trade(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    paid = pay(client, platform, buyer, "a-1", "10.00")
    assert paid["code"] == "10000"
    biz = {"out_trade_no": "a-2", "total_amount": "1", "subject": "s"}
    call(client, "alipay.trade.create", {**biz, "buyer_id": user_wire_id(buyer)})
    platform.services["merchants"].create(
        NewMerchant(name="另一商户", notify_url=None, app_id=OTHER_APP_ID),
        other_keys().public_pem_spki,
    )
    before = snapshot(platform)

    def as_other(method: str, biz: dict[str, Any]) -> dict[str, Any]:
        return call(client, method, biz, keys=other_keys(), app_id=OTHER_APP_ID)

    refs: list[dict[str, Any]] = [
        {"out_trade_no": "a-1"},
        {"trade_no": paid["trade_no"]},
        {"out_trade_no": "a-2"},
    ]
    for ref in refs:
        answers = {
            "query": as_other("alipay.trade.query", ref),
            "refund": as_other(
                "alipay.trade.refund", {**ref, "refund_amount": "1.00", "out_request_no": "x"}
            ),
            "close": as_other("alipay.trade.close", ref),
            "cancel": as_other("alipay.trade.cancel", ref),
            "refund query": as_other(
                "alipay.trade.fastpay.refund.query", {**ref, "out_request_no": "x"}
            ),
        }
        for name, answer in answers.items():
            assert (answer["code"], answer.get("sub_code")) == ("40004", "ACQ.TRADE_NOT_EXIST"), (
                name,
                ref,
                answer,
            )
            assert "buyer_logon_id" not in answer and "total_amount" not in answer, answer

    assert before.differences(snapshot(platform)) == []
    mine = call(client, "alipay.trade.query", {"out_trade_no": "a-1"})
    assert (mine["trade_status"], mine["total_amount"]) == ("TRADE_SUCCESS", "10.00")
    assert wallet_balance(platform, buyer) == 90_00


# Users are isolated ----------------------------------------------------------------------


def page_csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_user_cannot_reach_another_users_money_or_statement(
    platform: Platform, client: TestClient
) -> None:
    alice = register_user(client, platform, "13911110001", "王小明")
    bob = register_user(client, platform, "13911110002", "李四")
    assert top_up(client, alice, 300_00).json()["status"] == "succeeded"
    delayed = wallet_post(
        client,
        "/transfers",
        {
            "payee_phone": bob.phone,
            "amount_fen": 123_45,
            "payment_password": PAYMENT_PASSWORD,
            "arrival": "delay_24h",
        },
        alice.token,
    )
    assert delayed.status_code == 200, delayed.text
    transfer_id = delayed.json()["id"]
    before = snapshot(platform)

    # REST: Bob's statement is Bob's; Alice's transfer, card and card binding are not his.
    statement = client.get("/api/v1/wallet/statement", headers=bob.headers).json()
    assert statement["entries"] == []
    cancel = wallet_post(client, f"/transfers/{transfer_id}/cancel", {}, bob.token)
    assert cancel.status_code == 404, cancel.text
    spend = wallet_post(
        client,
        "/topups",
        {"card_id": alice.card_id, "amount_fen": 100, "payment_password": PAYMENT_PASSWORD},
        bob.token,
    )
    assert spend.status_code in (403, 404), spend.text
    withdraw = wallet_post(
        client,
        "/withdrawals",
        {"card_id": alice.card_id, "amount_fen": 100, "payment_password": PAYMENT_PASSWORD},
        bob.token,
    )
    assert withdraw.status_code in (403, 404), withdraw.text

    # Pages: signed in as Bob, Alice's statement and transfer stay hidden and uncancellable.
    client.cookies.clear()
    csrf = page_csrf(client, "/login")
    signed_in = client.post(
        "/login",
        data={"phone": bob.phone, "password": LOGIN_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text[:300]
    page = client.get("/wallet/statement")
    assert page.status_code == 200
    assert "123.45" not in page.text and "300.00" not in page.text
    csrf = page_csrf(client, "/wallet")
    cancelled = client.post(
        f"/wallet/transfer/{transfer_id}/cancel",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert cancelled.status_code in (403, 404), cancelled.status_code

    # A session cookie forged for Alice's id (Bob's signature, Alice's id) signs nobody in.
    session = client.cookies.get("paybao_session") or ""
    kind, _bob_id, expires, signature = session.split(".")
    forged = f"{kind}.{alice_id(client, alice)}.{expires}.{signature}"
    client.cookies.clear()
    client.cookies.set("paybao_session", forged)
    me = client.get("/api/v1/wallet/me")
    assert me.status_code == 401, me.text
    client.cookies.clear()

    # The refused REST calls keep their Idempotency-Key answers (by design); nothing else moved.
    changed = before.differences(snapshot(platform))
    assert [line for line in changed if not line.startswith("idempotency_keys:")] == []
    pending = client.get("/api/v1/wallet/me", headers=alice.headers).json()
    assert pending["available_fen"] == 300_00 - 123_45  # still held for Bob, not cancelled


def alice_id(client: TestClient, user: Any) -> int:
    return int(client.get("/api/v1/wallet/me", headers=user.headers).json()["user"]["id"])


# Replays ---------------------------------------------------------------------------------


def stamped(minutes: int) -> str:
    moment = datetime.now() + timedelta(minutes=minutes)  # noqa: DTZ005 (as the SDKs stamp)
    return moment.strftime(TIMESTAMP_FORMAT)


@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24])
def test_request_outside_timestamp_window_is_refused(
    platform: Platform, client: TestClient, shop: Any, minutes: int
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    biz = {
        "out_trade_no": "late-1",
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "s",
        "total_amount": "1.00",
    }
    before = snapshot(platform)

    answer = call(client, "alipay.trade.pay", biz, timestamp=stamped(minutes))

    assert answer["sub_code"] == "isv.invalid-timestamp", answer
    assert before.differences(snapshot(platform)) == []
    assert wallet_balance(platform, buyer) == 100_00


def test_replay_inside_window_is_idempotent(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    buyer = make_buyer(platform, balance_fen=100_00)
    biz = {
        "out_trade_no": "replay-1",
        "scene": "bar_code",
        "auth_code": platform.services["trades"].issue_auth_code(buyer),
        "subject": "s",
        "total_amount": "7.00",
    }
    params = signed_params("alipay.trade.pay", biz, timestamp=stamped(-10))
    first = client.post("/gateway.do", data=params)
    after_first = snapshot(platform)
    replayed = [client.post("/gateway.do", data=params) for _ in range(3)]
    get_replay = client.get("/gateway.do", params=params)

    answers = [parse_verified(r.content, platform, "alipay.trade.pay") for r in [first, *replayed]]
    assert answers[0]["code"] == "10000"
    assert all(answer == answers[0] for answer in answers), answers
    assert parse_verified(get_replay.content, platform, "alipay.trade.pay") == answers[0]
    assert after_first.differences(snapshot(platform)) == []
    assert wallet_balance(platform, buyer) == 93_00


# Passwords lock ----------------------------------------------------------------------------


def test_rest_login_locks_after_wrong_passwords(platform: Platform, client: TestClient) -> None:
    make_buyer(platform, phone="13800138001")
    tries_max = platform.services["users"].policy.login_failures_max
    body = {"phone": "13800138001", "login_password": "wrong-password"}
    wrong = [client.post("/api/v1/wallet/sessions", json=body) for _ in range(tries_max)]
    right = client.post(
        "/api/v1/wallet/sessions",
        json={"phone": "13800138001", "login_password": BUYER_LOGIN_PASSWORD},
    )

    assert {r.json()["error"]["code"] for r in wrong} == {"bad_credentials"}
    assert right.status_code == 429, right.text
    assert right.json()["error"]["code"] == "login_locked"


def test_rest_payment_password_locks(platform: Platform, client: TestClient) -> None:
    user = register_user(client, platform, "13911110003", "张三")
    assert top_up(client, user, 50_00).status_code == 200

    def top_up_with(pin: str) -> Any:
        body = {"card_id": user.card_id, "amount_fen": 10_00, "payment_password": pin}
        return wallet_post(client, "/topups", body, user.token)

    codes = [top_up_with("000000").json()["error"]["code"] for _ in range(5)]
    locked = top_up_with(PAYMENT_PASSWORD)

    assert codes[:4] == ["payment_password_wrong"] * 4
    assert codes[4] in ("payment_password_wrong", "payment_password_locked")
    assert locked.json()["error"]["code"] == "payment_password_locked", locked.text
    me = client.get("/api/v1/wallet/me", headers=user.headers).json()
    assert me["balance_fen"] == 50_00


def test_cashier_login_and_payment_password_lock(
    platform: Platform, client: TestClient, shop: Any
) -> None:
    payer = make_buyer(platform, phone="13800138002", balance_fen=100_00)
    victim = make_buyer(platform, phone="13800138003", balance_fen=100_00)
    biz = {"out_trade_no": "k-1", "total_amount": "9", "subject": "s"}
    created = call(client, "alipay.trade.create", {**biz, "buyer_id": user_wire_id(payer)})
    cashier = f"/cashier/{created['trade_no']}"
    tries_max = platform.services["users"].policy.login_failures_max

    def login(phone: str, password: str) -> Any:
        csrf = page_csrf(client, cashier)
        form = {"phone": phone, "password": password, "csrf_token": csrf}
        return client.post(f"{cashier}/login", data=form, follow_redirects=False)

    for _ in range(tries_max):
        assert "手机号或密码错误" in login("13800138003", "wrong-password").text
    locked_out = login("13800138003", BUYER_LOGIN_PASSWORD)
    assert locked_out.status_code == 400
    assert "登录失败次数过多" in locked_out.text

    assert login("13800138002", BUYER_LOGIN_PASSWORD).status_code == 303

    def pay_with(pin: str) -> Any:
        csrf = page_csrf(client, cashier)
        form = {"payment_password": pin, "csrf_token": csrf}
        return client.post(f"{cashier}/pay", data=form, follow_redirects=False)

    for _ in range(4):
        assert "支付密码错误" in pay_with("000000").text
    pay_with("000000")
    refused = pay_with(BUYER_PAYMENT_PASSWORD)
    assert refused.status_code == 400
    assert "支付密码错误次数过多" in refused.text
    query = call(client, "alipay.trade.query", {"out_trade_no": "k-1"})
    assert query["trade_status"] == "WAIT_BUYER_PAY"
    assert wallet_balance(platform, victim) == 100_00


# Secrets stay out of the logs ----------------------------------------------------------------


def pem_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_no_secret_in_logs(platform: Platform, client: TestClient, settings: Settings) -> None:
    shop = make_shop(platform, notify_url="http://127.0.0.1:9/notify")
    with all_logs_at_debug() as logged:
        user = register_user(client, platform, "13911110009", "王小明")
        assert top_up(client, user, 200_00).json()["status"] == "succeeded"
        sessions = client.post(
            "/api/v1/wallet/sessions", json={"phone": user.phone, "login_password": LOGIN_PASSWORD}
        )
        user_id = alice_id(client, user)
        code = platform.services["trades"].issue_auth_code(user_id)
        biz = {"out_trade_no": "log-1", "scene": "bar_code", "auth_code": code}
        paid = call(client, "alipay.trade.pay", {**biz, "subject": "s", "total_amount": "50.00"})
        refund = {"out_trade_no": "log-1", "refund_amount": "20.00", "out_request_no": "r1"}
        refunded = call(client, "alipay.trade.refund", refund)
        failed_login = client.post(
            "/api/v1/wallet/sessions", json={"phone": user.phone, "login_password": "Wrong#Pass1"}
        )
    assert paid["code"] == "10000" and refunded["code"] == "10000"
    assert failed_login.status_code == 401

    platform_pem = (Path(settings.data_dir) / PRIVATE_KEY_FILE).read_text()
    secrets = {
        "login password": LOGIN_PASSWORD,
        "wrong login password": "Wrong#Pass1",
        "payment password": PAYMENT_PASSWORD,
        "full ID number": user.id_number,
        "full card number": user.card_number,
        "bearer token (registration)": user.token,
        "bearer token (sign-in)": sessions.json()["token"],
        "admin token": settings.admin_token,
        **{
            f"merchant private key line {i}": line
            for i, line in enumerate(pem_lines(app_keys().private_pem_pkcs1))
        },
        **{
            f"platform private key line {i}": line for i, line in enumerate(pem_lines(platform_pem))
        },
    }
    assert shop.app.app_id and logged, "the flow logged nothing: is capture working?"
    text = "\n".join(logged)
    leaked = [name for name, secret in secrets.items() if secret and secret in text]
    assert leaked == [], leaked


def test_log_capture_sees_a_leak() -> None:
    """The capture is not blind: a secret logged by a paybao module is found."""
    import logging

    secret = uuid.uuid4().hex
    with all_logs_at_debug() as logged:
        logging.getLogger("paybao.services.wallet").debug("card %s", secret)
    assert secret in "\n".join(logged)
