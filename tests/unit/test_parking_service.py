"""Parking services on in-memory fakes, over the real agreement and withholding services: bind
(one plate per account, one account per plate), enable auto-pay (password, caps), entry and
exit, payment by plate (replay, a second exit never charges, caps and balance refusals
recorded for the fallback), a car never seen entering, a plate that changed hands, and
payments reported from elsewhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from tests.support.fakes import FakeTx
from tests.unit.test_agreement_services import (
    APP,
    OTHER_APP,
    PIN,
    START_US,
    World,
)

from paybao.domain.agreements import AgreementStatus, WithholdingLimits
from paybao.domain.errors import DomainError
from paybao.domain.parking import Caps, PayStatus
from paybao.services.clock import US_PER_S
from paybao.services.parking import ParkingAccounts
from paybao.services.parking_lots import (
    Entry,
    Exit,
    NewLot,
    PaidElsewhere,
    ParkingLots,
    PlatePay,
)
from paybao.services.parking_records import Lot, ParkingOrder, PlateBinding, UserOrder
from paybao.services.trades import NewTrade

LOT_APP, HOLDER_APP = APP, OTHER_APP
PLATE = "京A12345"


class FakeParkingStore:
    def _t(self, tx: FakeTx, name: str) -> dict[int, Any]:
        return tx.state.setdefault(f"parking_{name}", {})  # type: ignore[no-any-return]

    def _add(self, tx: FakeTx, name: str, row: Any) -> int:
        rows = self._t(tx, name)
        row_id = len(rows) + 1
        rows[row_id] = dataclasses.replace(row, id=row_id)
        return row_id

    def insert_lot(self, tx: FakeTx, lot: Lot) -> int:
        return self._add(tx, "lots", lot)

    def lot_by_out_id(self, tx: FakeTx, merchant_id: int, out_parking_id: str) -> Lot | None:
        rows = self._t(tx, "lots").values()
        return next(
            (r for r in rows if (r.merchant_id, r.out_parking_id) == (merchant_id, out_parking_id)),
            None,
        )

    def lot_by_parking_id(self, tx: FakeTx, parking_id: str) -> Lot | None:
        return next((r for r in self._t(tx, "lots").values() if r.parking_id == parking_id), None)

    def insert_plate(self, tx: FakeTx, binding: PlateBinding) -> int:
        rows = self._t(tx, "plates").values()
        assert all(r.plate != binding.plate and r.user_id != binding.user_id for r in rows)
        return self._add(tx, "plates", binding)

    def plate_of_user(
        self, tx: FakeTx, user_id: int, *, for_update: bool = False
    ) -> PlateBinding | None:
        return next((r for r in self._t(tx, "plates").values() if r.user_id == user_id), None)

    def plate_by_number(self, tx: FakeTx, plate: str) -> PlateBinding | None:
        return next((r for r in self._t(tx, "plates").values() if r.plate == plate), None)

    def update_plate(
        self, tx: FakeTx, user_id: int, plate: str, changes: Mapping[str, Any]
    ) -> bool:
        rows = self._t(tx, "plates")
        for key, row in rows.items():
            if (row.user_id, row.plate) == (user_id, plate):
                known = {k: v for k, v in changes.items() if k != "updated_at_us"}
                rows[key] = dataclasses.replace(row, **known)
                return True
        return False

    def delete_plate(self, tx: FakeTx, user_id: int, plate: str) -> bool:
        rows = self._t(tx, "plates")
        for key, row in list(rows.items()):
            if (row.user_id, row.plate) == (user_id, plate):
                del rows[key]
                return True
        return False

    def delete_cars_of_plate(self, tx: FakeTx, plate_id: int) -> int:
        return 0  # car ids are tested in tests/unit/test_parking_configs.py

    def insert_order(self, tx: FakeTx, order: ParkingOrder) -> int:
        return self._add(tx, "orders", order)

    def _order(self, tx: FakeTx, **match: object) -> ParkingOrder | None:
        rows = sorted(self._t(tx, "orders").values(), key=lambda r: -r.id)
        return next((r for r in rows if all(getattr(r, k) == v for k, v in match.items())), None)

    def order_by_out_serial(
        self, tx: FakeTx, lot_id: int, out_serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        return self._order(tx, lot_id=lot_id, out_serial_no=out_serial_no)

    def order_by_serial(
        self, tx: FakeTx, serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        return self._order(tx, serial_no=serial_no)

    def order_by_out_order(self, tx: FakeTx, lot_id: int, out_order_no: str) -> ParkingOrder | None:
        return self._order(tx, lot_id=lot_id, out_order_no=out_order_no)

    def order_by_trade_no(self, tx: FakeTx, trade_no: str) -> ParkingOrder | None:
        return self._order(tx, trade_no=trade_no)

    def latest_unsettled(
        self, tx: FakeTx, lot_id: int, plate: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        rows = sorted(self._t(tx, "orders").values(), key=lambda r: -r.id)
        return next(
            (
                r
                for r in rows
                if (r.lot_id, r.plate) == (lot_id, plate) and not r.pay_status.settled
            ),
            None,
        )

    def latest_stay(self, tx: FakeTx, lot_id: int, plate: str) -> ParkingOrder | None:
        return self._order(tx, lot_id=lot_id, plate=plate)

    def update_order(
        self, tx: FakeTx, order_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        rows = self._t(tx, "orders")
        row = rows[order_id]
        if any(getattr(row, k) != v for k, v in expect.items()):
            return False
        rows[order_id] = dataclasses.replace(
            row, **{k: v for k, v in changes.items() if k != "updated_at_us"}
        )
        return True

    def orders_of_user(self, tx: FakeTx, user_id: int, limit: int) -> list[UserOrder]:
        rows = sorted(self._t(tx, "orders").values(), key=lambda r: -r.id)
        lots = self._t(tx, "lots")
        return [UserOrder(r, lots[r.lot_id].name) for r in rows if r.user_id == user_id][:limit]


class Holder:
    def app_id(self) -> str:
        return HOLDER_APP


class ParkingWorld(World):
    def __init__(self) -> None:
        super().__init__()
        store = FakeParkingStore()
        agreement_store = self.agreements.store
        self.parking = ParkingAccounts(
            db=self.db,
            store=store,
            clock=self.clock,
            agreements=self.agreements,
            agreement_reader=agreement_store,
            holder=Holder(),
            limits=WithholdingLimits(),
        )
        self.lots = ParkingLots(
            db=self.db,
            store=store,
            clock=self.clock,
            apps=self.agreements.apps,
            agreement_reader=agreement_store,
            withholding=self.withholding,
            trades=self.withholding.trades,
            holder=Holder(),
        )
        self.lot = self.lots.register(NewLot(LOT_APP, "lot-1", "国贸停车场", "北京市朝阳区"))

    def enter(self, out_serial_no: str = "in-1", plate: str = PLATE) -> Any:
        return self.lots.enter(Entry(LOT_APP, self.lot.parking_id, plate, out_serial_no, START_US))

    def pay(
        self, amount_fen: int, out_trade_no: str = "pay-1", plate: str = PLATE, **extra: Any
    ) -> Any:
        new = NewTrade(
            app_id=LOT_APP,
            out_trade_no=out_trade_no,
            product="PARKING_PLATE_PAY",
            subject="停车费",
            total_fen=amount_fen,
            fingerprint=f"{plate}:{amount_fen}:{extra.get('serial_no')}",
        )
        return self.lots.pay(PlatePay(new, self.lot.parking_id, plate, **extra))

    def order(self, serial_no: str) -> ParkingOrder:
        found = self.db.state["parking_orders"]
        return next(o for o in found.values() if o.serial_no == serial_no)

    def balance(self, user_id: int = 1) -> int:
        return int(self.db.state.get("balances", {1: 5_000_00, 2: 5_000_00})[user_id])


@pytest.fixture
def world() -> ParkingWorld:
    return ParkingWorld()


def enabled(world: ParkingWorld, user_id: int = 1, plate: str = PLATE, **caps: Any) -> None:
    world.parking.bind(user_id, plate)
    world.parking.enable_auto_pay(user_id, PIN, Caps(**caps))


def codes(run: Any) -> str:
    with pytest.raises(DomainError) as raised:
        run()
    return raised.value.code


def test_one_plate_per_account_and_one_account_per_plate(world: ParkingWorld) -> None:
    bound = world.parking.bind(1, "京a-12345")
    assert (bound.plate, bound.single_cap_fen, bound.agreement_no) == (PLATE, 100_00, None)
    assert world.parking.bind(1, PLATE) == bound  # a double submit
    assert codes(lambda: world.parking.bind(1, "沪B12345")) == "parking_plate_already_bound"
    assert codes(lambda: world.parking.bind(2, PLATE)) == "parking_plate_taken"
    assert codes(lambda: world.parking.bind(2, "京A1234")) == "invalid_plate"
    world.parking.unbind(1)
    assert world.parking.bind(2, PLATE).user_id == 2


def test_enable_signs_a_parking_agreement_with_the_password_and_caps(world: ParkingWorld) -> None:
    world.parking.bind(1, PLATE)
    assert codes(lambda: world.parking.enable_auto_pay(1, "000000", Caps())) == (
        "payment_password_wrong"
    )
    assert not world.parking.overview(1).auto_pay
    assert codes(lambda: world.parking.enable_auto_pay(1, PIN, Caps(100_01))) == (
        "invalid_parking_cap"
    )
    binding = world.parking.enable_auto_pay(1, PIN, Caps(30_00, 200_00))
    view = world.parking.overview(1)
    assert view.auto_pay and view.agreement is not None
    assert (view.agreement.agreement_no, view.agreement.user_cap_fen) == (
        binding.agreement_no,
        200_00,
    )
    assert view.agreement.sign_scene == "INDUSTRY|PARKING"
    assert view.agreement.merchant_id == 8  # the holder app's merchant, not a lot's
    assert binding.single_cap_fen == 30_00
    # Enabling again keeps the agreement and changes the caps.
    again = world.parking.set_caps(1, PIN, Caps(50_00, None))
    assert again.agreement_no == binding.agreement_no
    assert world.parking.overview(1).agreement.user_cap_fen is None  # type: ignore[union-attr]
    world.parking.disable_auto_pay(1)
    view = world.parking.overview(1)
    assert not view.auto_pay and view.binding is not None and view.binding.agreement_no is None
    ended = world.agreements.store.by_no(FakeTx(world.db.state), binding.agreement_no or "")
    assert ended is not None and ended.status is AgreementStatus.UNSIGN


def test_entry_answers_auto_pay_and_exit_pays_by_plate_once(world: ParkingWorld) -> None:
    assert not world.enter("in-0", "沪B12345").auto_pay
    enabled(world)
    entry = world.enter()
    assert entry.auto_pay and entry.order.user_id == 1
    assert world.enter().order == entry.order  # the same entry again
    serial = entry.order.serial_no
    out_us = START_US + 95 * 60 * US_PER_S
    left = world.lots.exit(Exit(LOT_APP, world.lot.parking_id, PLATE, out_us, serial_no=serial))
    assert left.out_at_us == out_us
    order, trade = world.pay(15_00)
    assert (order.pay_status, order.amount_fen, trade.total_fen) == (PayStatus.PAID, 15_00, 15_00)
    assert trade.app_id == LOT_APP and trade.merchant_id == 7 and trade.buyer_user_id == 1
    assert world.balance() == 5_000_00 - 15_00
    assert world.pay(15_00) == (order, trade)  # the lot's number again: the first result
    assert codes(lambda: world.pay(15_00, "pay-2")) == "parking_order_paid"
    assert codes(lambda: world.pay(15_00, "pay-3", serial_no=serial)) == "parking_order_paid"
    # A second exit of the same stay changes nothing.
    later = out_us + 60 * US_PER_S
    again = world.lots.exit(Exit(LOT_APP, world.lot.parking_id, PLATE, later, serial_no=serial))
    assert again.out_at_us == out_us == world.order(serial).out_at_us
    assert world.balance() == 5_000_00 - 15_00
    overview = world.parking.overview(1)
    assert [row.order.serial_no for row in overview.orders] == [serial]


def test_refusals_are_recorded_for_the_fallback_and_charge_nothing(world: ParkingWorld) -> None:
    world.parking.bind(1, PLATE)
    serial = world.enter().order.serial_no
    assert codes(lambda: world.pay(10_00)) == "parking_auto_pay_not_enabled"
    assert world.order(serial).pay_status is PayStatus.REFUSED
    world.parking.enable_auto_pay(1, PIN, Caps(20_00, 50_00))
    assert codes(lambda: world.pay(20_01, "p2")) == "parking_over_single_cap"
    failed = world.order(serial)
    assert (failed.failure_code, failed.amount_fen) == ("parking_over_single_cap", 20_01)
    assert codes(lambda: world.pay(100_01, "p3")) == "parking_over_single_cap"
    # Within the plate's cap, and then a refusal may be retried and paid.
    order, _ = world.pay(20_00, "p4")
    assert order.pay_status is PayStatus.PAID and order.failure_code is None
    # The monthly cap (on the agreement) refuses the next stay's fee.
    second = world.enter("in-2").order.serial_no
    world.pay(20_00, "p5")
    third = world.enter("in-3").order.serial_no
    assert codes(lambda: world.pay(10_01, "p6")) == "agreement_user_cap_exceeded"
    assert world.order(third).pay_status is PayStatus.REFUSED
    assert world.order(second).pay_status is PayStatus.PAID
    assert world.balance() == 5_000_00 - 40_00


def test_not_enough_money_is_refused_and_recorded(world: ParkingWorld) -> None:
    enabled(world)
    serial = world.enter().order.serial_no
    world.db.state["balances"] = {1: 5_00, 2: 0}
    assert codes(lambda: world.pay(6_00)) == "buyer_balance_not_enough"
    assert world.order(serial).failure_code == "buyer_balance_not_enough"
    assert world.balance() == 5_00


def test_a_car_never_seen_entering_is_never_charged(world: ParkingWorld) -> None:
    enabled(world)
    assert codes(lambda: world.pay(5_00)) == "parking_entry_not_found"
    leaving = Exit(LOT_APP, world.lot.parking_id, PLATE, START_US, out_serial_no="nope")
    assert codes(lambda: world.lots.exit(leaving)) == "parking_entry_not_found"
    assert world.balance() == 5_000_00
    assert "parking_orders" not in world.db.state or not world.db.state["parking_orders"]


def test_a_plate_that_changed_hands_during_the_stay_is_not_charged(world: ParkingWorld) -> None:
    enabled(world, 1)
    world.enter()
    world.parking.unbind(1)
    enabled(world, 2)
    assert codes(lambda: world.pay(5_00)) == "parking_plate_owner_changed"
    assert world.balance(1) == world.balance(2) == 5_000_00


def test_paid_elsewhere_is_recorded_once_and_blocks_a_charge(world: ParkingWorld) -> None:
    enabled(world)
    serial = world.enter().order.serial_no
    paid = PaidElsewhere(LOT_APP, world.lot.parking_id, PLATE, "cash-1", 8_00, START_US)
    recorded = world.lots.sync_paid(paid)
    assert (recorded.serial_no, recorded.pay_status) == (serial, PayStatus.PAID_OTHER)
    assert world.lots.sync_paid(paid) == recorded  # the same number again
    other = dataclasses.replace(paid, amount_fen=9_00)
    assert codes(lambda: world.lots.sync_paid(other)) == "parking_record_mismatch"
    assert codes(lambda: world.pay(8_00, serial_no=serial)) == "parking_order_paid"
    # No entry seen: the payment's own times make the record.
    no_entry = dataclasses.replace(paid, out_order_no="cash-2", in_at_us=START_US - 3600 * US_PER_S)
    assert world.lots.sync_paid(no_entry).out_serial_no == "sync:cash-2"
    assert world.balance() == 5_000_00


def test_lots_are_the_apps_own_and_idempotent(world: ParkingWorld) -> None:
    again = world.lots.register(NewLot(LOT_APP, "lot-1", "国贸停车场", "北京市朝阳区"))
    assert again == world.lot
    changed = NewLot(LOT_APP, "lot-1", "别的名字", "北京市朝阳区")
    assert codes(lambda: world.lots.register(changed)) == "parking_lot_exists"
    entry = Entry(HOLDER_APP, world.lot.parking_id, PLATE, "x", START_US)
    assert codes(lambda: world.lots.enter(entry)) == "parking_lot_not_found"
