"""A `Trade` as a store returns it, for service tests whose fake stores hand out trades: every
field a test does not name has a plain default (an unpaid 0.00 page.pay of merchant 1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paybao.domain.trades import TradeStatus
from paybao.services.trades import Trade

_BASE = Trade(
    id=1,
    trade_no="T1",
    app_id="app",
    merchant_id=1,
    out_trade_no="T1",
    product="page.pay",
    subject="s",
    body=None,
    total_fen=0,
    fee_fen=0,
    refunded_fen=0,
    fee_refunded_fen=0,
    status=TradeStatus.WAIT_BUYER_PAY,
    buyer_user_id=None,
    fingerprint="f",
    notify_url=None,
    return_url=None,
    passback=None,
    channel_context="{}",
    visible=True,
    store_id=None,
    created_at_us=0,
    expires_at_us=0,
)


def a_trade(trade_no: str, total_fen: int, **changes: Any) -> Trade:
    """Trade `trade_no` (also its out_trade_no) of `total_fen`, with `changes` to the defaults."""
    return replace(_BASE, trade_no=trade_no, out_trade_no=trade_no, total_fen=total_fen, **changes)
