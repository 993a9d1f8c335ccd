"""SQL for merchant sign-in passwords, sign-ups and card-funded cashier payments (and their
refunds back to the card)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from paybao.adapters.db.tables.merchant_portal import (
    CARD_REFUNDS_UNSETTLED,
    card_payments,
    card_refunds,
    merchant_logins,
    merchant_signups,
)

UNSETTLED = CARD_REFUNDS_UNSETTLED


class SqlMerchantLoginStore:
    def login(self, tx: Connection, merchant_id: int) -> Any:
        query = select(merchant_logins).where(merchant_logins.c.merchant_id == merchant_id)
        return tx.execute(query).first()

    def set_password(
        self, tx: Connection, merchant_id: int, password_hash: str, now_us: int
    ) -> None:
        values = {"password_hash": password_hash, "failures": 0, "locked_until_us": None}
        changed = tx.execute(
            update(merchant_logins)
            .where(merchant_logins.c.merchant_id == merchant_id)
            .values(updated_at_us=now_us, **values)
        ).rowcount
        if not changed:
            tx.execute(
                insert(merchant_logins).values(
                    merchant_id=merchant_id, updated_at_us=now_us, **values
                )
            )

    def update_login(self, tx: Connection, merchant_id: int, **values: Any) -> None:
        tx.execute(
            update(merchant_logins)
            .where(merchant_logins.c.merchant_id == merchant_id)
            .values(**values)
        )


class SqlMerchantSignupStore:
    def lock_keys(self, tx: Connection, keys: list[str]) -> None:
        """Serialise sign-ups that share a limit key until the transaction ends, so two at once
        cannot both take the last place. PostgreSQL: transaction advisory locks, in sorted
        order (no deadlock); SQLite already holds the write lock from BEGIN IMMEDIATE."""
        if tx.dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):
            tx.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )

    def recent(
        self,
        tx: Connection,
        *,
        client_ip: str | None = None,
        contact_key: str | None = None,
        since_us: int,
        limit: int,
    ) -> list[int]:
        """When the sign-ups from this address (or with this contact) since `since_us` were
        made, newest first, at most `limit`."""
        assert (client_ip is None) != (contact_key is None)
        column = (
            merchant_signups.c.client_ip
            if client_ip is not None
            else merchant_signups.c.contact_key
        )
        query = (
            select(merchant_signups.c.created_at_us)
            .where(column == (client_ip if client_ip is not None else contact_key))
            .where(merchant_signups.c.created_at_us >= since_us)
            .order_by(merchant_signups.c.created_at_us.desc())
            .limit(limit)
        )
        return [int(at) for at in tx.execute(query).scalars()]

    def insert(
        self,
        tx: Connection,
        merchant_id: int,
        client_ip: str,
        contact: str,
        contact_key: str,
        now_us: int,
    ) -> None:
        tx.execute(
            insert(merchant_signups).values(
                merchant_id=merchant_id,
                client_ip=client_ip,
                contact=contact,
                contact_key=contact_key,
                created_at_us=now_us,
            )
        )

    def prune(self, tx: Connection, before_us: int, limit: int) -> int:
        """Delete at most `limit` sign-up rows made before `before_us`, oldest first; how many
        went (ix_merchant_signups_created finds them)."""
        oldest = (
            select(merchant_signups.c.merchant_id)
            .where(merchant_signups.c.created_at_us < before_us)
            .order_by(merchant_signups.c.created_at_us)
            .limit(limit)
        )
        victims = [int(merchant_id) for merchant_id in tx.execute(oldest).scalars()]
        if not victims:
            return 0
        result = tx.execute(
            delete(merchant_signups)
            .where(merchant_signups.c.merchant_id.in_(victims))
            .where(merchant_signups.c.created_at_us < before_us)
        )
        return int(result.rowcount)


class SqlCardPaymentStore:
    def insert_card_payment(self, tx: Connection, values: dict[str, Any]) -> int:
        result = tx.execute(insert(card_payments).values(**values).returning(card_payments.c.id))
        return int(result.scalar_one())

    def card_payment_in_flight(self, tx: Connection, trade_no: str) -> Any:
        query = select(card_payments).where(
            card_payments.c.trade_no == trade_no, card_payments.c.status == "processing"
        )
        return tx.execute(query).first()

    def card_payment(self, tx: Connection, payment_id: int, *, for_update: bool = False) -> Any:
        query = select(card_payments).where(card_payments.c.id == payment_id)
        if for_update and tx.dialect.name == "postgresql":
            query = query.with_for_update()
        return tx.execute(query).first()

    def finish_card_payment(
        self, tx: Connection, payment_id: int, status: str, failure_code: str | None, now_us: int
    ) -> bool:
        """Compare-and-set from `processing`: only one of the answer and the query job wins."""
        result = tx.execute(
            update(card_payments)
            .where(card_payments.c.id == payment_id, card_payments.c.status == "processing")
            .values(status=status, failure_code=failure_code, finished_at_us=now_us)
        )
        return bool(result.rowcount)

    def paid_card_payment(self, tx: Connection, trade_no: str) -> Any:
        """The card payment that paid the trade (at most one does), or None."""
        query = select(card_payments).where(
            card_payments.c.trade_no == trade_no, card_payments.c.status == "paid"
        )
        return tx.execute(query).first()


class SqlCardRefundStore:
    def insert_card_refund(self, tx: Connection, values: dict[str, Any]) -> None:
        tx.execute(insert(card_refunds).values(**values))

    def card_refund(self, tx: Connection, refund_id: int, *, for_update: bool = False) -> Any:
        query = select(card_refunds).where(card_refunds.c.refund_id == refund_id)
        if for_update and tx.dialect.name == "postgresql":
            query = query.with_for_update()
        return tx.execute(query).first()

    def card_refunds_of(self, tx: Connection, trade_no: str) -> list[Any]:
        query = (
            select(card_refunds)
            .where(card_refunds.c.trade_no == trade_no)
            .order_by(card_refunds.c.refund_id)
        )
        return list(tx.execute(query).all())

    def unsettled_card_refunds(
        self, tx: Connection, statuses: tuple[str, ...], before_refund_id: int | None, limit: int
    ) -> list[Any]:
        """Refunds in `statuses` (a subset of processing and failed), newest first, at most
        `limit`, older than the cursor. The IN over both unsettled statuses is always there, so
        both databases use the partial index ix_card_refunds_unsettled."""
        assert set(statuses) <= set(UNSETTLED) and statuses
        query = (
            select(card_refunds)
            .where(card_refunds.c.status.in_(UNSETTLED))
            .order_by(card_refunds.c.refund_id.desc())
            .limit(limit)
        )
        if set(statuses) != set(UNSETTLED):
            query = query.where(card_refunds.c.status.in_(statuses))
        if before_refund_id is not None:
            query = query.where(card_refunds.c.refund_id < before_refund_id)
        return list(tx.execute(query).all())

    def count_card_refund_attempt(self, tx: Connection, refund_id: int) -> None:
        tx.execute(
            update(card_refunds)
            .where(card_refunds.c.refund_id == refund_id)
            .values(attempts=card_refunds.c.attempts + 1)
        )

    def finish_card_refund(
        self, tx: Connection, refund_id: int, status: str, failure_code: str | None, now_us: int
    ) -> bool:
        """Compare-and-set from `processing`: only one of the answer and the retry job wins."""
        result = tx.execute(
            update(card_refunds)
            .where(card_refunds.c.refund_id == refund_id, card_refunds.c.status == "processing")
            .values(status=status, failure_code=failure_code, finished_at_us=now_us)
        )
        return bool(result.rowcount)
