"""Which pepper made the stored password hashes (for `paybao preflight`): counts per pepper
fingerprint over users' sign-in and payment passwords, merchants' and operators' passwords.
Only the fixed-length head of each hash is read and grouped; no hash leaves the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, func, select, union_all

from paybao.adapters.db.tables.merchant_portal import merchant_logins
from paybao.adapters.db.tables.wallet import operators, users
from paybao.adapters.passwords import FINGERPRINT_CHARS, PEPPERED_PREFIX

_HEAD_CHARS = len(PEPPERED_PREFIX) + FINGERPRINT_CHARS


def fingerprint_counts(connection: Connection) -> dict[str, int]:
    """{fingerprint: hashes}; "" counts the hashes made before the pepper."""
    columns: list[ColumnElement[str | None]] = [
        users.c.login_password_hash,
        users.c.payment_password_hash,
        merchant_logins.c.password_hash,
        operators.c.password_hash,
    ]
    heads = union_all(
        *(
            select(func.substr(column, 1, _HEAD_CHARS).label("head")).where(column.is_not(None))
            for column in columns
        )
    ).subquery()
    rows = connection.execute(
        select(heads.c.head, func.count().label("n")).group_by(heads.c.head)
    ).all()
    counts: dict[str, int] = {}
    for head, count in rows:
        text = str(head or "")
        fingerprint = text[len(PEPPERED_PREFIX) :] if text.startswith(PEPPERED_PREFIX) else ""
        counts[fingerprint] = counts.get(fingerprint, 0) + int(count)
    return counts


__all__ = ["fingerprint_counts"]
