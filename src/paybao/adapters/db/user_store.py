"""SQL implementation of `UserStore` (services/users.py)."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

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
        "sessions_valid_from_s",
    }
)


def _record(row: Any) -> UserRecord:
    return UserRecord(**{name: row._mapping[name] for name in UserRecord.__dataclass_fields__})


# The same text on SQLite (3.35+) and PostgreSQL.
# Built once: every payment reads its buyer, and building a statement costs about as much
# CPU as running it (SQLAlchemy then also reuses the cache key it memoised on the object).
_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_BY_PHONE = select(users).where(users.c.phone == bindparam("phone"))
# The SET clause comes from the parameters at execute time (only `_UPDATABLE` names).
_UPDATE_BY_ID = update(users).where(users.c.id == bindparam("user_id"))

_ADD_USAGE = text(
    "INSERT INTO balance_usage (user_id, period, used_fen) VALUES (:u, :p, :a)"
    " ON CONFLICT (user_id, period)"
    " DO UPDATE SET used_fen = balance_usage.used_fen + excluded.used_fen RETURNING used_fen"
)


class SqlUserStore:
    """Users rows, with the rows read in a transaction remembered until it ends.

    A payment reads its user's row several times in one transaction (the checks, then the
    wallet account id, from services that do not share what they read); each read after the
    first is answered from `_read`, keyed on the transaction's `Connection` (one per
    transaction: `SqlDatabase.write`/`read` open a new one each time, and it is dropped with
    it). Why that is safe:
    - every write of a `users` row goes through `update` here, which forgets the row, so a
      transaction always sees its own writes; `insert` remembers nothing;
    - a locking read (`for_update`) goes to the database (it must take the lock) unless this
      transaction already holds the lock on a row remembered since (a wallet operation's
      device check reads the row locked, then its hold locks it again); what it returns is
      remembered, as locked: nobody else can change the row until this transaction ends;
    - a plain read answered from memory returns what an earlier read of the same transaction
      returned. Without a lock a later read could as well have run before a concurrent commit
      (READ COMMITTED); SQLite's write transactions see no concurrent commits at all.
    """

    def __init__(self) -> None:
        # Per transaction: user id -> (the row, whether it was read locked).
        self._read: weakref.WeakKeyDictionary[Connection, dict[int, tuple[UserRecord, bool]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, tx: Connection, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        read = self._read.get(tx)
        if read is not None and user_id in read:
            record, locked = read[user_id]
            if locked or not for_update:
                return record
        query = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        row = tx.execute(query, {"user_id": user_id}).first()
        if row is None:
            return None
        record = _record(row)
        if read is None:
            read = self._read.setdefault(tx, {})
        read[user_id] = (record, for_update)
        return record

    def get_by_phone(self, tx: Connection, phone: str) -> UserRecord | None:
        row = tx.execute(_BY_PHONE, {"phone": phone}).first()
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
        read = self._read.get(tx)
        if read is not None:
            read.pop(user_id, None)
        assert values, "nothing to update"
        matched = tx.execute(_UPDATE_BY_ID, {"user_id": user_id, **values}).rowcount
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
