"""Personal admin API tokens of operators (domain/operator_access.py). The operators' own
`disabled_at_us` column lives with the operators table (tables/wallet.py).

Also, from the same migration (0019): an index for the admin console's list of merchant
notifications by delivery status (the failed ones, newest first, across all merchants).

Only the SHA-256 of a token is stored (see the domain module for why not argon2). A revoked
token keeps its row: the token list and the audit log still name it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, text

from paybao.adapters.db.tables.base import IdType, metadata
from paybao.adapters.db.tables.trade import trade_notifications

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("operator_id", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    # hex SHA-256 of the token: a leaked table leaks no usable token.
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    # Who minted it: the operator itself, an admin, or NULL for the CLI.
    Column("created_by_operator_id", BigInteger, nullable=True),
    Column("expires_at_us", BigInteger, nullable=True),  # NULL: never expires
    Column("last_used_at_us", BigInteger, nullable=True),
    Column("revoked_at_us", BigInteger, nullable=True),
)
Index("ix_operator_tokens_operator", operator_tokens.c.operator_id, operator_tokens.c.id)
# One unrevoked token per (operator, name): a name says which script holds which token.
Index(
    "uq_operator_tokens_live_name",
    operator_tokens.c.operator_id,
    operator_tokens.c.name,
    unique=True,
    sqlite_where=text("revoked_at_us IS NULL"),
    postgresql_where=text("revoked_at_us IS NULL"),
)

Index(
    "ix_trade_notifications_status",
    trade_notifications.c.status,
    trade_notifications.c.id,
)
