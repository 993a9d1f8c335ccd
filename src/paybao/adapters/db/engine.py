"""Engines for SQLite (WAL, immediate write transactions) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000


def dialect_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    assert name in ("sqlite", "postgresql"), f"unsupported database {name}"
    return name


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    sqlite_synchronous: str = "FULL",
    statement_timeout_ms: int = 15_000,
) -> Engine:
    if dialect_of(url) == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No ping per checkout and no ROLLBACK per return: each costs a round trip on every
        # transaction. Every use goes through engine.begin(), which always ends its
        # transaction, and a dead connection surfaces as a retryable error (database.py).
        pool_pre_ping=False,
        pool_reset_on_return=None,
        pool_timeout=10,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={statement_timeout_ms}"
            f" -c lock_timeout={statement_timeout_ms}",
        },
    )


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that we can BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A batch of transfers dirties index pages all over the file: a 64 MiB page cache keeps
        # them in memory, and checkpointing every 16k pages (64 MiB of WAL) instead of every 1k
        # lets repeated writes to hot pages (accounts) fold into one checkpoint write. Together
        # they took group commit from ~16k to ~20k transfers/s (bench/ledger.sh).
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades can
        # fail with SQLITE_BUSY instead of waiting, which would break the retry-free write path.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
