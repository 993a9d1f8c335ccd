"""Helpers for the Huabei checkout installment tests: page.pay orders with extend_params through
the signed gateway, the cashier's pay form, and ledger balances of the parties."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.credit_support import RETURN_URL
from tests.integration.gateway_support import APP_ID, balance_fen, make_shop, signed_params

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.credit_installments import Plan


def page_pay(client: TestClient, out_trade_no: str, total: str, **biz: Any) -> str:
    """An alipay.trade.page.pay order through the gateway; its trade number (from the cashier
    URL the gateway redirects to)."""
    platform = client.app.state.platform
    if platform.services["merchants"].find_app(APP_ID) is None:
        make_shop(platform)
    content = {
        "out_trade_no": out_trade_no,
        "total_amount": total,
        "subject": f"分期 {out_trade_no}",
        "product_code": "FAST_INSTANT_TRADE_PAY",
        **biz,
    }
    params = signed_params(
        "alipay.trade.page.pay",
        content,
        notify_url="http://127.0.0.1:9/notify",
        return_url=RETURN_URL,
    )
    response = client.post("/gateway.do", data=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    path = urllib.parse.urlsplit(response.headers["location"]).path
    return path.rsplit("/", 1)[1]


def extend(count: str | None = None, seller_percent: str | None = None) -> dict[str, str]:
    found = {}
    if count is not None:
        found["hb_fq_num"] = count
    if seller_percent is not None:
        found["hb_fq_seller_percent"] = seller_percent
    return found


def plan_of(platform: Platform, trade_no: str) -> Plan:
    plan = platform.services["checkout_installments"].plan_of_trade(trade_no)
    assert plan is not None
    return plan


def income_fen(platform: Platform) -> int:
    spec = platform_account(Purpose.CREDIT_INCOME)
    return balance_fen(platform, platform.ledger.open_accounts([spec])[spec.key])


def settlement_fen(platform: Platform, trade_no: str) -> int:
    trade = platform.services["trades"].get(trade_no)
    merchant = platform.services["merchants"].merchant(trade.merchant_id)
    return balance_fen(platform, merchant.settlement_account_id)


def amounts(plan: Plan) -> list[tuple[int, int, str]]:
    return [(p.principal_fen, p.fee_fen, p.status.value) for p in plan.periods]
