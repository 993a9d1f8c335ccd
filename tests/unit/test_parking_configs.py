"""Parking, the car park apps' service side, on in-memory fakes: the configuration rules
(config.set), car ids (issued once per app and plate binding, answered only to that app, dead
after an unbind), and order.sync naming a trade another stay already reported."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest
from tests.support.fakes import FakeTx
from tests.unit.test_agreement_services import START_US
from tests.unit.test_parking_service import (
    HOLDER_APP,
    LOT_APP,
    PLATE,
    FakeParkingStore,
    ParkingWorld,
    codes,
    enabled,
)

from paybao.domain.parking import (
    INTERFACE_TYPE,
    USERPAGE_INTERFACE,
    Interface,
    check_interfaces,
    check_service_phone,
)
from paybao.domain.trades import TradeNotFound
from paybao.services.parking_configs import NewConfig, ParkingConfigs
from paybao.services.parking_lots import PaidElsewhere
from paybao.services.parking_records import Car, ParkingConfig, PlateBinding
from paybao.services.trades import Trade, TradeRef

PAGE = Interface(USERPAGE_INTERFACE, INTERFACE_TYPE, "https://lot.example.com/q?from=alipay")


class ConfigStore(FakeParkingStore):
    def config_of_app(self, tx: FakeTx, app_id: str) -> ParkingConfig | None:
        return next((c for c in self._t(tx, "configs").values() if c.app_id == app_id), None)

    def insert_config(self, tx: FakeTx, config: ParkingConfig) -> int:
        return self._add(tx, "configs", config)

    def update_config(self, tx: FakeTx, app_id: str, changes: Mapping[str, Any]) -> bool:
        rows = self._t(tx, "configs")
        for key, row in rows.items():
            if row.app_id == app_id:
                rows[key] = dataclasses.replace(row, **changes)
                return True
        return False

    def car_of(self, tx: FakeTx, app_id: str, plate_id: int) -> Car | None:
        cars = self._t(tx, "cars").values()
        return next((c for c in cars if (c.app_id, c.plate_id) == (app_id, plate_id)), None)

    def car_by_id(self, tx: FakeTx, car_id: str) -> Car | None:
        return next((c for c in self._t(tx, "cars").values() if c.car_id == car_id), None)

    def insert_car(self, tx: FakeTx, car: Car) -> int:
        return self._add(tx, "cars", car)

    def plate_by_id(self, tx: FakeTx, plate_id: int) -> PlateBinding | None:
        return self._t(tx, "plates").get(plate_id)  # type: ignore[no-any-return]

    def delete_cars_of_plate(self, tx: FakeTx, plate_id: int) -> int:
        cars = self._t(tx, "cars")
        gone = [key for key, car in cars.items() if car.plate_id == plate_id]
        for key in gone:
            del cars[key]
        return len(gone)


class TradeFinder:
    """The agreements fake finds by out_trade_no only; order.sync names our trade_no."""

    def find_in(self, tx: FakeTx, app_id: str, ref: TradeRef) -> Trade:
        for trade in tx.state.setdefault("trades", {}).values():
            if trade.app_id == app_id and ref.trade_no in (None, trade.trade_no):
                if ref.out_trade_no in (None, trade.out_trade_no):
                    return trade  # type: ignore[no-any-return]
        raise TradeNotFound("no such trade")


class ConfigWorld(ParkingWorld):
    def __init__(self) -> None:
        super().__init__()
        store = ConfigStore()  # rows live in the transaction state: swapping keeps them
        self.parking.store = self.lots.store = store
        self.lots.trades = TradeFinder()
        self.configs = ParkingConfigs(
            db=self.db, store=store, clock=self.clock, apps=self.agreements.apps
        )

    def configure(self, *interfaces: Interface, phone: str = "021-25413215") -> ParkingConfig:
        new = NewConfig(LOT_APP, "国贸停车", phone, "p@example.com", None, list(interfaces))
        return self.configs.set_config(new)


@pytest.fixture
def world() -> ConfigWorld:
    return ConfigWorld()


def test_configuration_rules() -> None:
    assert check_service_phone(" 021-25413215 ") == "021-25413215"
    assert check_service_phone("+86 400 800 1234") == "+86 400 800 1234"
    for bad in ("", "call us", "12", "021-2541321599999999999999999999999"):
        assert codes(lambda bad=bad: check_service_phone(bad)) == "invalid_parking_config"
    home = Interface("alipay.eco.mycar.parking.isv.homepage", INTERFACE_TYPE, "2018|pages/a")
    assert check_interfaces([PAGE, home]) == [PAGE, home]
    for bad_list in (
        [],
        [PAGE, PAGE],
        [dataclasses.replace(PAGE, name="alipay.eco.mycar.parking.other")],
        [dataclasses.replace(PAGE, type="interface_url")],
        [dataclasses.replace(PAGE, url="ftp://lot.example.com/")],
        [dataclasses.replace(PAGE, url="javascript:alert(1)")],
        [dataclasses.replace(PAGE, url="https://x/" + "a" * 600)],
        [home] * 11,
    ):
        assert codes(lambda b=bad_list: check_interfaces(b)) == "invalid_parking_config"


def test_set_replaces_the_configuration(world: ConfigWorld) -> None:
    assert codes(lambda: world.configs.config(LOT_APP)) == "parking_service_not_configured"
    first = world.configure(PAGE)
    assert first.userpage_url == PAGE.url
    home = Interface("alipay.eco.mycar.parking.isv.homepage", INTERFACE_TYPE, "2018|pages/a")
    second = world.configure(home, phone="400-800-1234")
    assert (second.id, second.userpage_url, second.service_phone) == (
        first.id,
        None,
        "400-800-1234",
    )
    assert world.configs.config(LOT_APP) == second
    assert codes(lambda: world.configure()) == "invalid_parking_config"
    assert world.configs.config(LOT_APP) == second  # a refused set changes nothing


def test_a_car_id_is_one_per_app_and_binding_and_dies_with_it(world: ConfigWorld) -> None:
    assert codes(lambda: world.configs.open_service(1, LOT_APP)) == "parking_plate_not_bound"
    world.parking.bind(1, PLATE)
    assert codes(lambda: world.configs.open_service(1, LOT_APP)) == (
        "parking_service_not_configured"
    )
    world.configure(PAGE)
    url = world.configs.open_service(1, LOT_APP)
    assert url.startswith(PAGE.url + "&car_id=CAR")  # the page's own query kept
    car_id = url.split("car_id=")[1]
    assert len(car_id) == 27 and world.configs.open_service(1, LOT_APP) == url
    assert world.configs.vehicle(LOT_APP, car_id) == PLATE
    assert codes(lambda: world.configs.vehicle(HOLDER_APP, car_id)) == "parking_car_not_found"
    assert codes(lambda: world.configs.vehicle(LOT_APP, "CAR")) == "parking_car_not_found"
    world.parking.unbind(1)
    assert codes(lambda: world.configs.vehicle(LOT_APP, car_id)) == "parking_car_not_found"
    world.parking.bind(1, PLATE)
    fresh = world.configs.open_service(1, LOT_APP).split("car_id=")[1]
    assert fresh != car_id and world.configs.vehicle(LOT_APP, fresh) == PLATE
    assert codes(lambda: world.configs.vehicle(LOT_APP, car_id)) == "parking_car_not_found"


def test_order_sync_with_a_trade_another_stay_reported(world: ConfigWorld) -> None:
    enabled(world)
    first = world.enter("in-1").order.serial_no
    _order, trade = world.pay(8_00, serial_no=first)
    second = world.enter("in-2").order.serial_no
    paid = PaidElsewhere(
        LOT_APP,
        world.lot.parking_id,
        PLATE,
        "code-1",
        8_00,
        START_US,
        serial_no=second,
        trade_no=trade.trade_no,
    )
    assert codes(lambda: world.lots.sync_paid(paid)) == "parking_trade_linked"
    assert world.order(second).pay_status.value == "UNPAID"  # nothing written
    assert world.balance() == 5_000_00 - 8_00
