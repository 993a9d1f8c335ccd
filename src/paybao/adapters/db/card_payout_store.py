"""SQL of card payouts (services/card_payouts.py): payouts read by user and kind, the month's
repayment quota, saved repayment cards. The payout rows themselves are written and moved by
the wallet's payout machinery (adapters/db/wallet_store.py knows the table by name)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update

from paybao.adapters.db.tables.card_payouts import card_payouts, repayment_cards
from paybao.adapters.db.tables.wallet import balance_usage

_EMPTY = ("failed", "cancelled")  # ended having taken nothing: no quota used


class SqlCardPayoutStore:
    def payout(self, tx: Connection, payout_id: int) -> Any:
        return tx.execute(select(card_payouts).where(card_payouts.c.id == payout_id)).first()

    def payouts(
        self, tx: Connection, user_id: int, kind: str | None, limit: int, before_id: int | None
    ) -> list[Any]:
        query = (
            select(card_payouts)
            .where(card_payouts.c.user_id == user_id)
            .order_by(card_payouts.c.id.desc())
            .limit(limit)
        )
        if kind is not None:
            query = query.where(card_payouts.c.kind == kind)
        if before_id is not None:
            query = query.where(card_payouts.c.id < before_id)
        return list(tx.execute(query).all())

    def month_used_fen(self, tx: Connection, user_id: int, month: str) -> int:
        query = select(func.coalesce(func.sum(card_payouts.c.quota_used_fen), 0)).where(
            card_payouts.c.user_id == user_id,
            card_payouts.c.quota_month == month,
            card_payouts.c.status.not_in(_EMPTY),
        )
        return int(tx.execute(query).scalar_one())

    def release_now(self, tx: Connection, payout_id: int, now_us: int) -> bool:
        result = tx.execute(
            update(card_payouts)
            .where(card_payouts.c.id == payout_id, card_payouts.c.status == "held")
            .values(due_at_us=now_us)
        )
        return bool(result.rowcount == 1)

    def give_back_usage(self, tx: Connection, user_id: int, period: str, amount_fen: int) -> None:
        assert amount_fen > 0
        used = balance_usage.c.used_fen
        tx.execute(
            update(balance_usage)
            .where(balance_usage.c.user_id == user_id, balance_usage.c.period == period)
            .values(used_fen=case((used > amount_fen, used - amount_fen), else_=0))
        )

    def cards(self, tx: Connection, user_id: int, limit: int) -> list[Any]:
        query = (
            select(repayment_cards)
            .where(repayment_cards.c.user_id == user_id)
            .order_by(repayment_cards.c.id)
            .limit(limit)
        )
        return list(tx.execute(query).all())

    def card(self, tx: Connection, card_id: int) -> Any:
        return tx.execute(select(repayment_cards).where(repayment_cards.c.id == card_id)).first()

    def card_by_number(self, tx: Connection, user_id: int, card_number: str) -> Any:
        query = select(repayment_cards).where(
            repayment_cards.c.user_id == user_id, repayment_cards.c.card_number == card_number
        )
        return tx.execute(query).first()

    def insert_card(self, tx: Connection, values: dict[str, Any]) -> int:
        statement = insert(repayment_cards).values(**values).returning(repayment_cards.c.id)
        return int(tx.execute(statement).scalar_one())

    def set_remind_day(self, tx: Connection, card_id: int, remind_day: int | None) -> None:
        tx.execute(
            update(repayment_cards)
            .where(repayment_cards.c.id == card_id)
            .values(remind_day=remind_day)
        )

    def delete_card(self, tx: Connection, card_id: int) -> bool:
        result = tx.execute(delete(repayment_cards).where(repayment_cards.c.id == card_id))
        return bool(result.rowcount == 1)
