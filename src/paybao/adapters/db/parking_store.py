"""SQL for plate-bound parking: lots, plate bindings, parking orders. Core.

Rows a service changes are read `FOR UPDATE` on PostgreSQL (SQLite serialises writers with
BEGIN IMMEDIATE); every change is also compare-and-set. Inserts are plain: a unique race fails
the transaction, and `Database.run` runs it again, when the re-read sees the winner's row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, delete, insert, select, update

from paybao.adapters.db.tables.parking import (
    parking_cars,
    parking_configs,
    parking_lots,
    parking_orders,
    parking_plates,
)
from paybao.domain.parking import PayStatus
from paybao.services.parking_records import (
    Car,
    Lot,
    LotStay,
    ParkingConfig,
    ParkingOrder,
    PlateBinding,
    UserOrder,
)

_LOT_COLUMNS = [f.name for f in dataclasses.fields(Lot)]
_PLATE_COLUMNS = [f.name for f in dataclasses.fields(PlateBinding)]
_ORDER_COLUMNS = [f.name for f in dataclasses.fields(ParkingOrder)]
_CONFIG_COLUMNS = [f.name for f in dataclasses.fields(ParkingConfig)]
_CAR_COLUMNS = [f.name for f in dataclasses.fields(Car)]
_O = parking_orders.c


class SqlParkingStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Lots -----------------------------------------------------------------------------------

    def insert_lot(self, tx: Connection, lot: Lot) -> int:
        values = {name: getattr(lot, name) for name in _LOT_COLUMNS if name != "id"}
        statement = insert(parking_lots).values(**values).returning(parking_lots.c.id)
        return int(tx.execute(statement).scalar_one())

    def lot_by_out_id(self, tx: Connection, merchant_id: int, out_parking_id: str) -> Lot | None:
        c = parking_lots.c
        query = select(parking_lots).where(
            c.merchant_id == merchant_id, c.out_parking_id == out_parking_id
        )
        row = tx.execute(query).mappings().first()
        return _lot(row) if row is not None else None

    def lot_by_parking_id(self, tx: Connection, parking_id: str) -> Lot | None:
        query = select(parking_lots).where(parking_lots.c.parking_id == parking_id)
        row = tx.execute(query).mappings().first()
        return _lot(row) if row is not None else None

    # Plates ---------------------------------------------------------------------------------

    def insert_plate(self, tx: Connection, binding: PlateBinding) -> int:
        values = {name: getattr(binding, name) for name in _PLATE_COLUMNS if name != "id"}
        values["updated_at_us"] = binding.bound_at_us
        statement = insert(parking_plates).values(**values).returning(parking_plates.c.id)
        return int(tx.execute(statement).scalar_one())

    def plate_of_user(
        self, tx: Connection, user_id: int, *, for_update: bool = False
    ) -> PlateBinding | None:
        query = select(parking_plates).where(parking_plates.c.user_id == user_id)
        return self._plate(tx, query, for_update)

    def plate_by_number(self, tx: Connection, plate: str) -> PlateBinding | None:
        query = select(parking_plates).where(parking_plates.c.plate == plate)
        return self._plate(tx, query, for_update=False)

    def _plate(self, tx: Connection, query: Select[Any], for_update: bool) -> PlateBinding | None:
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        if row is None:
            return None
        return PlateBinding(**{name: row[name] for name in _PLATE_COLUMNS})

    def update_plate(
        self, tx: Connection, user_id: int, plate: str, changes: Mapping[str, Any]
    ) -> bool:
        c = parking_plates.c
        statement = (
            update(parking_plates).where(c.user_id == user_id, c.plate == plate).values(**changes)
        )
        return tx.execute(statement).rowcount == 1

    def delete_plate(self, tx: Connection, user_id: int, plate: str) -> bool:
        c = parking_plates.c
        statement = delete(parking_plates).where(c.user_id == user_id, c.plate == plate)
        return tx.execute(statement).rowcount == 1

    # Orders ---------------------------------------------------------------------------------

    def insert_order(self, tx: Connection, order: ParkingOrder) -> int:
        values = {name: _db_value(getattr(order, name)) for name in _ORDER_COLUMNS if name != "id"}
        values["updated_at_us"] = order.created_at_us
        statement = insert(parking_orders).values(**values).returning(_O.id)
        return int(tx.execute(statement).scalar_one())

    def order_by_out_serial(
        self, tx: Connection, lot_id: int, out_serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        query = select(parking_orders).where(_O.lot_id == lot_id, _O.out_serial_no == out_serial_no)
        return self._order(tx, query, for_update)

    def order_by_serial(
        self, tx: Connection, serial_no: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        query = select(parking_orders).where(_O.serial_no == serial_no)
        return self._order(tx, query, for_update)

    def order_by_out_order(
        self, tx: Connection, lot_id: int, out_order_no: str
    ) -> ParkingOrder | None:
        query = select(parking_orders).where(_O.lot_id == lot_id, _O.out_order_no == out_order_no)
        return self._order(tx, query, for_update=False)

    def order_by_trade_no(self, tx: Connection, trade_no: str) -> ParkingOrder | None:
        query = select(parking_orders).where(_O.trade_no == trade_no)
        return self._order(tx, query, for_update=False)

    def latest_unsettled(
        self, tx: Connection, lot_id: int, plate: str, *, for_update: bool = False
    ) -> ParkingOrder | None:
        unsettled = [str(PayStatus.UNPAID), str(PayStatus.REFUSED)]
        query = (
            select(parking_orders)
            .where(_O.lot_id == lot_id, _O.plate == plate, _O.pay_status.in_(unsettled))
            .order_by(_O.id.desc())
            .limit(1)
        )
        return self._order(tx, query, for_update)

    def latest_stay(self, tx: Connection, lot_id: int, plate: str) -> ParkingOrder | None:
        query = (
            select(parking_orders)
            .where(_O.lot_id == lot_id, _O.plate == plate)
            .order_by(_O.id.desc())
            .limit(1)
        )
        return self._order(tx, query, for_update=False)

    def update_order(
        self,
        tx: Connection,
        order_id: int,
        expect: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> bool:
        conditions = [_O.id == order_id]
        for name, value in expect.items():
            column = _O[name]
            conditions.append(column.is_(None) if value is None else column == _db_value(value))
        values = {name: _db_value(value) for name, value in changes.items()}
        result = tx.execute(update(parking_orders).where(and_(*conditions)).values(**values))
        return result.rowcount == 1

    def orders_of_user(self, tx: Connection, user_id: int, limit: int) -> list[UserOrder]:
        query = (
            select(parking_orders, parking_lots.c.name.label("lot_name"))
            .join(parking_lots, parking_lots.c.id == _O.lot_id)
            .where(_O.user_id == user_id)
            .order_by(_O.id.desc())
            .limit(limit)
        )
        return [UserOrder(_order(row), row["lot_name"]) for row in tx.execute(query).mappings()]

    # Service configurations and car ids ------------------------------------------------------

    def config_of_app(self, tx: Connection, app_id: str) -> ParkingConfig | None:
        query = select(parking_configs).where(parking_configs.c.app_id == app_id)
        row = tx.execute(query).mappings().first()
        return _config(row) if row is not None else None

    def insert_config(self, tx: Connection, config: ParkingConfig) -> int:
        values = {name: getattr(config, name) for name in _CONFIG_COLUMNS if name != "id"}
        statement = insert(parking_configs).values(**values).returning(parking_configs.c.id)
        return int(tx.execute(statement).scalar_one())

    def update_config(self, tx: Connection, app_id: str, changes: Mapping[str, Any]) -> bool:
        statement = (
            update(parking_configs).where(parking_configs.c.app_id == app_id).values(**changes)
        )
        return tx.execute(statement).rowcount == 1

    def configs_for_user(self, tx: Connection, user_id: int, limit: int) -> list[ParkingConfig]:
        c = parking_configs.c
        merchants = select(_O.merchant_id).where(_O.user_id == user_id).distinct()
        query = (
            select(parking_configs)
            .where(c.merchant_id.in_(merchants), c.userpage_url.is_not(None))
            .order_by(c.id)
            .limit(limit)
        )
        return [_config(row) for row in tx.execute(query).mappings()]

    def car_of(self, tx: Connection, app_id: str, plate_id: int) -> Car | None:
        c = parking_cars.c
        query = select(parking_cars).where(c.app_id == app_id, c.plate_id == plate_id)
        row = tx.execute(query).mappings().first()
        return Car(**{name: row[name] for name in _CAR_COLUMNS}) if row is not None else None

    def car_by_id(self, tx: Connection, car_id: str) -> Car | None:
        query = select(parking_cars).where(parking_cars.c.car_id == car_id)
        row = tx.execute(query).mappings().first()
        return Car(**{name: row[name] for name in _CAR_COLUMNS}) if row is not None else None

    def insert_car(self, tx: Connection, car: Car) -> int:
        values = {name: getattr(car, name) for name in _CAR_COLUMNS if name != "id"}
        statement = insert(parking_cars).values(**values).returning(parking_cars.c.id)
        return int(tx.execute(statement).scalar_one())

    def plate_by_id(self, tx: Connection, plate_id: int) -> PlateBinding | None:
        query = select(parking_plates).where(parking_plates.c.id == plate_id)
        return self._plate(tx, query, for_update=False)

    def delete_cars_of_plate(self, tx: Connection, plate_id: int) -> int:
        statement = delete(parking_cars).where(parking_cars.c.plate_id == plate_id)
        return int(tx.execute(statement).rowcount)

    # Portal and console reads -----------------------------------------------------------------

    def lots_of_merchant(self, tx: Connection, merchant_id: int | None, limit: int) -> list[Lot]:
        query = select(parking_lots).order_by(parking_lots.c.id.desc()).limit(limit)
        if merchant_id is not None:
            query = query.where(parking_lots.c.merchant_id == merchant_id)
        return [_lot(row) for row in tx.execute(query).mappings()]

    def stays(
        self,
        tx: Connection,
        *,
        merchant_id: int | None,
        status: PayStatus | None,
        before_id: int | None,
        limit: int,
    ) -> list[LotStay]:
        query = select(
            parking_orders,
            parking_lots.c.name.label("lot_name"),
            parking_lots.c.parking_id.label("lot_parking_id"),
        ).join(parking_lots, parking_lots.c.id == _O.lot_id)
        if merchant_id is not None:
            query = query.where(_O.merchant_id == merchant_id)
        if status is not None:
            query = query.where(_O.pay_status == str(status))
        if before_id is not None:
            query = query.where(_O.id < before_id)
        query = query.order_by(_O.id.desc()).limit(limit)
        rows = tx.execute(query).mappings()
        return [LotStay(_order(row), row["lot_name"], row["lot_parking_id"]) for row in rows]

    def _order(self, tx: Connection, query: Select[Any], for_update: bool) -> ParkingOrder | None:
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _order(row) if row is not None else None


def _db_value(value: Any) -> Any:
    return str(value) if isinstance(value, Enum) else value


def _lot(row: RowMapping) -> Lot:
    return Lot(**{name: row[name] for name in _LOT_COLUMNS})


def _config(row: RowMapping) -> ParkingConfig:
    return ParkingConfig(**{name: row[name] for name in _CONFIG_COLUMNS})


def _order(row: RowMapping) -> ParkingOrder:
    values = {name: row[name] for name in _ORDER_COLUMNS}
    values["pay_status"] = PayStatus(values["pay_status"])
    return ParkingOrder(**values)


__all__ = ["SqlParkingStore"]
