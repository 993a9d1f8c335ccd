"""Races in plate-bound parking, each thread on its own database connection (SQLite, and
PostgreSQL when configured), where one plate could go to two accounts or one stay be charged
twice:

* two users bind the same plate at the same moment: exactly one has it;
* duplicate exits of one stay, each with its own out_trade_no, at the same moment: one charge,
  every other answer PAYBAO.PARKING_ORDER_PAID.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from gateway_support import count_rows, make_buyer, parse_verified, signed_params, wallet_balance
from parking_support import PLATE, PREFIX, enter, make_driver, make_lot

from paybao.adapters.db.parking_store import SqlParkingStore
from paybao.domain.errors import DomainError

T = TypeVar("T")
RACERS = 6


def at_once(works: list[Callable[[], T]]) -> list[T | DomainError]:
    barrier = threading.Barrier(len(works))
    results: list[T | DomainError] = []
    lock = threading.Lock()

    def one(work: Callable[[], T]) -> None:
        barrier.wait()
        try:
            result: T | DomainError = work()
        except DomainError as error:
            result = error
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == len(works), "a racer did not finish"
    return results


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
