"""Helpers for pre-authorisation tests: signed fund-auth calls, an app freeze confirmed through
the gateway's redirect and the confirmation page, and where a user's money stands."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi.testclient import TestClient
from gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, call, sign_in_on, signed_params
from tests.integration.admin_support import csrf_of

from paybao.bootstrap import Platform

FREEZE = "alipay.fund.auth.order.freeze"
APP_FREEZE = "alipay.fund.auth.order.app.freeze"
UNFREEZE = "alipay.fund.auth.order.unfreeze"
QUERY = "alipay.fund.auth.operation.detail.query"
CANCEL = "alipay.fund.auth.operation.cancel"

# What the tests import from here.
__all__ = ["csrf_of", "sign_in_on"]


def freeze(
    client: TestClient,
    user_id: int,
    out_order_no: str,
    amount: str = "300.00",
    *,
    code: str | None = None,
    biz: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A till scans the user's payment code and freezes `amount`."""
    platform: Platform = client.app.state.platform  # type: ignore[attr-defined]
    auth_code = code or platform.services["trades"].issue_auth_code(user_id)
    body = {
        "auth_code": auth_code,
        "auth_code_type": "bar_code",
        "out_order_no": out_order_no,
        "out_request_no": f"{out_order_no}-f",
        "order_title": "酒店押金",
        "amount": amount,
        "product_code": "PRE_AUTH",
        **(biz or {}),
    }
    return call(client, FREEZE, body, **extra)


def pay(
    client: TestClient,
    auth_no: str,
    out_trade_no: str,
    amount: str,
    mode: str | None = None,
    **biz: Any,
) -> dict[str, Any]:
    body = {
        "out_trade_no": out_trade_no,
        "product_code": "PRE_AUTH",
        "auth_no": auth_no,
        "total_amount": amount,
        "subject": "房费",
        **biz,
    }
    if mode is not None:
        body["auth_confirm_mode"] = mode
    return call(client, "alipay.trade.pay", body)


def unfreeze(
    client: TestClient, auth_no: str, out_request_no: str, amount: str, **extra: Any
) -> dict[str, Any]:
    body = {"auth_no": auth_no, "out_request_no": out_request_no, "amount": amount}
    return call(client, UNFREEZE, {**body, "remark": "退押金"}, **extra)


def query(client: TestClient, **biz: Any) -> dict[str, Any]:
    return call(client, QUERY, biz)


def app_freeze_path(client: TestClient, biz: dict[str, Any], **extra: str) -> str:
    """alipay.fund.auth.order.app.freeze's order string opened against the gateway (a GET the
    browser follows): the path of the confirmation page it redirects to."""
    params = signed_params(APP_FREEZE, biz, **extra)
    response = client.get("/gateway.do?" + urllib.parse.urlencode(params), follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/preauth/confirm/"), location
    return location.removeprefix("http://testserver")


def app_order(out_order_no: str, amount: str = "500.00", **extra: Any) -> dict[str, Any]:
    return {
        "out_order_no": out_order_no,
        "out_request_no": f"{out_order_no}-f",
        "order_title": "租车押金",
        "amount": amount,
        "product_code": "PRE_AUTH_ONLINE",
        **extra,
    }


def confirm_on(client: TestClient, path: str, password: str = PAYMENT_PASSWORD) -> Any:
    page = client.get(path)
    form = {"csrf_token": csrf_of(page.text), "payment_password": password}
    return client.post(path, data=form, follow_redirects=False)


def money_of(platform: Platform, user_id: int) -> tuple[int, int]:
    """(balance, held) of the user's wallet, in fen."""
    with platform.db.read() as tx:
        account_id = platform.services["users"].wallet_account_id_in(tx, user_id)
    balance = platform.ledger.balance(account_id)
    return balance.balance_fen, balance.pending_debits_fen


def reconcile_clean(platform: Platform) -> None:
    report = platform.reconcile.run()
    assert report.clean, [difference.line() for difference in report.differences]


def wallet_login(client: TestClient, phone: str) -> None:
    client.cookies.clear()
    page = client.get("/login")
    form = {"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
