"""SQL for pre-authorisation orders and their operations. Core.

Rows a service changes are read `FOR UPDATE` on PostgreSQL (SQLite serialises writers with
BEGIN IMMEDIATE); every change of an order is also compare-and-set, so a lost lock cannot pay
or unfreeze the same money twice. Inserts are plain: a unique race fails the transaction, and
`Database.run` runs it again, when the re-read sees the winner's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from enum import Enum
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, case, insert, select, update

from paybao.adapters.db.tables.preauth import preauth_operations, preauth_orders
from paybao.domain.preauth import EndedBy, OperationStatus, OperationType, OrderStatus
from paybao.services.preauth_records import Operation, OperationRef, PreauthOrder

_ORDER_FIELDS = tuple(f.name for f in fields(PreauthOrder))
_OPERATION_FIELDS = tuple(f.name for f in fields(Operation))
_OPEN = (str(OrderStatus.INIT), str(OrderStatus.AUTHORIZED))


class SqlPreauthStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Orders -------------------------------------------------------------------------------

    def insert_order(self, tx: Connection, order: PreauthOrder) -> int:
        values = {name: _db(getattr(order, name)) for name in _ORDER_FIELDS if name != "id"}
        statement = insert(preauth_orders).values(**values).returning(preauth_orders.c.id)
        return int(tx.execute(statement).scalar_one())

    def order_by_auth_no(
        self, tx: Connection, auth_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        query = select(preauth_orders).where(preauth_orders.c.auth_no == auth_no)
        return self._one(tx, query, for_update)

    def order_by_out_no(
        self, tx: Connection, app_id: str, out_order_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        o = preauth_orders.c
        query = select(preauth_orders).where(o.app_id == app_id, o.out_order_no == out_order_no)
        return self._one(tx, query, for_update)

    def order_by_token(
        self, tx: Connection, token: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        query = select(preauth_orders).where(preauth_orders.c.confirm_token == token)
        return self._one(tx, query, for_update)

    def update_order(
        self,
        tx: Connection,
        order_id: int,
        expect: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> bool:
        conditions = [preauth_orders.c.id == order_id]
        for name, value in expect.items():
            column = preauth_orders.c[name]
            conditions.append(column.is_(None) if value is None else column == _db(value))
        values = {name: _db(value) for name, value in changes.items()}
        result = tx.execute(update(preauth_orders).where(and_(*conditions)).values(**values))
        return result.rowcount == 1

    def orders_of(self, tx: Connection, user_id: int, limit: int) -> list[PreauthOrder]:
        o = preauth_orders.c
        still_open = case((o.status.in_(_OPEN), 0), else_=1)
        query = (
            select(preauth_orders)
            .where(o.user_id == user_id)
            .order_by(still_open, o.id.desc())
            .limit(limit)
        )
        return [_order(row) for row in tx.execute(query).mappings()]

    def _one(self, tx: Connection, query: Select[Any], for_update: bool) -> PreauthOrder | None:
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _order(row) if row is not None else None

    # Operations ---------------------------------------------------------------------------

    def insert_operation(self, tx: Connection, operation: Operation) -> int:
        values = {name: _db(getattr(operation, name)) for name in _OPERATION_FIELDS if name != "id"}
        statement = insert(preauth_operations).values(**values).returning(preauth_operations.c.id)
        return int(tx.execute(statement).scalar_one())

    def update_operation(
        self, tx: Connection, operation_id: int, expect_status: str, changes: Mapping[str, Any]
    ) -> bool:
        p = preauth_operations.c
        values = {name: _db(value) for name, value in changes.items()}
        result = tx.execute(
            update(preauth_operations)
            .where(p.id == operation_id, p.status == str(expect_status))
            .values(**values)
        )
        return result.rowcount == 1

    def operation(self, tx: Connection, order_id: int, ref: OperationRef) -> Operation | None:
        p = preauth_operations.c
        conditions = [p.order_id == order_id]
        if ref.operation_id:
            conditions.append(p.operation_id == ref.operation_id)
        elif ref.out_request_no:
            conditions.append(p.out_request_no == ref.out_request_no)
        else:
            return None
        if ref.kind is not None:
            conditions.append(p.kind == str(ref.kind))
        row = tx.execute(select(preauth_operations).where(*conditions)).mappings().first()
        return _operation(row) if row is not None else None

    def freeze_operation(self, tx: Connection, order_id: int) -> Operation | None:
        p = preauth_operations.c
        query = select(preauth_operations).where(
            p.order_id == order_id, p.kind == str(OperationType.FREEZE)
        )
        row = tx.execute(query).mappings().first()
        return _operation(row) if row is not None else None

    def operations_of(self, tx: Connection, order_id: int, limit: int) -> list[Operation]:
        p = preauth_operations.c
        query = (
            select(preauth_operations)
            .where(p.order_id == order_id)
            .order_by(p.id.desc())
            .limit(limit)
        )
        return [_operation(row) for row in tx.execute(query).mappings()]


def _db(value: Any) -> Any:
    return str(value) if isinstance(value, Enum) else value


def _order(row: RowMapping) -> PreauthOrder:
    values = {name: row[name] for name in _ORDER_FIELDS}
    values["status"] = OrderStatus(values["status"])
    if values["ended_by"] is not None:
        values["ended_by"] = EndedBy(values["ended_by"])
    return PreauthOrder(**values)


def _operation(row: RowMapping) -> Operation:
    values = {name: row[name] for name in _OPERATION_FIELDS}
    values["kind"] = OperationType(values["kind"])
    values["status"] = OperationStatus(values["status"])
    return Operation(**values)


__all__ = ["SqlPreauthStore"]
