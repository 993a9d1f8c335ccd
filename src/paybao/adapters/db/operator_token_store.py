"""SQL for operators' personal admin API tokens (services/operator_tokens.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.tables.operator_access import operator_tokens
from paybao.adapters.db.tables.wallet import operators
from paybao.services.operator_tokens import TokenRow


class SqlOperatorTokenStore(SqlAdminStore):
    """The operators' store (operator rows, the audit log) plus their tokens."""

    def insert_operator_token(self, tx: Connection, row: TokenRow) -> int:
        result = tx.execute(
            insert(operator_tokens)
            .values(
                operator_id=row.operator_id,
                name=row.name,
                token_sha256=row.token_sha256,
                created_at_us=row.created_at_us,
                created_by_operator_id=row.created_by_operator_id,
                expires_at_us=row.expires_at_us,
            )
            .returning(operator_tokens.c.id)
        )
        return int(result.scalar_one())

    def unrevoked_token_named(self, tx: Connection, operator_id: int, name: str) -> Any:
        query = select(operator_tokens.c.id).where(
            operator_tokens.c.operator_id == operator_id,
            operator_tokens.c.name == name,
            operator_tokens.c.revoked_at_us.is_(None),
        )
        return tx.execute(query).first()

    def live_token_count(self, tx: Connection, operator_id: int, now_us: int) -> int:
        query = (
            select(func.count())
            .select_from(operator_tokens)
            .where(
                operator_tokens.c.operator_id == operator_id,
                operator_tokens.c.revoked_at_us.is_(None),
                or_(
                    operator_tokens.c.expires_at_us.is_(None),
                    operator_tokens.c.expires_at_us > now_us,
                ),
            )
        )
        return int(tx.execute(query).scalar_one())

    def operator_tokens(self, tx: Connection, operator_id: int, limit: int) -> list[Any]:
        query = (
            select(operator_tokens)
            .where(operator_tokens.c.operator_id == operator_id)
            .order_by(operator_tokens.c.id.desc())
            .limit(limit)
        )
        return list(tx.execute(query).all())

    def operator_token(self, tx: Connection, token_id: int) -> Any:
        query = select(operator_tokens).where(operator_tokens.c.id == token_id)
        return tx.execute(query).first()

    def revoke_operator_token(self, tx: Connection, token_id: int, now_us: int) -> bool:
        result = tx.execute(
            update(operator_tokens)
            .where(operator_tokens.c.id == token_id, operator_tokens.c.revoked_at_us.is_(None))
            .values(revoked_at_us=now_us)
        )
        return bool(result.rowcount)

    def token_holder(self, tx: Connection, token_sha256: str) -> Any:
        """The token row with its operator's name, role and disabled time, or None."""
        query = (
            select(
                operator_tokens.c.id,
                operator_tokens.c.name,
                operator_tokens.c.operator_id,
                operator_tokens.c.expires_at_us,
                operator_tokens.c.last_used_at_us,
                operator_tokens.c.revoked_at_us,
                operators.c.name.label("operator_name"),
                operators.c.role,
                operators.c.disabled_at_us,
            )
            .join(operators, operators.c.id == operator_tokens.c.operator_id)
            .where(operator_tokens.c.token_sha256 == token_sha256)
        )
        return tx.execute(query).first()

    def touch_operator_token(self, tx: Connection, token_id: int, now_us: int) -> None:
        tx.execute(
            update(operator_tokens)
            .where(operator_tokens.c.id == token_id)
            .values(last_used_at_us=now_us)
        )
