"""SQL of the top-up channels (services/topup_channel_records.py `TopupChannelStore`): online
banking top-ups and accepted notices, cash partners and their deposits, cash codes. Every state
change is a compare-and-set on the status, so of two racing writers exactly one moves a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paybao.adapters.db.tables.topup_channels import (
    bank_pay_notices,
    bank_pay_topups,
    cash_topup_codes,
    cash_topup_deposits,
    cash_topup_partners,
)

_EMPTY = ("failed", "expired")


class SqlTopupChannelStore:
    def __init__(self, dialect: str) -> None:
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    # Online banking ---------------------------------------------------------------------------

    def insert_bank_pay(self, tx: Connection, values: dict[str, Any]) -> int:
        statement = insert(bank_pay_topups).values(**values).returning(bank_pay_topups.c.id)
        return int(tx.execute(statement).scalar_one())

    def bank_pay(self, tx: Connection, topup_id: int, *, for_update: bool = False) -> Any:
        query = select(bank_pay_topups).where(bank_pay_topups.c.id == topup_id)
        if for_update:
            query = query.with_for_update()
        return tx.execute(query).first()

    def finish_bank_pay(self, tx: Connection, topup_id: int, **values: Any) -> bool:
        result = tx.execute(
            update(bank_pay_topups)
            .where(bank_pay_topups.c.id == topup_id, bank_pay_topups.c.status == "pending")
            .values(**values)
        )
        return bool(result.rowcount == 1)

    def bank_pays(
        self, tx: Connection, user_id: int, limit: int, before_id: int | None = None
    ) -> list[Any]:
        query = select(bank_pay_topups).where(bank_pay_topups.c.user_id == user_id)
        if before_id is not None:
            query = query.where(bank_pay_topups.c.id < before_id)
        return list(tx.execute(query.order_by(bank_pay_topups.c.id.desc()).limit(limit)).all())

    def add_notice(self, tx: Connection, notify_id: str, topup_id: int, now_us: int) -> bool:
        statement = (
            self._insert(bank_pay_notices)
            .values(notify_id=notify_id, topup_id=topup_id, received_at_us=now_us)
            .on_conflict_do_nothing(index_elements=["notify_id"])
            .returning(bank_pay_notices.c.id)
        )
        return tx.execute(statement).first() is not None

    def succeeded_bank_pays(
        self, tx: Connection, start_us: int, end_us: int, limit: int
    ) -> list[Any]:
        t = bank_pay_topups
        query = (
            select(t)
            .where(
                and_(t.c.created_at_us >= start_us, t.c.created_at_us < end_us),
                t.c.status.not_in(_EMPTY),
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        return list(tx.execute(query).all())

    # Partners ---------------------------------------------------------------------------------

    def insert_partner(self, tx: Connection, values: dict[str, Any]) -> int:
        statement = insert(cash_topup_partners).values(**values).returning(cash_topup_partners.c.id)
        return int(tx.execute(statement).scalar_one())

    def partner(self, tx: Connection, partner_id: int, *, for_update: bool = False) -> Any:
        query = select(cash_topup_partners).where(cash_topup_partners.c.id == partner_id)
        if for_update:
            query = query.with_for_update()
        return tx.execute(query).first()

    def partner_by_name(self, tx: Connection, name: str) -> Any:
        query = select(cash_topup_partners).where(cash_topup_partners.c.name == name)
        return tx.execute(query).first()

    def partner_by_key(self, tx: Connection, key_sha256: str) -> Any:
        query = select(cash_topup_partners).where(cash_topup_partners.c.key_sha256 == key_sha256)
        return tx.execute(query).first()

    def partners(self, tx: Connection, limit: int) -> list[Any]:
        query = select(cash_topup_partners).order_by(cash_topup_partners.c.id).limit(limit)
        return list(tx.execute(query).all())

    def partners_page(self, tx: Connection, limit: int, before_id: int | None) -> list[Any]:
        p = cash_topup_partners
        query = select(p).order_by(p.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(p.c.id < before_id)
        return list(tx.execute(query).all())

    def set_partner_status(self, tx: Connection, partner_id: int, status: str) -> None:
        tx.execute(
            update(cash_topup_partners)
            .where(cash_topup_partners.c.id == partner_id)
            .values(status=status)
        )

    def set_partner_account(self, tx: Connection, partner_id: int, account_id: int) -> None:
        tx.execute(
            update(cash_topup_partners)
            .where(cash_topup_partners.c.id == partner_id)
            .values(prefund_account_id=account_id)
        )

    def insert_deposit(self, tx: Connection, values: dict[str, Any]) -> int | None:
        statement = (
            self._insert(cash_topup_deposits)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["partner_id", "reference"])
            .returning(cash_topup_deposits.c.id)
        )
        found = tx.execute(statement).scalar()
        return None if found is None else int(found)

    def deposit_by_reference(self, tx: Connection, partner_id: int, reference: str) -> Any:
        query = select(cash_topup_deposits).where(
            cash_topup_deposits.c.partner_id == partner_id,
            cash_topup_deposits.c.reference == reference,
        )
        return tx.execute(query).first()

    def deposits(
        self, tx: Connection, partner_id: int, limit: int, before_id: int | None = None
    ) -> list[Any]:
        d = cash_topup_deposits
        query = select(d).where(d.c.partner_id == partner_id)
        if before_id is not None:
            query = query.where(d.c.id < before_id)
        return list(tx.execute(query.order_by(d.c.id.desc()).limit(limit)).all())

    # Cash codes -------------------------------------------------------------------------------

    def insert_code(self, tx: Connection, values: dict[str, Any]) -> int | None:
        statement = (
            self._insert(cash_topup_codes)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(cash_topup_codes.c.id)
        )
        found = tx.execute(statement).scalar()
        return None if found is None else int(found)

    def code(self, tx: Connection, code_id: int, *, for_update: bool = False) -> Any:
        query = select(cash_topup_codes).where(cash_topup_codes.c.id == code_id)
        if for_update:
            query = query.with_for_update()
        return tx.execute(query).first()

    def code_by_digits(self, tx: Connection, digits: str) -> Any:
        return tx.execute(select(cash_topup_codes).where(cash_topup_codes.c.code == digits)).first()

    def code_by_request(self, tx: Connection, partner_id: int, request_no: str) -> Any:
        query = select(cash_topup_codes).where(
            cash_topup_codes.c.partner_id == partner_id,
            cash_topup_codes.c.partner_request_no == request_no,
        )
        return tx.execute(query).first()

    def codes(
        self,
        tx: Connection,
        user_id: int,
        limit: int,
        *,
        open_at_us: int | None = None,
        before_id: int | None = None,
    ) -> list[Any]:
        c = cash_topup_codes
        query = select(c).where(c.c.user_id == user_id)
        if open_at_us is not None:  # only codes a counter could still redeem at that time
            query = query.where(c.c.status == "open", c.c.expires_at_us > open_at_us)
        if before_id is not None:
            query = query.where(c.c.id < before_id)
        return list(tx.execute(query.order_by(c.c.id.desc()).limit(limit)).all())

    def open_code_count(self, tx: Connection, user_id: int, now_us: int) -> int:
        c = cash_topup_codes
        query = select(func.count()).where(
            c.c.user_id == user_id, c.c.status == "open", c.c.expires_at_us > now_us
        )
        return int(tx.execute(query).scalar_one())

    def redeem_code(
        self, tx: Connection, code_id: int, partner_id: int, request_no: str, now_us: int
    ) -> bool:
        c = cash_topup_codes
        result = tx.execute(
            update(c)
            .where(c.c.id == code_id, c.c.status == "open", c.c.expires_at_us > now_us)
            .values(
                status="redeemed",
                partner_id=partner_id,
                partner_request_no=request_no,
                redeemed_at_us=now_us,
            )
        )
        return bool(result.rowcount == 1)

    def reverse_code(self, tx: Connection, code_id: int, now_us: int) -> bool:
        c = cash_topup_codes
        result = tx.execute(
            update(c)
            .where(c.c.id == code_id, c.c.status == "redeemed")
            .values(status="reversed", reversed_at_us=now_us)
        )
        return bool(result.rowcount == 1)

    def end_code(self, tx: Connection, code_id: int, status: str, now_us: int) -> bool:
        assert status in ("expired", "cancelled")
        c = cash_topup_codes
        result = tx.execute(
            update(c)
            .where(c.c.id == code_id, c.c.status == "open")
            .values(status=status, finished_at_us=now_us)
        )
        return bool(result.rowcount == 1)

    def expire_codes(self, tx: Connection, now_us: int, limit: int) -> int:
        c = cash_topup_codes
        due = (
            select(c.c.id)
            .where(c.c.status == "open", c.c.expires_at_us <= now_us)
            .order_by(c.c.expires_at_us)
            .limit(limit)
        )
        ids = [int(row_id) for row_id in tx.execute(due).scalars()]
        if not ids:
            return 0
        result = tx.execute(
            update(c)
            .where(c.c.id.in_(ids), c.c.status == "open")
            .values(status="expired", finished_at_us=now_us)
        )
        return int(result.rowcount)
