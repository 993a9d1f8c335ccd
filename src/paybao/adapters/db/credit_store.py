"""SQL for Huabei credit: lines, draws, bills, repayments, penalties, interest, refunds. Core,
one statement per call (set-based where a call touches many rows: closing a month's purchases).

The line row is read `FOR UPDATE` on PostgreSQL by every change (SQLite serialises writers), and
written compare-and-set on its version, so a lost lock can never overdraw the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.credit import (
    credit_bills,
    credit_draws,
    credit_lines,
    credit_penalties,
    credit_refunds,
    credit_repayment_parts,
    credit_repayments,
)
from paybao.adapters.db.tables.credit_installments import credit_interest
from paybao.adapters.db.tables.trade import trades
from paybao.domain.credit import OWING_STATUSES, Bill, BillStatus, CreditLine, RepaymentPart
from paybao.services.credit import Draw, Repayment

_DRAW_COLUMNS = [
    credit_draws.c.id,
    credit_draws.c.user_id,
    credit_draws.c.trade_no,
    credit_draws.c.amount_fen,
    credit_draws.c.refunded_fen,
    credit_draws.c.bill_id,
    credit_draws.c.created_at_us,
]


class SqlCreditStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Lines ------------------------------------------------------------------------------------

    def line(self, tx: Connection, user_id: int, *, for_update: bool = False) -> CreditLine | None:
        query = select(credit_lines).where(credit_lines.c.user_id == user_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _line(row) if row is not None else None

    def insert_line(self, tx: Connection, line: CreditLine, now_us: int) -> bool:
        values = {**_line_values(line), "granted_at_us": line.granted_at_us}
        statement = (
            self._insert(credit_lines)
            .values(**values, user_id=line.user_id, updated_at_us=now_us)
            .on_conflict_do_nothing()
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
        return tx.execute(statement.returning(credit_lines.c.user_id)).scalar() is not None

    def update_line(
        self, tx: Connection, before: CreditLine, after: CreditLine, now_us: int
    ) -> bool:
        statement = (
            update(credit_lines)
            .where(
                credit_lines.c.user_id == before.user_id,
                credit_lines.c.version == before.version,
            )
            .values(**_line_values(after), version=before.version + 1, updated_at_us=now_us)
        )
        return tx.execute(statement).rowcount == 1

    # Draws ------------------------------------------------------------------------------------

    def insert_draw(
        self, tx: Connection, user_id: int, trade_no: str, amount_fen: int, now_us: int
    ) -> int:
        statement = insert(credit_draws).values(
            user_id=user_id, trade_no=trade_no, amount_fen=amount_fen, created_at_us=now_us
        )
        return int(tx.execute(statement.returning(credit_draws.c.id)).scalar_one())

    def draw_of_trade(self, tx: Connection, trade_no: str) -> Draw | None:
        query = select(*_DRAW_COLUMNS).where(credit_draws.c.trade_no == trade_no)
        row = tx.execute(query).first()
        return _draw(row) if row is not None else None

    def add_draw_refund(self, tx: Connection, draw_id: int, amount_fen: int) -> None:
        statement = (
            update(credit_draws)
            .where(credit_draws.c.id == draw_id)
            .values(refunded_fen=credit_draws.c.refunded_fen + amount_fen)
        )
        assert tx.execute(statement).rowcount == 1

    def _unbilled(self, user_id: int, before_us: int) -> Any:
        return and_(
            credit_draws.c.user_id == user_id,
            credit_draws.c.bill_id.is_(None),
            credit_draws.c.created_at_us < before_us,
        )

    def unbilled_fen(self, tx: Connection, user_id: int, before_us: int) -> int:
        left = func.sum(credit_draws.c.amount_fen - credit_draws.c.refunded_fen)
        query = select(func.coalesce(left, 0)).where(self._unbilled(user_id, before_us))
        return int(tx.execute(query).scalar_one())

    def attach_draws(self, tx: Connection, user_id: int, before_us: int, bill_id: int) -> int:
        statement = (
            update(credit_draws)
            .where(self._unbilled(user_id, before_us))
            .values(
                bill_id=bill_id,
                billed_fen=credit_draws.c.amount_fen - credit_draws.c.refunded_fen,
            )
        )
        return int(tx.execute(statement).rowcount)

    def open_draws(self, tx: Connection, user_id: int, limit: int) -> list[Draw]:
        query = (
            select(*_DRAW_COLUMNS, func.coalesce(trades.c.subject, ""))
            .select_from(
                credit_draws.outerjoin(trades, trades.c.trade_no == credit_draws.c.trade_no)
            )
            .where(credit_draws.c.user_id == user_id, credit_draws.c.bill_id.is_(None))
            .order_by(credit_draws.c.id.desc())
            .limit(limit)
        )
        return [_draw(row) for row in tx.execute(query)]

    # Bills ------------------------------------------------------------------------------------

    def insert_bill(self, tx: Connection, bill: Bill) -> int | None:
        values = _bill_values(bill)
        values.update(user_id=bill.user_id, period=bill.period, created_at_us=bill.created_at_us)
        statement = self._insert(credit_bills).values(**values).on_conflict_do_nothing()
        found = tx.execute(statement.returning(credit_bills.c.id)).scalar()
        return None if found is None else int(found)

    def bill(self, tx: Connection, bill_id: int) -> Bill | None:
        row = (
            tx.execute(select(credit_bills).where(credit_bills.c.id == bill_id)).mappings().first()
        )
        return _bill(row) if row is not None else None

    def update_bill(self, tx: Connection, bill: Bill) -> None:
        statement = (
            update(credit_bills).where(credit_bills.c.id == bill.id).values(**_bill_values(bill))
        )
        assert tx.execute(statement).rowcount == 1

    def unpaid_bills(self, tx: Connection, user_id: int, limit: int) -> list[Bill]:
        query = (
            select(credit_bills)
            .where(
                credit_bills.c.user_id == user_id,
                credit_bills.c.status.in_([status.value for status in OWING_STATUSES]),
            )
            .order_by(credit_bills.c.period, credit_bills.c.id)
            .limit(limit)
        )
        return [_bill(row) for row in tx.execute(query).mappings()]

    def bills(self, tx: Connection, user_id: int, limit: int) -> list[Bill]:
        query = (
            select(credit_bills)
            .where(credit_bills.c.user_id == user_id)
            .order_by(credit_bills.c.period.desc(), credit_bills.c.id.desc())
            .limit(limit)
        )
        return [_bill(row) for row in tx.execute(query).mappings()]

    # Repayments, penalties, refunds -----------------------------------------------------------

    def insert_repayment(
        self, tx: Connection, repayment: Repayment, parts: Sequence[RepaymentPart]
    ) -> int:
        values = {
            "user_id": repayment.user_id,
            "amount_fen": repayment.amount_fen,
            "penalty_fen": repayment.penalty_fen,
            "principal_fen": repayment.principal_fen,
            "outstanding_after_fen": repayment.outstanding_after_fen,
            "created_at_us": repayment.created_at_us,
            "interest_fen": repayment.interest_fen,
            "fee_fen": repayment.fee_fen,
        }
        statement = insert(credit_repayments).values(**values).returning(credit_repayments.c.id)
        repayment_id = int(tx.execute(statement).scalar_one())
        rows = [
            {
                "repayment_id": repayment_id,
                "bill_id": part.bill_id,
                "penalty_fen": part.penalty_fen,
                "principal_fen": part.principal_fen,
                "interest_fen": part.interest_fen,
                "fee_fen": part.fee_fen,
            }
            for part in parts
        ]
        tx.execute(insert(credit_repayment_parts), rows)
        return repayment_id

    def repayment(self, tx: Connection, repayment_id: int) -> Repayment | None:
        query = select(*_REPAYMENT_COLUMNS).where(credit_repayments.c.id == repayment_id)
        row = tx.execute(query).first()
        return Repayment(*row) if row is not None else None

    def repayments(self, tx: Connection, user_id: int, limit: int) -> list[Repayment]:
        query = (
            select(*_REPAYMENT_COLUMNS)
            .where(credit_repayments.c.user_id == user_id)
            .order_by(credit_repayments.c.id.desc())
            .limit(limit)
        )
        return [Repayment(*row) for row in tx.execute(query)]

    def insert_penalty(
        self,
        tx: Connection,
        bill_id: int,
        day: date,
        principal_fen: int,
        amount_fen: int,
        now_us: int,
    ) -> bool:
        return self._insert_day_charge(
            tx, credit_penalties, bill_id, day, principal_fen, amount_fen, now_us
        )

    def insert_interest(
        self,
        tx: Connection,
        bill_id: int,
        day: date,
        principal_fen: int,
        amount_fen: int,
        now_us: int,
    ) -> bool:
        return self._insert_day_charge(
            tx, credit_interest, bill_id, day, principal_fen, amount_fen, now_us
        )

    def _insert_day_charge(
        self,
        tx: Connection,
        table: Table,
        bill_id: int,
        day: date,
        principal_fen: int,
        amount_fen: int,
        now_us: int,
    ) -> bool:
        """One day's charge (a penalty or interest) on a bill, at most once a day: whether this
        call wrote it (a rerun of the day's job finds it there)."""
        values = {
            "bill_id": bill_id,
            "day": day.isoformat(),
            "principal_fen": principal_fen,
            "amount_fen": amount_fen,
            "created_at_us": now_us,
        }
        statement = self._insert(table).values(**values).on_conflict_do_nothing()
        return tx.execute(statement.returning(table.c.bill_id)).scalar() is not None

    def insert_refund(self, tx: Connection, values: Mapping[str, Any]) -> None:
        tx.execute(insert(credit_refunds).values(**values))


_REPAYMENT_COLUMNS = [
    credit_repayments.c.id,
    credit_repayments.c.user_id,
    credit_repayments.c.amount_fen,
    credit_repayments.c.penalty_fen,
    credit_repayments.c.principal_fen,
    credit_repayments.c.outstanding_after_fen,
    credit_repayments.c.created_at_us,
    credit_repayments.c.interest_fen,
    credit_repayments.c.fee_fen,
]


def _draw(row: Any) -> Draw:
    subject = str(row[7]) if len(row) > 7 else ""
    bill_id = None if row[5] is None else int(row[5])
    values = (int(row[0]), int(row[1]), str(row[2]), int(row[3]), int(row[4]))
    return Draw(*values, bill_id=bill_id, created_at_us=int(row[6]), subject=subject)


def _line_values(line: CreditLine) -> dict[str, Any]:
    return {
        "account_id": line.account_id,
        "limit_fen": line.limit_fen,
        "open_fen": line.open_fen,
        "outstanding_fen": line.outstanding_fen,
        "repayment_day": line.repayment_day,
        "overdue": 1 if line.overdue else 0,
        "installment_fen": line.installment_fen,
    }


def _line(row: Any) -> CreditLine:
    return CreditLine(
        user_id=int(row["user_id"]),
        account_id=int(row["account_id"]),
        limit_fen=int(row["limit_fen"]),
        open_fen=int(row["open_fen"]),
        outstanding_fen=int(row["outstanding_fen"]),
        repayment_day=int(row["repayment_day"]),
        overdue=bool(row["overdue"]),
        version=int(row["version"]),
        granted_at_us=int(row["granted_at_us"]),
        installment_fen=int(row["installment_fen"]),
    )


_BILL_AMOUNTS = (
    "principal_fen",
    "refunded_fen",
    "penalty_fen",
    "repaid_principal_fen",
    "repaid_penalty_fen",
    "periods_principal_fen",
    "carried_fen",
    "converted_fen",
    "fee_fen",
    "repaid_fee_fen",
    "interest_fen",
    "repaid_interest_fen",
    "rolled_principal_fen",
    "rolled_interest_fen",
)


def _bill_values(bill: Bill) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(bill, name) for name in _BILL_AMOUNTS}
    values.update(
        due_date=bill.due_date.isoformat(),
        status=bill.status.value,
        paid_at_us=bill.paid_at_us,
        rolled_to_bill_id=bill.rolled_to_bill_id,
    )
    return values


def _optional(value: Any) -> int | None:
    return None if value is None else int(value)


def _bill(row: Any) -> Bill:
    amounts = {name: int(row[name]) for name in _BILL_AMOUNTS}
    return Bill(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        period=str(row["period"]),
        due_date=date.fromisoformat(str(row["due_date"])),
        status=BillStatus(row["status"]),
        created_at_us=int(row["created_at_us"]),
        paid_at_us=_optional(row["paid_at_us"]),
        rolled_to_bill_id=_optional(row["rolled_to_bill_id"]),
        **amounts,
    )
