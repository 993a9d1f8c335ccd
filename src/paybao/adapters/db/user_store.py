"""SQL implementation of `UserStore` (services/users.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from paybao.adapters.db.tables.wallet import balance_usage, users
from paybao.services.users import UserRecord

_UPDATABLE = frozenset(
    {
        "login_password_hash",
        "payment_password_hash",
        "real_name",
        "id_number",
        "step",
        "status",
        "account_class",
        "channels",
        "wallet_account_id",
        "login_failures",
        "login_locked_until_us",
        "pay_failures",
        "pay_locked_until_us",
        "withdraw_quota_used_fen",
    }
)


def _record(row: Any) -> UserRecord:
    return UserRecord(**{name: row._mapping[name] for name in UserRecord.__dataclass_fields__})


# The same text on SQLite (3.35+) and PostgreSQL.
_ADD_USAGE = text(
    "INSERT INTO balance_usage (user_id, period, used_fen) VALUES (:u, :p, :a)"
    " ON CONFLICT (user_id, period)"
    " DO UPDATE SET used_fen = balance_usage.used_fen + excluded.used_fen RETURNING used_fen"
)


class SqlUserStore:
    def get(self, tx: Connection, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        query = select(users).where(users.c.id == user_id)
        if for_update:
            query = query.with_for_update()
        row = tx.execute(query).first()
        return _record(row) if row is not None else None

    def get_by_phone(self, tx: Connection, phone: str) -> UserRecord | None:
        row = tx.execute(select(users).where(users.c.phone == phone)).first()
        return _record(row) if row is not None else None

    def insert(
        self, tx: Connection, phone: str, login_password_hash: str, step: str, now_us: int
    ) -> int:
        result = tx.execute(
            insert(users)
            .values(
                phone=phone,
                login_password_hash=login_password_hash,
                step=step,
                status="active",
                channels="",
                created_at_us=now_us,
            )
            .returning(users.c.id)
        )
        return int(result.scalar_one())

    def update(self, tx: Connection, user_id: int, **values: object) -> None:
        unknown = set(values) - _UPDATABLE
        assert not unknown, f"not updatable: {unknown}"
        matched = tx.execute(update(users).where(users.c.id == user_id).values(**values)).rowcount
        assert matched == 1, f"user {user_id} not updated"

    def count_by_id_number(self, tx: Connection, id_number: str) -> int:
        query = select(func.count()).select_from(users).where(users.c.id_number == id_number)
        return int(tx.execute(query).scalar_one())

    def usage_fen(
        self, tx: Connection, user_id: int, period: str, *, for_update: bool = False
    ) -> int:
        query = select(balance_usage.c.used_fen).where(
            balance_usage.c.user_id == user_id, balance_usage.c.period == period
        )
        if for_update:
            query = query.with_for_update()
        value = tx.execute(query).scalar_one_or_none()
        return int(value or 0)

    def add_usage(self, tx: Connection, user_id: int, period: str, amount_fen: int) -> int:
        """Add to the period's usage and return the new total: one upsert, whose row lock
        serialises concurrent payments of the same user until the transaction ends."""
        assert amount_fen > 0
        params = {"u": user_id, "p": period, "a": amount_fen}
        return int(tx.execute(_ADD_USAGE, params).scalar_one())
