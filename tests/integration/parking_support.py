"""Helpers for parking tests: a lot (a merchant's app and its registered parking lot), a driver
with a bound plate and auto-pay, and the lot's gateway calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gateway_support import PAYMENT_PASSWORD, call, make_buyer, make_shop

from paybao.adapters.alipay import wire
from paybao.bootstrap import Platform
from paybao.domain.parking import Caps

PREFIX = "alipay.eco.mycar.parking."
PLATE = "粤BD12345"


def beijing(minutes_ago: int = 0) -> str:
    at = datetime.now(wire.BEIJING_TZ) - timedelta(minutes=minutes_ago)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def make_lot(client: Any, *, notify_url: str | None = None) -> str:
    """The lot merchant's app and its lot; returns the parking_id."""
    make_shop(client.app.state.platform, notify_url=notify_url)
    biz = {"out_parking_id": "P-001", "parking_name": "国贸地下停车场", "parking_address": "北京"}
    answer = call(client, PREFIX + "parkinglotinfo.create", biz)
    assert answer["code"] == "10000", answer
    return str(answer["parking_id"])


def make_driver(
    platform: Platform,
    phone: str = "13800138000",
    plate: str = PLATE,
    *,
    balance_fen: int = 500_00,
    auto_pay: bool = True,
    caps: Caps | None = None,
) -> int:
    user_id = make_buyer(platform, phone, balance_fen=balance_fen)
    parking = platform.services["parking"]
    parking.bind(user_id, plate)
    if auto_pay:
        parking.enable_auto_pay(user_id, PAYMENT_PASSWORD, caps or Caps())
    return user_id


def enter(
    client: Any, parking_id: str, serial: str, plate: str = PLATE, in_time: str | None = None
) -> dict[str, Any]:
    """A car enters; a replay must pass the first call's `in_time` (another one is another
    request, and the wall clock may tick between the two calls)."""
    biz = {
        "parking_id": parking_id,
        "car_number": plate,
        "in_time": in_time or beijing(95),
        "out_serial_no": serial,
        "car_color": "GREEN",
    }
    return call(client, PREFIX + "enterinfo.sync", biz)


def leave(client: Any, parking_id: str, serial_no: str, plate: str = PLATE) -> dict[str, Any]:
    biz = {
        "parking_id": parking_id,
        "car_number": plate,
        "out_time": beijing(),
        "serial_no": serial_no,
        "actual_amount": "15.00",
    }
    return call(client, PREFIX + "exitinfo.sync", biz)


def pay(
    client: Any,
    parking_id: str,
    out_trade_no: str,
    amount: str = "15.00",
    plate: str = PLATE,
    **extra: Any,
) -> dict[str, Any]:
    biz = {
        "parking_id": parking_id,
        "car_number": plate,
        "out_trade_no": out_trade_no,
        "total_fee": amount,
        "subject": "停车费 国贸",
        "pay_scene": "PLATE_PAY",
        **extra,
    }
    return call(client, PREFIX + "order.pay", biz)
