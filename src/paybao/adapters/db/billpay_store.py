"""SQL for city services (services/billpay*.py). Core, one statement per call.

A payment row is read `FOR UPDATE` on PostgreSQL when its outcome is applied (SQLite serialises
writers anyway), so the immediate answer and the confirmation job apply it once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from paybao.adapters.db.tables.billpay import billers, billpay_payments, billpay_saved_accounts
from paybao.domain.billpay import BillerStatus, Category, PaymentKind, PaymentStatus
from paybao.services.billpay_records import Biller, Inquiry, Payment, SavedAccount


class SqlBillpayStore:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    # Billers ----------------------------------------------------------------------------------

    def insert_biller(self, tx: Connection, biller: Biller) -> int:
        values = {
            "code": biller.code,
            "name": biller.name,
            "category": str(biller.category),
            "city": biller.city,
            "merchant_id": biller.merchant_id,
            "status": str(biller.status),
            "created_at_us": biller.created_at_us,
            "updated_at_us": biller.updated_at_us,
        }
        return int(
            tx.execute(insert(billers).values(**values).returning(billers.c.id)).scalar_one()
        )

    def biller(self, tx: Connection, biller_id: int) -> Biller | None:
        row = tx.execute(select(billers).where(billers.c.id == biller_id)).mappings().first()
        return _biller(row) if row is not None else None

    def biller_by_code(self, tx: Connection, code: str) -> Biller | None:
        row = tx.execute(select(billers).where(billers.c.code == code)).mappings().first()
        return _biller(row) if row is not None else None

    def billers(
        self,
        tx: Connection,
        *,
        city: str | None,
        category: Category | None,
        active_only: bool,
        limit: int,
    ) -> list[Biller]:
        query = select(billers)
        if city is not None:
            query = query.where(billers.c.city == city)
        if category is not None:
            query = query.where(billers.c.category == str(category))
        if active_only:
            query = query.where(billers.c.status == str(BillerStatus.ACTIVE))
        query = query.order_by(billers.c.city, billers.c.category, billers.c.id).limit(limit)
        return [_biller(row) for row in tx.execute(query).mappings()]

    def billers_by_ids(self, tx: Connection, biller_ids: list[int]) -> dict[int, Biller]:
        if not biller_ids:
            return {}
        rows = tx.execute(select(billers).where(billers.c.id.in_(biller_ids))).mappings()
        return {int(row["id"]): _biller(row) for row in rows}

    def set_biller_status(
        self, tx: Connection, biller_id: int, status: BillerStatus, now_us: int
    ) -> bool:
        result = tx.execute(
            update(billers)
            .where(billers.c.id == biller_id)
            .values(status=str(status), updated_at_us=now_us)
        )
        return bool(result.rowcount == 1)

    def served(self, tx: Connection, limit: int) -> list[tuple[str, Category]]:
        query = (
            select(billers.c.city, billers.c.category)
            .where(billers.c.status == str(BillerStatus.ACTIVE))
            .distinct()
            .order_by(billers.c.city, billers.c.category)
            .limit(limit)
        )
        return [(str(city), Category(category)) for city, category in tx.execute(query)]

    # Payments ---------------------------------------------------------------------------------

    def insert_payment(self, tx: Connection, payment: Payment) -> int:
        values = {
            "user_id": payment.user_id,
            "kind": str(payment.kind),
            "biller_id": payment.biller_id,
            "account_no": payment.account_no,
            "period": payment.period,
            "bill_key": payment.bill_key,
            "amount_fen": payment.amount_fen,
            "outstanding_fen": payment.outstanding_fen,
            "holder_masked": payment.holder_masked,
            "status": str(payment.status),
            "failure_code": payment.failure_code,
            "created_at_us": payment.created_at_us,
            "finished_at_us": payment.finished_at_us,
        }
        statement = insert(billpay_payments).values(**values).returning(billpay_payments.c.id)
        return int(tx.execute(statement).scalar_one())

    def payment(
        self, tx: Connection, payment_id: int, *, for_update: bool = False
    ) -> Payment | None:
        query = select(billpay_payments).where(billpay_payments.c.id == payment_id)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        row = tx.execute(query).mappings().first()
        return _payment(row) if row is not None else None

    def payment_by_bill_key(self, tx: Connection, bill_key: str) -> Payment | None:
        query = select(billpay_payments).where(billpay_payments.c.bill_key == bill_key)
        row = tx.execute(query).mappings().first()
        return _payment(row) if row is not None else None

    def finish_payment(
        self,
        tx: Connection,
        payment_id: int,
        status: PaymentStatus,
        failure_code: str | None,
        now_us: int,
    ) -> bool:
        p = billpay_payments
        values: dict[str, Any] = {
            "status": str(status),
            "failure_code": failure_code,
            "finished_at_us": now_us,
        }
        if status is PaymentStatus.FAILED:
            values["bill_key"] = None  # the bill may be paid again
        result = tx.execute(
            update(p)
            .where(p.c.id == payment_id, p.c.status == str(PaymentStatus.PROCESSING))
            .values(**values)
        )
        return bool(result.rowcount == 1)

    def payments_of(
        self, tx: Connection, user_id: int, limit: int, before_id: int | None
    ) -> list[Payment]:
        p = billpay_payments
        query = select(p).where(p.c.user_id == user_id)
        if before_id is not None:
            query = query.where(p.c.id < before_id)
        query = query.order_by(p.c.id.desc()).limit(limit)
        return [_payment(row) for row in tx.execute(query).mappings()]

    # Saved accounts ---------------------------------------------------------------------------

    def saved(
        self, tx: Connection, user_id: int, biller_id: int, account_no: str
    ) -> SavedAccount | None:
        s = billpay_saved_accounts
        query = select(s).where(
            s.c.user_id == user_id, s.c.biller_id == biller_id, s.c.account_no == account_no
        )
        row = tx.execute(query).mappings().first()
        return SavedAccount(**row) if row is not None else None

    def saved_by_id(self, tx: Connection, saved_id: int) -> SavedAccount | None:
        s = billpay_saved_accounts
        row = tx.execute(select(s).where(s.c.id == saved_id)).mappings().first()
        return SavedAccount(**row) if row is not None else None

    def insert_saved(self, tx: Connection, saved: SavedAccount) -> int:
        s = billpay_saved_accounts
        values = {
            "user_id": saved.user_id,
            "biller_id": saved.biller_id,
            "account_no": saved.account_no,
            "nickname": saved.nickname,
            "holder_masked": saved.holder_masked,
            "outstanding_fen": saved.outstanding_fen,
            "period": saved.period,
            "checked_at_us": saved.checked_at_us,
            "created_at_us": saved.created_at_us,
        }
        return int(tx.execute(insert(s).values(**values).returning(s.c.id)).scalar_one())

    def update_saved(self, tx: Connection, saved_id: int, **values: object) -> None:
        s = billpay_saved_accounts
        tx.execute(update(s).where(s.c.id == saved_id).values(**values))

    def note_statement(
        self, tx: Connection, biller_id: int, account_no: str, inquiry: Inquiry, now_us: int
    ) -> int:
        s = billpay_saved_accounts
        result = tx.execute(
            update(s)
            .where(s.c.biller_id == biller_id, s.c.account_no == account_no)
            .values(
                holder_masked=inquiry.holder_masked,
                outstanding_fen=inquiry.outstanding_fen,
                period=inquiry.period,
                checked_at_us=now_us,
            )
        )
        return int(result.rowcount)

    def note_paid(
        self, tx: Connection, biller_id: int, account_no: str, period: str, amount_fen: int
    ) -> None:
        s = billpay_saved_accounts
        left = s.c.outstanding_fen - amount_fen
        tx.execute(
            update(s)
            .where(s.c.biller_id == biller_id, s.c.account_no == account_no, s.c.period == period)
            .values(outstanding_fen=case((left > 0, left), else_=0))
        )

    def delete_saved(self, tx: Connection, user_id: int, saved_id: int) -> bool:
        s = billpay_saved_accounts
        result = tx.execute(delete(s).where(s.c.id == saved_id, s.c.user_id == user_id))
        return bool(result.rowcount == 1)

    def saved_of(
        self, tx: Connection, user_id: int, limit: int, *, owing_only: bool
    ) -> list[SavedAccount]:
        s = billpay_saved_accounts
        query = select(s).where(s.c.user_id == user_id)
        if owing_only:
            query = query.where(s.c.outstanding_fen > 0)
        query = query.order_by(s.c.id).limit(limit)
        return [SavedAccount(**row) for row in tx.execute(query).mappings()]

    def count_saved(self, tx: Connection, user_id: int) -> int:
        s = billpay_saved_accounts
        query = select(func.count()).select_from(s).where(s.c.user_id == user_id)
        return int(tx.execute(query).scalar_one())

    def saved_due(self, tx: Connection, checked_before_us: int, limit: int) -> list[SavedAccount]:
        s = billpay_saved_accounts
        query = (
            select(s)
            .where(s.c.checked_at_us < checked_before_us)
            .order_by(s.c.checked_at_us, s.c.id)
            .limit(limit)
        )
        return [SavedAccount(**row) for row in tx.execute(query).mappings()]


def _biller(row: RowMapping) -> Biller:
    return Biller(
        id=int(row["id"]),
        code=row["code"],
        name=row["name"],
        category=Category(row["category"]),
        city=row["city"],
        merchant_id=int(row["merchant_id"]),
        status=BillerStatus(row["status"]),
        created_at_us=int(row["created_at_us"]),
        updated_at_us=int(row["updated_at_us"]),
    )


def _payment(row: RowMapping) -> Payment:
    values = dict(row)
    values["kind"] = PaymentKind(values["kind"])
    values["status"] = PaymentStatus(values["status"])
    return Payment(**values)
