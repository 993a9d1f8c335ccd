"""SQL for settlement, bills and the daily reconciliation (SQLite and PostgreSQL alike).

Reads of other features' tables (trades, refunds, users, wallet top-ups and withdrawals, the
ledger) are plain SELECTs: this module never writes them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.ledger import ledger_transfers
from paybao.adapters.db.tables.merchant import merchant_apps, merchants
from paybao.adapters.db.tables.settlement import (
    bill_files,
    merchant_settlement_cards,
    merchant_settlements,
    reconcile_runs,
)
from paybao.domain.settlement import SettlementKind, SettlementStatus
from paybao.services.settlement import Settlement

PENDING_FLAG = 2
POST_FLAG = 4
VOID_FLAG = 8


class SqlSettlementStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def _insert(self) -> Any:
        return pg_insert if self.dialect == "postgresql" else sqlite_insert

    # Cards and rows ---------------------------------------------------------------------

    def bind_card(self, tx: Connection, merchant_id: int, card_number: str, now_us: int) -> None:
        statement = self._insert()(merchant_settlement_cards).values(
            merchant_id=merchant_id, card_number=card_number, bound_at_us=now_us
        )
        tx.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id"],
                set_={"card_number": card_number, "bound_at_us": now_us},
            )
        )

    def card_of(self, tx: Connection, merchant_id: int) -> str | None:
        query = select(merchant_settlement_cards.c.card_number).where(
            merchant_settlement_cards.c.merchant_id == merchant_id
        )
        found = tx.execute(query).scalar()
        return None if found is None else str(found)

    def insert(self, tx: Connection, values: dict[str, Any]) -> int | None:
        statement = (
            self._insert()(merchant_settlements)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["request_key"])
            .returning(merchant_settlements.c.id)
        )
        found = tx.execute(statement).scalar()
        return None if found is None else int(found)

    def get(self, tx: Connection, settlement_id: int, *, for_update: bool = False) -> Settlement:
        query = select(merchant_settlements).where(merchant_settlements.c.id == settlement_id)
        if for_update:
            query = query.with_for_update()
        row = tx.execute(query).mappings().one()
        return _settlement(row)

    def by_key(self, tx: Connection, request_key: str) -> Settlement | None:
        query = select(merchant_settlements).where(
            merchant_settlements.c.request_key == request_key
        )
        row = tx.execute(query).mappings().first()
        return None if row is None else _settlement(row)

    def update(self, tx: Connection, settlement_id: int, expect_status: str, **values: Any) -> bool:
        statement = (
            update(merchant_settlements)
            .where(merchant_settlements.c.id == settlement_id)
            .where(merchant_settlements.c.status == expect_status)
            .values(**values)
        )
        return bool(tx.execute(statement).rowcount == 1)

    def of_merchant(self, tx: Connection, merchant_id: int, limit: int) -> list[Settlement]:
        query = (
            select(merchant_settlements)
            .where(merchant_settlements.c.merchant_id == merchant_id)
            .order_by(merchant_settlements.c.id.desc())
            .limit(limit)
        )
        return [_settlement(row) for row in tx.execute(query).mappings()]

    def merchant_accounts(self, tx: Connection, limit: int) -> list[tuple[int, int]]:
        query = (
            select(merchants.c.id, merchants.c.settlement_account_id)
            .where(merchants.c.status == "active")
            .where(merchants.c.settlement_account_id > 0)
            .order_by(merchants.c.id)
            .limit(limit)
        )
        return [(int(a), int(b)) for a, b in tx.execute(query).all()]

    def account_of(self, tx: Connection, merchant_id: int) -> int | None:
        query = select(merchants.c.settlement_account_id).where(merchants.c.id == merchant_id)
        found = tx.execute(query).scalar()
        return None if not found else int(found)

    def net_fen(
        self, tx: Connection, account_id: int, codes: tuple[int, ...], start_us: int, end_us: int
    ) -> int:
        t = ledger_transfers
        signed = func.sum(
            case((t.c.credit_account_id == account_id, t.c.amount_fen), else_=-t.c.amount_fen)
        )
        query = (
            select(func.coalesce(signed, 0))
            .where(t.c.code.in_(codes))
            .where((t.c.debit_account_id == account_id) | (t.c.credit_account_id == account_id))
            # Posted transfers only: holds and voids move no posted money.
            .where(t.c.flags.op("&")(PENDING_FLAG | VOID_FLAG) == 0)
            .where(and_(t.c.created_at_us >= start_us, t.c.created_at_us < end_us))
        )
        return int(tx.execute(query).scalar() or 0)

    # Bills ------------------------------------------------------------------------------

    def apps(self, tx: Connection, limit: int) -> list[tuple[str, int, int]]:
        """(app id, merchant id, settlement account id) of every app."""
        query = (
            select(merchant_apps.c.app_id, merchants.c.id, merchants.c.settlement_account_id)
            .join(merchants, merchants.c.id == merchant_apps.c.merchant_id)
            .order_by(merchant_apps.c.id)
            .limit(limit)
        )
        return [(str(a), int(b), int(c)) for a, b, c in tx.execute(query).all()]

    def save_bill(
        self,
        tx: Connection,
        app_id: str,
        bill_type: str,
        period: str,
        file_name: str,
        content: bytes,
        now_us: int,
    ) -> bool:
        statement = (
            self._insert()(bill_files)
            .values(
                app_id=app_id,
                bill_type=bill_type,
                period=period,
                file_name=file_name,
                content=content,
                created_at_us=now_us,
            )
            .on_conflict_do_nothing(index_elements=["app_id", "bill_type", "period"])
            .returning(bill_files.c.id)
        )
        return tx.execute(statement).scalar() is not None

    def bill(
        self, tx: Connection, app_id: str, bill_type: str, period: str
    ) -> tuple[str, bytes] | None:
        query = select(bill_files.c.file_name, bill_files.c.content).where(
            bill_files.c.app_id == app_id,
            bill_files.c.bill_type == bill_type,
            bill_files.c.period == period,
        )
        row = tx.execute(query).first()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def bill_periods(self, tx: Connection, app_id: str, limit: int) -> list[tuple[str, str]]:
        query = (
            select(bill_files.c.bill_type, bill_files.c.period)
            .where(bill_files.c.app_id == app_id)
            .order_by(bill_files.c.period.desc(), bill_files.c.bill_type)
            .limit(limit)
        )
        return [(str(a), str(b)) for a, b in tx.execute(query).all()]

    # Reconciliation runs ----------------------------------------------------------------

    def save_run(
        self, tx: Connection, day: str, clean: bool, count: int, report: dict[str, Any], now_us: int
    ) -> None:
        tx.execute(
            insert(reconcile_runs).values(
                day=day,
                clean=int(clean),
                difference_count=count,
                report=json.dumps(report, ensure_ascii=False, sort_keys=True),
                created_at_us=now_us,
            )
        )

    def runs(self, tx: Connection, limit: int) -> list[dict[str, Any]]:
        query = select(reconcile_runs).order_by(reconcile_runs.c.id.desc()).limit(limit)
        found = []
        for row in tx.execute(query).mappings():
            found.append({**dict(row), "report": json.loads(row["report"])})
        return found


def _settlement(row: Any) -> Settlement:
    return Settlement(
        id=int(row["id"]),
        request_key=row["request_key"],
        merchant_id=int(row["merchant_id"]),
        kind=SettlementKind(row["kind"]),
        settle_date=row["settle_date"],
        amount_fen=int(row["amount_fen"]),
        card_number=row["card_number"],
        status=SettlementStatus(row["status"]),
        attempts=int(row["attempts"]),
        request_id=row["request_id"],
        failure_code=row["failure_code"],
        created_at_us=int(row["created_at_us"]),
        updated_at_us=int(row["updated_at_us"]),
        paid_at_us=row["paid_at_us"],
    )
