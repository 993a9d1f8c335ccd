"""Helpers for the profit-sharing (分账) tests: paid trades, receivers, settle biz_content."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import call
from score_support import Person, person

from paybao.adapters.alipay.methods import user_wire_id
from paybao.bootstrap import Platform
from paybao.services.refunds import RefundService
from paybao.services.royalty import RoyaltyService
from paybao.services.trades import TradeRef

BIND = "alipay.trade.royalty.relation.bind"
UNBIND = "alipay.trade.royalty.relation.unbind"
BATCHQUERY = "alipay.trade.royalty.relation.batchquery"
RATE_QUERY = "alipay.trade.royalty.rate.query"
SETTLE = "alipay.trade.order.settle"
SETTLE_QUERY = "alipay.trade.order.settle.query"
ONSETTLE_QUERY = "alipay.trade.order.onsettle.query"
_numbers = itertools.count(1)


def receiver(platform: Platform, phone: str, name: str = "王小明") -> Person:
    """A verified user with a wallet and nothing in it."""
    return person(platform, phone, name)


def paid_trade(platform: Platform, client: TestClient, buyer: int, amount: str = "100.00") -> str:
    """A trade of the test shop's app paid by `buyer` with a payment code: its trade_no."""
    code = platform.services["trades"].issue_auth_code(buyer)
    biz = {
        "out_trade_no": f"royalty_{next(_numbers)}_{code[-6:]}",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "分账商品",
        "total_amount": amount,
    }
    answer = call(client, "alipay.trade.pay", biz)
    assert answer["code"] == "10000", answer
    return str(answer["trade_no"])


def bind_biz(*people: Person, by_phone: bool = False, **extra: Any) -> dict[str, Any]:
    entries = [
        {"type": "loginName", "account": p.phone, "name": p.name, "memo": "司机"}
        if by_phone
        else {"type": "userId", "account": user_wire_id(p.user_id), "memo": "平台佣金"}
        for p in people
    ]
    return {"out_request_no": f"bind_{next(_numbers)}", "receiver_list": entries, **extra}


def part(p: Person, amount: str, *, by_phone: bool = False, desc: str = "分账") -> dict[str, Any]:
    if by_phone:
        return {"trans_in_type": "loginName", "trans_in": p.phone, "amount": amount, "desc": desc}
    return {
        "royalty_type": "transfer",
        "trans_in_type": "userId",
        "trans_in": user_wire_id(p.user_id),
        "amount": amount,
        "desc": desc,
    }


def settle_biz(
    request_no: str, trade_no: str, *parts: dict[str, Any], finish: bool = False
) -> dict[str, Any]:
    biz: dict[str, Any] = {
        "out_request_no": request_no,
        "trade_no": trade_no,
        "royalty_parameters": list(parts),
    }
    if finish:
        biz["extend_params"] = {"royalty_finish": "true"}
    return biz


def refund_half_before_the_lock(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, app_id: str, trade_no: str
) -> list[str]:
    """Make the next settle (or async part) that has read the trade, with nothing refunded
    yet, see another connection refund half of it before it takes the sharing row's lock.
    Returns the list the refunded trade_no lands in."""
    royalty: RoyaltyService = platform.services["royalty"]
    refunds: RefundService = platform.services["refunds"]
    lock_state = royalty._lock_state_in
    refunded: list[str] = []

    def refund_first(tx: Any, trade: Any) -> Any:
        if not refunded:
            refunds.refund(app_id, TradeRef(trade_no=trade_no), "half", 50_00)
            refunded.append(trade_no)
        return lock_state(tx, trade)

    monkeypatch.setattr(royalty, "_lock_state_in", refund_first)
    return refunded
