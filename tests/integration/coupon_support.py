"""Helpers for the coupon tests: campaigns made through the service (an operator's or a shop's),
coupons claimed, open page.pay trades, the ledger's marketing account."""

from __future__ import annotations

import itertools
from typing import Any

from tests.integration.admin_support import create_operator
from tests.integration.gateway_support import Shop
from tests.support.coupons import platform_terms_at, shop_discount_terms_at

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.coupons import Template, Terms
from paybao.services.marketing import Creator
from paybao.services.trades import NewTrade, Trade


def platform_terms(platform: Platform, **changes: Any) -> Terms:
    """满100减10, platform-funded, any shop, a month long from now, 100 coupons, one each."""
    return platform_terms_at(platform.clock.now_us(), **changes)


def merchant_discount_terms(platform: Platform, merchant_id: int, **changes: Any) -> Terms:
    """The shop's own 9折 (at most 50.00 off), limited to itself."""
    return shop_discount_terms_at(platform.clock.now_us(), merchant_id, **changes)


_OPERATORS = itertools.count(1)


def operator_campaign(platform: Platform, **changes: Any) -> Template:
    operator_id, _ = create_operator(platform, f"coupons{next(_OPERATORS)}")
    template: Template = platform.services["marketing"].create_template(
        platform_terms(platform, **changes), Creator(operator_id=operator_id)
    )
    return template


def shop_campaign(platform: Platform, shop: Shop, **changes: Any) -> Template:
    terms = merchant_discount_terms(platform, shop.merchant.id, **changes)
    template: Template = platform.services["marketing"].create_template(
        terms, Creator(merchant_id=shop.merchant.id)
    )
    return template


def claim(platform: Platform, user_id: int, template: Template) -> int:
    coupon_id: int = platform.services["marketing"].claim(user_id, template.id).id
    return coupon_id


def open_trade(
    platform: Platform,
    shop: Shop,
    out_trade_no: str,
    total_fen: int,
    *,
    undiscountable_fen: int = 0,
    return_url: str | None = None,
) -> Trade:
    new = NewTrade(
        app_id=shop.app.app_id,
        out_trade_no=out_trade_no,
        product="page.pay",
        subject=f"订单 {out_trade_no}",
        total_fen=total_fen,
        fingerprint=out_trade_no,
        notify_url="http://127.0.0.1:9/notify",
        return_url=return_url,
        undiscountable_fen=undiscountable_fen,
    )
    trade: Trade = platform.services["trades"].create(new)
    return trade


def marketing_spent(platform: Platform) -> int:
    """What the platform's marketing account has paid out, net (debits - credits)."""
    spec = platform_account(Purpose.MARKETING)
    with platform.db.read() as tx:
        account_id = platform.ledger.open_accounts_in(tx, [spec])[spec.key]
    balance = platform.ledger.balance(account_id)
    return -balance.balance_fen
