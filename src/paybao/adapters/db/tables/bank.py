"""The sandbox bank's own tables: its card accounts and every request it answered.

They live in the platform's database for convenience only; nothing but
`adapters/banks/sandbox.py` reads or writes them, as if the bank were elsewhere.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table

from paybao.adapters.db.tables.base import IdType, metadata

bank_card_accounts = Table(
    "bank_card_accounts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("card_number", String(19), nullable=False, unique=True),
    Column("bank_code", String(16), nullable=False),
    Column("holder_name", String(64), nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("reserved_phone", String(11), nullable=False),
    Column("balance_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
)

bank_requests = Table(
    "bank_requests",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    # The platform's id for the request: a repeat of it is answered from this row.
    Column("request_id", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("card_number", String(19), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("kind IN ('debit', 'credit')", name="kind_known"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
Index("ix_bank_requests_created", bank_requests.c.created_at_us)
