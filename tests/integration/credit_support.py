"""Helpers for the Huabei tests: a registered buyer with a credit line, shop trades, paying with
credit at the service and at the cashier, moving the sandbox clock to a China-time moment."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.gateway_support import APP_ID, make_shop
from tests.integration.test_wallet_rules import PIN, open_user

from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.domain.trades import Funding
from paybao.services.clock import us_from_datetime
from paybao.services.trades import NewTrade, Trade

LOGIN_PASSWORD = "abc12345"  # open_user's
RETURN_URL = "https://shop.example/return"


def credit_buyer(
    platform: Platform, phone: str = "13900000201", limit_fen: int = 1_000_00, balance_fen: int = 0
) -> int:
    """A registered, real-name-verified user (class I) with a line, and money if asked."""
    user_id, card_id = open_user(platform, phone)
    if balance_fen:
        platform.services["wallet"].top_up(user_id, card_id, balance_fen, PIN)
    if limit_fen:
        platform.services["credit"].grant(user_id, limit_fen, reason="test", actor="test")
    return user_id


def shop_trade(platform: Platform, out_trade_no: str, total_fen: int) -> Trade:
    """An open page.pay trade of the test shop (made on first use)."""
    found = platform.services["merchants"].find_app(APP_ID)
    app_id = found.app_id if found is not None else make_shop(platform).app.app_id
    new = NewTrade(
        app_id=app_id,
        out_trade_no=out_trade_no,
        product="FAST_INSTANT_TRADE_PAY",
        subject=f"商品 {out_trade_no}",
        total_fen=total_fen,
        fingerprint=out_trade_no,
        notify_url="http://127.0.0.1:9/notify",
        return_url=RETURN_URL,
    )
    trade: Trade = platform.services["trades"].create(new)
    return trade


def pay_with_credit(platform: Platform, user_id: int, out_trade_no: str, total_fen: int) -> Trade:
    trade = shop_trade(platform, out_trade_no, total_fen)
    trades = platform.services["trades"]
    paid: Trade = trades.pay_by_buyer(trade.trade_no, user_id, PIN, funding=Funding.CREDIT)
    return paid


def advance_to(platform: Platform, year: int, month: int, day: int, hour: int = 0) -> None:
    """Move the sandbox clock to a China-time moment, running every timer on the way."""
    target_us = us_from_datetime(datetime(year, month, day, hour, tzinfo=CHINA_TZ))
    seconds = (target_us - platform.clock.now_us()) // 1_000_000
    assert seconds > 0, "the clock only moves forward"
    platform.sandbox_clock.advance(seconds)


def next_month(platform: Platform, months: int = 1) -> tuple[int, int]:
    """(year, month) `months` after the current China-time month."""
    now = platform.clock.now().astimezone(CHINA_TZ)
    index = now.year * 12 + now.month - 1 + months
    return index // 12, index % 12 + 1


def cashier_signed_in(client: TestClient, trade_no: str, phone: str) -> str:
    page = client.get(f"/cashier/{trade_no}")
    client.post(
        f"/cashier/{trade_no}/login",
        data={"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD},
    )
    return client.get(f"/cashier/{trade_no}").text


def cashier_pay(client: TestClient, trade_no: str, funding: str, password: str = PIN) -> object:
    page = client.get(f"/cashier/{trade_no}")
    return client.post(
        f"/cashier/{trade_no}/pay",
        data={"csrf_token": csrf_of(page.text), "funding": funding, "payment_password": password},
        follow_redirects=False,
    )


def reconcile_clean(platform: Platform) -> list[str]:
    """Every difference the reconcile checks find (ledger, trades, credit, ...)."""
    return [difference.line() for difference in platform.reconcile.run().differences]
