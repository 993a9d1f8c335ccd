"""Platform-wide tables: due-dated jobs (timers and the outbox) and the sandbox clock."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from paybao.adapters.db.tables.base import IdType, metadata

# One table serves timers and the transactional outbox: a row written in the same transaction
# as the business change, run by a worker once due. (kind, key) makes scheduling idempotent.
jobs = Table(
    "jobs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("payload", Text, nullable=False, server_default="{}"),
    Column("due_at_us", BigInteger, nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("locked_until_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("done_at_us", BigInteger, nullable=True),
    UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
)
Index("ix_jobs_due", jobs.c.status, jobs.c.due_at_us)

# A single row: how far the sandbox clock runs ahead of the wall clock.
platform_clock = Table(
    "platform_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("offset_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)
