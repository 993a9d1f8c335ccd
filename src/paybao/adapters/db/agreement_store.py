"""SQL for withholding agreements, their deductions and the users' withholding totals. Core.

Rows a service changes are read `FOR UPDATE` on PostgreSQL (SQLite serialises writers with
BEGIN IMMEDIATE); every status change is also compare-and-set, so a lost lock cannot end or
charge an agreement twice. Inserts are plain: a unique race fails the transaction, and
`Database.run` runs it again, when the re-read sees the winner's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, func, insert, select, text, update

from paybao.adapters.db.tables.agreements import (
    agreement_deductions,
    agreements,
)
from paybao.adapters.db.tables.trade import trades
from paybao.domain.agreements import AgreementStatus, Party, PeriodRule, PeriodType, Product
from paybao.services.agreements import Agreement, AgreementRef, Deduction

_RULE_COLUMNS = (
    "period_type",
    "period",
    "execute_date",
    "single_amount_fen",
    "total_amount_fen",
    "total_payments",
)
_COLUMNS = [c.name for c in agreements.columns if c.name not in _RULE_COLUMNS]
_ADD_USAGE = text(
    "INSERT INTO withholding_usage (user_id, period, used_fen) VALUES (:u, :p, :a)"
    " ON CONFLICT (user_id, period)"
    " DO UPDATE SET used_fen = withholding_usage.used_fen + excluded.used_fen"
    " RETURNING used_fen"
)


class SqlAgreementStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Agreements ---------------------------------------------------------------------------

    def insert(self, tx: Connection, agreement: Agreement) -> int:
        values = {name: _db_value(getattr(agreement, name)) for name in _COLUMNS if name != "id"}
        values.update(_rule_values(agreement.rule))
        statement = insert(agreements).values(**values).returning(agreements.c.id)
        return int(tx.execute(statement).scalar_one())

    def by_no(
        self, tx: Connection, agreement_no: str, *, for_update: bool = False
    ) -> Agreement | None:
        query = select(agreements).where(agreements.c.agreement_no == agreement_no)
        return self._one(tx, query, for_update)

    def by_token(self, tx: Connection, token: str, *, for_update: bool = False) -> Agreement | None:
        query = select(agreements).where(agreements.c.sign_token == token)
        return self._one(tx, query, for_update)

    def by_live_key(self, tx: Connection, live_key: str) -> Agreement | None:
        query = select(agreements).where(agreements.c.live_key == live_key)
        return self._one(tx, query, for_update=True)

    def find(self, tx: Connection, merchant_id: int, ref: AgreementRef) -> Agreement | None:
        mine = agreements.c.merchant_id == merchant_id
        if ref.agreement_no:
            query = select(agreements).where(mine, agreements.c.agreement_no == ref.agreement_no)
            return self._one(tx, query, for_update=False)
        assert ref.product is not None
        conditions = [
            mine,
            agreements.c.product == str(ref.product),
            agreements.c.status == str(AgreementStatus.NORMAL),
        ]
        if ref.user_id is not None:
            conditions.append(agreements.c.user_id == ref.user_id)
        if ref.sign_scene:
            conditions.append(agreements.c.sign_scene == ref.sign_scene)
        if ref.external_agreement_no:
            conditions.append(agreements.c.external_agreement_no == ref.external_agreement_no)
        query = select(agreements).where(and_(*conditions)).order_by(agreements.c.id.desc())
        return self._one(tx, query.limit(1), for_update=False)

    def update(
        self,
        tx: Connection,
        agreement_id: int,
        expect: Mapping[str, Any],
        changes: Mapping[str, Any],
    ) -> bool:
        conditions = [agreements.c.id == agreement_id]
        for name, value in expect.items():
            column = agreements.c[name]
            conditions.append(column.is_(None) if value is None else column == _db_value(value))
        values = {name: _db_value(value) for name, value in changes.items()}
        result = tx.execute(update(agreements).where(and_(*conditions)).values(**values))
        return result.rowcount == 1

    def of_user(self, tx: Connection, user_id: int, limit: int) -> list[Agreement]:
        # Signed ones first (NORMAL sorts before UNSIGN), newest first within each.
        query = (
            select(agreements)
            .where(agreements.c.user_id == user_id)
            .order_by(agreements.c.status, agreements.c.id.desc())
            .limit(limit)
        )
        return [_agreement(row) for row in tx.execute(query).mappings()]

    def _one(self, tx: Connection, query: Select[Any], for_update: bool) -> Agreement | None:
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _agreement(row) if row is not None else None

    # Deductions and totals ----------------------------------------------------------------

    def insert_deduction(self, tx: Connection, deduction: Deduction) -> None:
        values = {
            "agreement_id": deduction.agreement_id,
            "trade_no": deduction.trade_no,
            "user_id": deduction.user_id,
            "amount_fen": deduction.amount_fen,
            "period_index": deduction.period_index,
            "china_day": deduction.china_day,
            "china_month": deduction.china_month,
            "created_at_us": deduction.created_at_us,
        }
        tx.execute(insert(agreement_deductions).values(**values))

    def deductions_of(self, tx: Connection, agreement_id: int, limit: int) -> list[Deduction]:
        d = agreement_deductions.c
        # The trade's total beside what the user paid: the page shows what coupons took.
        query = (
            select(agreement_deductions, trades.c.total_fen)
            .outerjoin(trades, trades.c.trade_no == d.trade_no)
            .where(d.agreement_id == agreement_id)
            .order_by(d.id.desc())
            .limit(limit)
        )
        return [
            Deduction(
                agreement_id=row["agreement_id"],
                trade_no=row["trade_no"],
                user_id=row["user_id"],
                amount_fen=row["amount_fen"],
                period_index=row["period_index"],
                china_day=row["china_day"],
                china_month=row["china_month"],
                created_at_us=row["created_at_us"],
                total_fen=row["total_fen"],
            )
            for row in tx.execute(query).mappings()
        ]

    def period_used(self, tx: Connection, agreement_id: int, period_index: int) -> bool:
        d = agreement_deductions.c
        query = select(d.id).where(d.agreement_id == agreement_id, d.period_index == period_index)
        return tx.execute(query.limit(1)).first() is not None

    def month_fen(self, tx: Connection, agreement_id: int, china_month: str) -> int:
        d = agreement_deductions.c
        query = select(func.coalesce(func.sum(d.amount_fen), 0)).where(
            d.agreement_id == agreement_id, d.china_month == china_month
        )
        return int(tx.execute(query).scalar_one())

    def add_usage(self, tx: Connection, user_id: int, period: str, amount_fen: int) -> int:
        assert amount_fen > 0 and len(period) <= 12
        params = {"u": user_id, "p": period, "a": amount_fen}
        return int(tx.execute(_ADD_USAGE, params).scalar_one())


def _db_value(value: Any) -> Any:
    return str(value) if isinstance(value, Enum) else value


def _rule_values(rule: PeriodRule | None) -> dict[str, Any]:
    if rule is None:
        return dict.fromkeys(_RULE_COLUMNS)
    return {
        "period_type": str(rule.period_type),
        "period": rule.period,
        "execute_date": rule.execute_date.isoformat(),
        "single_amount_fen": rule.single_amount_fen,
        "total_amount_fen": rule.total_amount_fen,
        "total_payments": rule.total_payments,
    }


def _rule(row: RowMapping) -> PeriodRule | None:
    if row["period_type"] is None:
        return None
    return PeriodRule(
        period_type=PeriodType(row["period_type"]),
        period=int(row["period"]),
        execute_date=date.fromisoformat(row["execute_date"]),
        single_amount_fen=int(row["single_amount_fen"]),
        total_amount_fen=row["total_amount_fen"],
        total_payments=row["total_payments"],
    )


def _agreement(row: RowMapping) -> Agreement:
    values = {name: row[name] for name in _COLUMNS}
    values["status"] = AgreementStatus(values["status"])
    values["product"] = Product(values["product"])
    if values["unsigned_by"] is not None:
        values["unsigned_by"] = Party(values["unsigned_by"])
    return Agreement(rule=_rule(row), **values)


__all__ = ["SqlAgreementStore"]
