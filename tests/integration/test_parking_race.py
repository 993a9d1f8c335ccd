"""Races in plate-bound parking, each thread on its own database connection (SQLite, and
PostgreSQL when configured), where one plate could go to two accounts or one stay be charged
twice:

* two users bind the same plate at the same moment: exactly one has it;
* duplicate exits of one stay, each with its own out_trade_no, at the same moment: one charge,
  every other answer PAYBAO.PARKING_ORDER_PAID;
* one payment-code trade reported (order.sync) for several stays at once: one stay is paid;
* the driver opening a car park's page twice at once: one car id.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    APP_ID,
    count_rows,
    make_buyer,
    parse_verified,
    signed_params,
    wallet_balance,
)
from parking_support import PLATE, PREFIX, enter, make_driver, make_lot
from tests.support.races import at_once

from paybao.adapters.db.parking_store import SqlParkingStore
from paybao.domain.errors import DomainError

RACERS = 6


def test_two_users_binding_one_plate_at_once_one_wins(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = client.app.state.platform
    parking = platform.services["parking"]
    # Widen the window between "is the plate free?" and the insert, so that every racer has
    # read "free" before any commits: only the unique plate can stop the second binding.
    look_up = SqlParkingStore.plate_by_number

    def slow_look_up(self: SqlParkingStore, tx: Any, plate: str) -> Any:
        found = look_up(self, tx, plate)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(SqlParkingStore, "plate_by_number", slow_look_up)
    users = [make_buyer(platform, f"1380013800{i}", balance_fen=0) for i in range(RACERS)]
    results = at_once([lambda user=user: parking.bind(user, PLATE) for user in users])
    winners = [r for r in results if not isinstance(r, DomainError)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(winners) == 1, results
    assert {error.code for error in losers} == {"parking_plate_taken"}
    assert count_rows(platform, "parking_plates") == 1
    owner = winners[0].user_id
    assert [parking.overview(u).binding is not None for u in users].count(True) == 1
    assert parking.overview(owner).binding.plate == PLATE


def test_duplicate_exits_of_one_stay_charge_once(client: TestClient) -> None:
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, "13800138000", balance_fen=500_00)
    serial_no = enter(client, parking_id, "IN-1")["serial_no"]
    gateway = platform.services["alipay_gateway"]

    def exit_pay(number: int) -> dict[str, Any]:
        biz = {
            "parking_id": parking_id,
            "car_number": PLATE,
            "out_trade_no": f"EXIT-{number}",
            "total_fee": "12.00",
            "serial_no": serial_no if number % 2 else "",
        }
        query = urllib.parse.urlencode(signed_params(PREFIX + "order.pay", biz)).encode()
        return parse_verified(gateway.handle(query, b"", None).body, platform, PREFIX + "order.pay")

    answers = at_once([lambda n=n: exit_pay(n) for n in range(RACERS)])
    codes = sorted(str(a.get("sub_code", a["code"])) for a in answers)  # type: ignore[union-attr]
    assert codes == ["10000"] + ["PAYBAO.PARKING_ORDER_PAID"] * (RACERS - 1), codes
    assert wallet_balance(platform, user_id) == 500_00 - 12_00
    assert count_rows(platform, "trades") == 1
    assert count_rows(platform, "agreement_deductions") == 1


def test_one_code_payment_reported_for_several_stays_at_once_pays_one(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """order.sync with one trade for several stays at once: one stay is paid by it, every
    other answer is PAYBAO.PARKING_TRADE_LINKED (never "temporarily unavailable": the unique
    trade_no fails the twin, whose retry then reads the winner's link)."""
    platform = client.app.state.platform
    parking_id = make_lot(client)
    user_id = make_driver(platform, "13800138000", auto_pay=False)
    serials = [enter(client, parking_id, f"IN-{n}")["serial_no"] for n in range(RACERS)]
    code = platform.services["trades"].issue_auth_code(user_id)
    till = {
        "out_trade_no": "CODE-1",
        "scene": "bar_code",
        "auth_code": code,
        "subject": "停车费",
        "total_amount": "9.00",
    }
    gateway = platform.services["alipay_gateway"]

    def gateway_call(method: str, biz: dict[str, Any]) -> dict[str, Any]:
        query = urllib.parse.urlencode(signed_params(method, biz)).encode()
        return parse_verified(gateway.handle(query, b"", None).body, platform, method)

    trade_no = gateway_call("alipay.trade.pay", till)["trade_no"]
    # Widen the window between "is the trade linked?" and the write, so every racer has
    # read "not linked" before any commits.
    look_up = SqlParkingStore.order_by_trade_no

    def slow_look_up(self: SqlParkingStore, tx: Any, number: str) -> Any:
        found = look_up(self, tx, number)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(SqlParkingStore, "order_by_trade_no", slow_look_up)

    def sync(n: int) -> dict[str, Any]:
        biz = {
            "parking_id": parking_id,
            "car_number": PLATE,
            "out_order_no": f"SYNC-{n}",
            "order_no": trade_no,
            "pay_money": "9.00",
            "order_status": "0",
            "parking_record_id": serials[n],
        }
        return gateway_call(PREFIX + "order.sync", biz)

    answers = at_once([lambda n=n: sync(n) for n in range(RACERS)])
    codes = sorted(str(a.get("sub_code", a["code"])) for a in answers)  # type: ignore[union-attr]
    assert codes == ["10000"] + ["PAYBAO.PARKING_TRADE_LINKED"] * (RACERS - 1), codes
    stays = platform.services["parking_views"].page(None).stays
    assert [s.order.pay_status.value for s in stays].count("PAID_OTHER") == 1


def test_opening_a_car_park_page_twice_at_once_issues_one_car_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = client.app.state.platform
    make_lot(client)
    user_id = make_driver(platform, "13800138000", auto_pay=False)
    biz = {
        "merchant_name": "国贸停车",
        "merchant_service_phone": "021-25413215",
        "account_no": "parking@example.com",
        "interface_info_list": [
            {
                "interface_name": "alipay.eco.mycar.parking.userpage.query",
                "interface_type": "interface_page",
                "interface_url": "https://lot.example.com/q",
            }
        ],
    }
    query = urllib.parse.urlencode(signed_params(PREFIX + "config.set", biz)).encode()
    gateway = platform.services["alipay_gateway"]
    assert b'"code":"10000"' in gateway.handle(query, b"", None).body
    look_up = SqlParkingStore.car_of

    def slow_look_up(self: SqlParkingStore, tx: Any, app_id: str, plate_id: int) -> Any:
        found = look_up(self, tx, app_id, plate_id)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(SqlParkingStore, "car_of", slow_look_up)
    configs = platform.services["parking_configs"]
    urls = at_once([lambda: configs.open_service(user_id, APP_ID) for _ in range(RACERS)])
    assert all(isinstance(url, str) for url in urls), urls
    assert len(set(urls)) == 1, urls
    assert count_rows(platform, "parking_cars") == 1
