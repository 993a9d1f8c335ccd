"""SQL for transit ride codes. Core.

Rows a service changes are read `FOR UPDATE` on PostgreSQL (SQLite serialises writers with
BEGIN IMMEDIATE); every change is also compare-and-set, so a lost lock cannot count a debt
twice. Inserts are plain: a unique race fails the transaction and `Database.run` runs it
again, when the re-read sees the winner's row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, insert, select, update

from paybao.adapters.db.tables.transit import (
    transit_accounts,
    transit_code_uses,
    transit_issuer_keys,
    transit_operators,
    transit_rides,
)
from paybao.domain.transit import AccountStatus, FareRule, OperatorKind, RideStatus
from paybao.services.transit_records import IssuerKey, Operator, RideRecord, TransitAccount

_ACCOUNT_COLUMNS = [c.name for c in transit_accounts.columns]
_RIDE_COLUMNS = [c.name for c in transit_rides.columns]


class SqlTransitStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Operators and keys -----------------------------------------------------------------

    def operator(self, tx: Connection, app_id: str) -> Operator | None:
        query = select(transit_operators).where(transit_operators.c.app_id == app_id)
        row = tx.execute(query).mappings().first()
        return _operator(row) if row is not None else None

    def operators(self, tx: Connection, limit: int) -> list[Operator]:
        query = select(transit_operators).order_by(transit_operators.c.app_id).limit(limit)
        return [_operator(row) for row in tx.execute(query).mappings()]

    def save_operator(self, tx: Connection, operator: Operator) -> None:
        fare = operator.fare
        rule = (
            {"flat_fen": fare.flat_fen}
            if fare.kind is OperatorKind.BUS
            else {"zones": dict(fare.zones), "zone_fares_fen": list(fare.zone_fares_fen)}
        )
        values = {
            "merchant_id": operator.merchant_id,
            "name": operator.name,
            "kind": str(fare.kind),
            "fare_rule": json.dumps(rule, sort_keys=True),
        }
        t = transit_operators
        done = tx.execute(update(t).where(t.c.app_id == operator.app_id).values(**values))
        if done.rowcount == 0:
            tx.execute(insert(t).values(app_id=operator.app_id, **values))

    def issuer_key(self, tx: Connection, key_id: int) -> IssuerKey | None:
        t = transit_issuer_keys
        row = tx.execute(select(t).where(t.c.key_id == key_id)).mappings().first()
        return _key(row) if row is not None else None

    def insert_issuer_key(self, tx: Connection, key: IssuerKey) -> None:
        values = {
            "key_id": key.key_id,
            "public_key": key.public_key.hex(),
            "sealed_private": key.sealed_private,
            "created_at_us": key.created_at_us,
        }
        tx.execute(insert(transit_issuer_keys).values(**values))

    def issuer_keys(
        self, tx: Connection, *, newest: int | None = None, ids: list[int] | None = None
    ) -> list[IssuerKey]:
        t = transit_issuer_keys
        query = select(t).order_by(t.c.key_id.desc())
        if ids is not None:
            query = query.where(t.c.key_id.in_(ids))
        if newest is not None:
            query = query.limit(newest)
        return [_key(row) for row in tx.execute(query).mappings()]

    # Accounts ---------------------------------------------------------------------------

    def insert_account(self, tx: Connection, account: TransitAccount) -> int:
        values = {n: _db(getattr(account, n)) for n in _ACCOUNT_COLUMNS if n != "id"}
        statement = insert(transit_accounts).values(**values).returning(transit_accounts.c.id)
        return int(tx.execute(statement).scalar_one())

    def live_account(
        self, tx: Connection, user_id: int, app_id: str, *, for_update: bool = False
    ) -> TransitAccount | None:
        query = select(transit_accounts).where(transit_accounts.c.live_key == f"{user_id}|{app_id}")
        return self._one(tx, query, for_update)

    def account(
        self, tx: Connection, account_id: int, *, for_update: bool = False
    ) -> TransitAccount | None:
        query = select(transit_accounts).where(transit_accounts.c.id == account_id)
        return self._one(tx, query, for_update)

    def accounts_of(self, tx: Connection, user_id: int, limit: int) -> list[TransitAccount]:
        t = transit_accounts
        query = (
            select(t)
            .where(t.c.user_id == user_id, t.c.live_key.is_not(None))
            .order_by(t.c.id)
            .limit(limit)
        )
        return [_account(row) for row in tx.execute(query).mappings()]

    def update_account(
        self,
        tx: Connection,
        account_id: int,
        expect: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> bool:
        return _compare_and_set(tx, transit_accounts, account_id, expect, changes)

    def blacklist(self, tx: Connection, app_id: str, offset: int, limit: int) -> list[int]:
        t = transit_accounts
        query = (
            select(t.c.user_id)
            .where(t.c.app_id == app_id, t.c.status == str(AccountStatus.SUSPENDED))
            .order_by(t.c.user_id)
            .offset(offset)
            .limit(limit)
        )
        return [int(user_id) for user_id in tx.execute(query).scalars()]

    def _one(self, tx: Connection, query: Select[Any], for_update: bool) -> TransitAccount | None:
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _account(row) if row is not None else None

    # Rides ------------------------------------------------------------------------------

    def insert_ride(self, tx: Connection, ride: RideRecord, code_digests: list[str]) -> int:
        values = {n: _db(getattr(ride, n)) for n in _RIDE_COLUMNS if n != "id"}
        statement = insert(transit_rides).values(**values).returning(transit_rides.c.id)
        ride_id = int(tx.execute(statement).scalar_one())
        for digest in code_digests:
            tx.execute(insert(transit_code_uses).values(digest=digest, ride_id=ride_id))
        return ride_id

    def ride(
        self, tx: Connection, app_id: str, out_trade_no: str, *, for_update: bool = False
    ) -> RideRecord | None:
        t = transit_rides
        query = select(t).where(t.c.app_id == app_id, t.c.out_trade_no == out_trade_no)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _ride(row) if row is not None else None

    def ride_of_code(self, tx: Connection, digest: str) -> int | None:
        t = transit_code_uses
        found = tx.execute(select(t.c.ride_id).where(t.c.digest == digest)).scalar()
        return int(found) if found is not None else None

    def update_ride(
        self, tx: Connection, ride_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        return _compare_and_set(tx, transit_rides, ride_id, expect, changes)

    def rides_of(
        self, tx: Connection, account_id: int, limit: int, status: RideStatus | None = None
    ) -> list[RideRecord]:
        t = transit_rides
        query = select(t).where(t.c.account_id == account_id)
        if status is not None:
            query = query.where(t.c.status == str(status)).order_by(t.c.id)
        else:
            query = query.order_by(t.c.id.desc())
        return [_ride(row) for row in tx.execute(query.limit(limit)).mappings()]

    def pending_rides(self, tx: Connection, created_before_us: int, limit: int) -> list[RideRecord]:
        t = transit_rides
        query = (
            select(t)
            .where(t.c.status == str(RideStatus.PENDING), t.c.created_at_us < created_before_us)
            .order_by(t.c.created_at_us, t.c.id)
            .limit(limit)
        )
        return [_ride(row) for row in tx.execute(query).mappings()]


def _compare_and_set(
    tx: Connection, table: Any, row_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
) -> bool:
    conditions = [table.c.id == row_id]
    for name, value in expect.items():
        column = table.c[name]
        conditions.append(column.is_(None) if value is None else column == _db(value))
    values = {name: _db(value) for name, value in changes.items()}
    return tx.execute(update(table).where(and_(*conditions)).values(**values)).rowcount == 1


def _db(value: Any) -> Any:
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _operator(row: RowMapping) -> Operator:
    kind = OperatorKind(row["kind"])
    rule = json.loads(row["fare_rule"])
    if kind is OperatorKind.BUS:
        fare = FareRule(kind, flat_fen=int(rule["flat_fen"]))
    else:
        zones = {str(k): int(v) for k, v in rule["zones"].items()}
        fare = FareRule(kind, zones=zones, zone_fares_fen=tuple(rule["zone_fares_fen"]))
    return Operator(row["app_id"], int(row["merchant_id"]), row["name"], fare)


def _key(row: RowMapping) -> IssuerKey:
    return IssuerKey(
        int(row["key_id"]),
        bytes.fromhex(row["public_key"]),
        row["sealed_private"],
        int(row["created_at_us"]),
    )


def _account(row: RowMapping) -> TransitAccount:
    values = {name: row[name] for name in _ACCOUNT_COLUMNS}
    values["status"] = AccountStatus(values["status"])
    values["public_key"] = bytes.fromhex(values["public_key"])
    return TransitAccount(**values)


def _ride(row: RowMapping) -> RideRecord:
    values = {name: row[name] for name in _RIDE_COLUMNS}
    values["status"] = RideStatus(values["status"])
    return RideRecord(**values)


__all__ = ["SqlTransitStore"]
