"""Operations: one heartbeat row per background worker process (`paybao worker`, or the worker
thread of each `paybao serve` process), so the admin console and /metrics can tell it is alive.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from paybao.adapters.db.tables.base import metadata

# Keyed by host:pid; a restarted worker is a new row. Rows older than the keep period are
# pruned by the workers themselves as they beat.
worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("worker_id", String(128), primary_key=True),
    Column("started_at_us", BigInteger, nullable=False),
    Column("beat_at_us", BigInteger, nullable=False),
    Column("stopped_at_us", BigInteger, nullable=True),  # set by a clean shutdown
    Column("passes", BigInteger, nullable=False, server_default="0"),
    Column("jobs_run", BigInteger, nullable=False, server_default="0"),
    Column("swept", BigInteger, nullable=False, server_default="0"),
    Column("errors", BigInteger, nullable=False, server_default="0"),
    Column("last_error", String(200), nullable=True),
    Column("last_work_at_us", BigInteger, nullable=True),  # the last pass that did something
)
Index("ix_worker_heartbeats_beat", worker_heartbeats.c.beat_at_us)
