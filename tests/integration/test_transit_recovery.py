"""Transit on the real platform (SQLite, and PostgreSQL when configured): a crash during settle
leaves the ride PENDING and charges nothing; the recovery sweep (or the operator's retry)
finishes it, charging once; the sweep and a retry racing on one stuck ride charge once; and the
reconcile checks find a settled ride without its trade, a charged arrears ride, a wrong debt.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from agreement_support import row_count
from fastapi.testclient import TestClient
from gateway_support import call, make_buyer, wallet_balance
from sqlalchemy import text
from transit_support import make_metro, now_s, open_ride_code, ride, settle

from paybao.bootstrap import Platform
from paybao.domain.transit import RideStatus
from paybao.services.transit import RECOVER_AFTER_S
from paybao.services.transit_records import OfflineTrade, RideRecord

PHONE = "13800138000"


class Crash(BaseException):
    """The process dies here: no handler answers it, the transaction in flight rolls back."""


def _stuck_ride(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch, where: str
) -> tuple[int, list[str]]:
    """A rider, and one uploaded ride a crash left PENDING: `before` the deduction ran, or
    `inside` its transaction after the trade was paid but before the ride was marked."""
    make_metro(platform)
    user_id = make_buyer(platform, PHONE, balance_fen=20_00)
    phone = open_ride_code(platform, user_id)
    records = ride(client, phone, now_s(platform) - 900)
    transit = platform.services["transit"]
    if where == "before":
        monkeypatch.setattr(transit.withholding, "deduct_in", _crash)
    else:
        real = transit.store.update_ride

        def update_ride(tx: Any, ride_id: int, expect: Any, changes: Any) -> bool:
            if changes.get("status") is RideStatus.PAID:
                raise Crash("after the trade was paid, before the ride was marked")
            return bool(real(tx, ride_id, expect, changes))

        monkeypatch.setattr(transit.store, "update_ride", update_ride)
    with pytest.raises(Crash):
        transit.settle(operator_app(platform), [OfflineTrade("S-1", tuple(records))])
    monkeypatch.undo()
    return user_id, records


def _crash(*_args: Any) -> Any:
    raise Crash("before the deduction")


@pytest.mark.parametrize("where", ["before", "inside"])
def test_a_crash_during_settle_is_recovered_by_the_sweep_charging_once(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    user_id, records = _stuck_ride(platform, client, monkeypatch, where)
    transit = platform.services["transit"]
    assert the_ride(platform).status is RideStatus.PENDING
    assert wallet_balance(platform, user_id) == 20_00
    assert row_count(platform, "SELECT COUNT(*) FROM trades") == 0
    assert platform.reconcile.run().clean

    assert transit.recover_pending in platform.sweeps
    assert transit.recover_pending() == 0  # an upload may still be in flight
    platform.sandbox_clock.advance(RECOVER_AFTER_S + 1)  # the worker's sweep runs on the way
    recovered = the_ride(platform)
    assert recovered.status is RideStatus.PAID and recovered.trade_no
    assert wallet_balance(platform, user_id) == 16_00
    assert transit.recover_pending() == 0
    [again] = settle(client, ("S-1", records))  # the operator's retry: the same trade
    assert (again["result"], again["trade_no"]) == ("SUCCESS", recovered.trade_no)
    assert wallet_balance(platform, user_id) == 16_00
    query = call(client, "alipay.trade.query", {"out_trade_no": "S-1"})
    assert (query["trade_status"], query["trade_no"]) == ("TRADE_SUCCESS", recovered.trade_no)
    assert row_count(platform, "SELECT COUNT(*) FROM agreement_deductions") == 1
    assert platform.reconcile.run().clean


def test_the_sweep_and_the_operators_retry_at_once_charge_once(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, records = _stuck_ride(platform, client, monkeypatch, "before")
    transit = platform.services["transit"]
    platform.clock.set_offset_us(
        platform.clock.offset_us(fresh=True) + (RECOVER_AFTER_S + 1) * 1_000_000
    )
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def sweep() -> None:
        barrier.wait()
        outcomes.append(transit.recover_pending())

    def retry() -> None:
        barrier.wait()
        app_id = operator_app(platform)
        outcomes.append(transit.settle(app_id, [OfflineTrade("S-1", tuple(records))])[0])

    workers = [threading.Thread(target=sweep), threading.Thread(target=retry)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(outcomes) == 2, "a worker failed"
    [result] = [o for o in outcomes if not isinstance(o, int)]
    assert result.status is RideStatus.PAID, result
    assert wallet_balance(platform, user_id) == 16_00
    assert row_count(platform, "SELECT COUNT(*) FROM trades") == 1
    assert the_ride(platform).trade_no == result.trade_no
    assert platform.reconcile.run().clean


def test_reconcile_finds_rides_that_disagree_with_their_trades(
    platform: Platform, client: TestClient
) -> None:
    make_metro(platform)
    rich = make_buyer(platform, PHONE, balance_fen=20_00)
    poor = make_buyer(platform, "13800138001", balance_fen=0)
    rich_phone, poor_phone = open_ride_code(platform, rich), open_ride_code(platform, poor)
    start = now_s(platform) - 3600
    settle(client, ("P-1", ride(client, rich_phone, start)))
    settle(client, ("O-1", ride(client, poor_phone, start + 60)))
    assert platform.reconcile.run().clean
    report = platform.reconcile.run()
    assert {
        "transit.settled_rides_are_paid_trades",
        "transit.unpaid_rides_have_no_paid_trade",
        "transit.debts_match_owed_rides",
    } <= set(report.checks_run)

    def tamper(sql: str) -> None:
        with platform.engine.begin() as connection:
            connection.execute(text(sql))

    tamper("UPDATE transit_rides SET fare_fen = 300 WHERE out_trade_no = 'P-1'")
    tamper(f"UPDATE transit_accounts SET owed_fen = 500 WHERE user_id = {poor}")
    # The owed ride's number charged elsewhere (as if a late deduction had gone through).
    trade_no = the_ride(platform, "P-1").trade_no
    tamper(f"UPDATE trades SET out_trade_no = 'O-1' WHERE trade_no = '{trade_no}'")

    found = platform.reconcile.run()
    kinds = sorted({d.kind for d in found.differences})
    assert kinds == ["transit_debt", "transit_ride_trade", "transit_unpaid_ride_charged"]
    assert found.totals["transit.settled_rides_are_paid_trades"] == 1
    [wrong] = [d for d in found.differences if d.kind == "transit_ride_trade"]
    assert "paid 300" in wrong.expected and "paid 400" in wrong.actual


def the_ride(platform: Platform, out_trade_no: str = "S-1") -> RideRecord:
    with platform.db.read() as tx:
        found = platform.services["transit"].store.ride(tx, operator_app(platform), out_trade_no)
    assert found is not None
    return found  # type: ignore[no-any-return]


def operator_app(platform: Platform) -> str:
    [operator] = platform.services["transit"].operators()
    return str(operator.app_id)
