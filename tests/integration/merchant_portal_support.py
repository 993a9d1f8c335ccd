"""Helpers for the merchant portal tests: a merchant with a portal password, signing in."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import PAYMENT_PASSWORD, Shop, make_shop

from paybao.bootstrap import Platform
from paybao.services.trades import NewTrade, Trade

MERCHANT_PASSWORD = "shop-pass-2024"


def portal_shop(platform: Platform, **extra: object) -> Shop:
    shop = make_shop(platform, **extra)  # type: ignore[arg-type]
    platform.services["merchant_accounts"].set_password(shop.merchant.id, MERCHANT_PASSWORD)
    return shop


def sign_in(client: TestClient, merchant_id: int, password: str = MERCHANT_PASSWORD) -> Any:
    page = client.get("/merchant/login")
    return client.post(
        "/merchant/login",
        data={
            "csrf_token": csrf_of(page.text),
            "merchant_id": str(merchant_id),
            "password": password,
        },
        follow_redirects=False,
    )


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str]) -> Any:
    """Open the page (for its CSRF token) and submit one of its forms."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(
        action, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False
    )


def paid_trade(
    platform: Platform,
    shop: Shop,
    buyer_id: int,
    out_trade_no: str,
    *,
    total_fen: int = 10_00,
    notify_url: str | None = None,
) -> Trade:
    """A trade of `shop` paid by the buyer from the balance (the cashier's path)."""
    trades = platform.services["trades"]
    new = NewTrade(
        app_id=shop.app.app_id,
        out_trade_no=out_trade_no,
        product="FAST_INSTANT_TRADE_PAY",
        subject=f"订单 {out_trade_no}",
        total_fen=total_fen,
        fingerprint=out_trade_no,
        notify_url=notify_url,
    )
    trade = trades.create(new)
    paid: Trade = trades.pay_by_buyer(trade.trade_no, buyer_id, PAYMENT_PASSWORD)
    return paid
