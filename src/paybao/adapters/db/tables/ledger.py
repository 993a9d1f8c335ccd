"""Ledger tables: accounts with their four counters, and immutable transfers.

Times on the hot path are integer microseconds since the epoch (`*_at_us`): exact, portable and
cheap to write in batches. The only mutable transfer column is `pending_status` of a hold.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from paybao.adapters.db.tables.base import IdType, metadata

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),
    Column("owner_kind", String(16), nullable=False),
    Column("owner_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("flags", Integer, nullable=False, server_default="0"),
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),
    Column("debits_posted", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0"
        " AND credits_posted >= 0",
        name="counters_not_negative",
    ),
    # The database refuses an overdraft even if the code above it had a bug.
    CheckConstraint(
        "(flags & 1) = 0 OR debits_posted + debits_pending <= credits_posted",
        name="debits_within_credits",
    ),
    CheckConstraint(
        "(flags & 2) = 0 OR credits_posted + credits_pending <= debits_posted",
        name="credits_within_debits",
    ),
)
Index("ix_ledger_accounts_owner", ledger_accounts.c.owner_kind, ledger_accounts.c.owner_id)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("seq", IdType, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("debit_account_id", BigInteger, nullable=False),
    Column("credit_account_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", String(64), nullable=True),
    Column("timeout_s", Integer, nullable=False),
    Column("reference", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=True),
    Column("pending_status", String(8), nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
)
# Account id leads: statements read an account's transfers in order (and it shards well).
Index("ix_ledger_transfers_debit", ledger_transfers.c.debit_account_id, ledger_transfers.c.seq)
Index("ix_ledger_transfers_credit", ledger_transfers.c.credit_account_id, ledger_transfers.c.seq)
Index("ix_ledger_transfers_reference", ledger_transfers.c.reference)
# Monthly and annual statements read an account's transfers of a time range (migration 0034).
Index(
    "ix_ledger_transfers_debit_time",
    ledger_transfers.c.debit_account_id,
    ledger_transfers.c.created_at_us,
)
Index(
    "ix_ledger_transfers_credit_time",
    ledger_transfers.c.credit_account_id,
    ledger_transfers.c.created_at_us,
)
Index(
    "ix_ledger_transfers_open_holds",
    ledger_transfers.c.expires_at_us,
    sqlite_where=text("pending_status = 'pending'"),
    postgresql_where=text("pending_status = 'pending'"),
)

# The journal's hash chain (domain/ledger_seal.py, services/ledger_seals.py): block n holds the
# transfers with seq in [from_seq, to_seq] but its `gaps`, and its hash chains to block n-1's.
# Written by the seal sweep only, one row per block, never updated.
ledger_seals = Table(
    "ledger_seals",
    metadata,
    Column("block_no", BigInteger, primary_key=True, autoincrement=False),
    Column("from_seq", BigInteger, nullable=False),
    Column("to_seq", BigInteger, nullable=False),
    Column("transfer_count", Integer, nullable=False),
    Column("gaps", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("sealed_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "block_no > 0 AND from_seq <= to_seq AND transfer_count > 0", name="range_valid"
    ),
)
