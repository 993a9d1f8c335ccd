"""Plate-bound parking records (lots, plate bindings, parking orders) and the store port."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from paybao.domain.parking import PayStatus
from paybao.services.ports import Tx

SERIAL_NO_LENGTH = 22
PARKING_ID_LENGTH = 21


@dataclass(frozen=True, slots=True)
class Lot:
    id: int
    parking_id: str  # ours, Alipay's "PI..." parking_id
    merchant_id: int
    app_id: str
    out_parking_id: str
    name: str
    address: str
    fingerprint: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class PlateBinding:
    id: int
    user_id: int
    plate: str
    single_cap_fen: int
    agreement_no: str | None
    bound_at_us: int


@dataclass(frozen=True, slots=True)
class ParkingOrder:
    """One stay of a car at a lot, from the entry the lot reported to its payment."""

    id: int
    serial_no: str  # ours: Alipay's serial_no / parking_record_id
    lot_id: int
    merchant_id: int
    plate: str
    user_id: int | None
    out_serial_no: str
    in_at_us: int
    out_at_us: int | None
    pay_status: PayStatus
    amount_fen: int | None
    trade_no: str | None
    out_trade_no: str | None
    out_order_no: str | None
    failure_code: str | None
    paid_at_us: int | None
    created_at_us: int


@dataclass(frozen=True, slots=True)
class UserOrder:
    order: ParkingOrder
    lot_name: str


@dataclass(frozen=True, slots=True)
class ParkingConfig:
    """A car park app's service configuration (alipay.eco.mycar.parking.config.set)."""

    id: int
    app_id: str
    merchant_id: int
    merchant_name: str
    service_phone: str
    account_no: str
    logo: str | None
    interfaces: str  # the interface_info_list as JSON
    userpage_url: str | None
    created_at_us: int
    updated_at_us: int


@dataclass(frozen=True, slots=True)
class Car:
    """A car id issued to one app for one plate binding (vehicle.query answers its plate)."""

    id: int
    car_id: str
    app_id: str
    user_id: int
    plate_id: int
    plate: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class LotStay:
    """A stay as a merchant or an operator sees it: with its lot's name and parking_id."""

    order: ParkingOrder
    lot_name: str
    parking_id: str


class ParkingStore(Protocol):
    # Lots
    def insert_lot(self, tx: Tx, lot: Lot) -> int: ...

    def lot_by_out_id(self, tx: Tx, merchant_id: int, out_parking_id: str) -> Lot | None: ...

    def lot_by_parking_id(self, tx: Tx, parking_id: str) -> Lot | None: ...

    # Plates
    def insert_plate(self, tx: Tx, binding: PlateBinding) -> int:
        """A plain insert: a taken plate or user fails the transaction (retried)."""
        ...

    def plate_of_user(
        self, tx: Tx, user_id: int, *, for_update: bool = False
    ) -> PlateBinding | None: ...

    def plate_by_number(self, tx: Tx, plate: str) -> PlateBinding | None: ...

    def update_plate(self, tx: Tx, user_id: int, plate: str, changes: Mapping[str, Any]) -> bool:
        """Compare-and-set: only while this user still has this plate."""
        ...

    def delete_plate(self, tx: Tx, user_id: int, plate: str) -> bool: ...

    # Orders
    def insert_order(self, tx: Tx, order: ParkingOrder) -> int:
        """A plain insert: a taken (lot, out_serial_no) fails the transaction (retried)."""
        ...

    def order_by_out_serial(
        self, tx: Tx, lot_id: int, out_serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None: ...

    def order_by_serial(
        self, tx: Tx, serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None: ...

    def order_by_out_order(self, tx: Tx, lot_id: int, out_order_no: str) -> ParkingOrder | None: ...

    def order_by_trade_no(self, tx: Tx, trade_no: str) -> ParkingOrder | None: ...

    def latest_unsettled(
        self, tx: Tx, lot_id: int, plate: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        """The plate's newest order at the lot that is not paid yet."""
        ...

    def latest_stay(self, tx: Tx, lot_id: int, plate: str) -> ParkingOrder | None: ...

    def update_order(
        self, tx: Tx, order_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply `changes` only if the row still holds `expect`."""
        ...

    def orders_of_user(self, tx: Tx, user_id: int, limit: int) -> list[UserOrder]: ...

    # Service configurations and car ids
    def config_of_app(self, tx: Tx, app_id: str) -> ParkingConfig | None: ...

    def insert_config(self, tx: Tx, config: ParkingConfig) -> int:
        """A plain insert: a twin's insert fails the transaction (retried: then an update)."""
        ...

    def update_config(self, tx: Tx, app_id: str, changes: Mapping[str, Any]) -> bool: ...

    def configs_for_user(self, tx: Tx, user_id: int, limit: int) -> list[ParkingConfig]:
        """Configs with a driver's page of the merchants whose lots this user parked at."""
        ...

    def car_of(self, tx: Tx, app_id: str, plate_id: int) -> Car | None: ...

    def car_by_id(self, tx: Tx, car_id: str) -> Car | None: ...

    def insert_car(self, tx: Tx, car: Car) -> int:
        """A plain insert: a twin's (app, plate) fails the transaction (retried)."""
        ...

    def plate_by_id(self, tx: Tx, plate_id: int) -> PlateBinding | None: ...

    def delete_cars_of_plate(self, tx: Tx, plate_id: int) -> int: ...

    # Portal and console reads (newest first, paged by id)
    def lots_of_merchant(self, tx: Tx, merchant_id: int | None, limit: int) -> list[Lot]: ...

    def stays(
        self,
        tx: Tx,
        *,
        merchant_id: int | None,
        status: PayStatus | None,
        before_id: int | None,
        limit: int,
    ) -> list[LotStay]: ...


def new_serial_no(today: date) -> str:
    """22 digits: the Beijing date, then 14 random digits."""
    number = f"{today:%Y%m%d}{secrets.randbelow(10**14):014d}"
    assert len(number) == SERIAL_NO_LENGTH
    return number


def new_car_id() -> str:
    """An opaque bearer of the driver's consent: 'CAR' and 24 hex digits (96 random bits)."""
    return f"CAR{secrets.token_hex(12).upper()}"


def new_parking_id() -> str:
    """Like Alipay's: PI and 19 digits."""
    number = f"PI{secrets.randbelow(10**19):019d}"
    assert len(number) == PARKING_ID_LENGTH
    return number
