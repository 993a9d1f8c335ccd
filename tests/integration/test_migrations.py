"""Migrations: upgrade from empty works, and the models agree with what the migrations built."""

from __future__ import annotations

import secrets
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from tests.conftest import TEST_DATABASE_URL, database_kind

from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import MIGRATIONS_DIR, alembic_config, current_heads, upgrade
from paybao.adapters.db.tables import metadata


def _empty_database_url(tmp_path: Path) -> str:
    if database_kind() == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    base, name = TEST_DATABASE_URL.rsplit("/", 1)
    # A fresh name each time (no DROP, which waits on other sessions under load); named after
    # the test database so that the run's cleanup drops it too.
    empty = f"{name}_migrations_{secrets.token_hex(4)}"
    engine = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{empty}"'))
    engine.dispose()
    return f"{base}/{empty}"


def test_upgrade_from_empty_reaches_every_head_and_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(_empty_database_url(tmp_path))
    upgrade(engine)
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    assert current_heads(engine) == set(script.get_heads())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == [], differences


def test_upgrade_is_repeatable(tmp_path: Path) -> None:
    engine = make_engine(_empty_database_url(tmp_path))
    upgrade(engine)
    upgrade(engine)
    engine.dispose()


def test_migrations_live_in_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert any(MIGRATIONS_DIR.glob("versions/0001_*.py"))


def test_0039_drops_only_the_unclaimed_pending_finish_timers(tmp_path: Path) -> None:
    engine = make_engine(_empty_database_url(tmp_path))
    upgrade(engine, "0038_royalty_back")
    rows = [
        ("trade_finish", "T1", "pending", None),  # the sweep covers it: dropped
        ("trade_finish", "T2", "pending", 10**15),  # a worker holds it: left to run
        ("trade_finish", "T3", "done", None),  # history: kept
        ("trade_expire", "T4", "pending", None),  # another kind: kept
    ]
    with engine.begin() as connection:
        for kind, key, status, locked_until_us in rows:
            connection.execute(
                text(
                    "INSERT INTO jobs (kind, key, payload, due_at_us, status, attempts,"
                    " locked_until_us, created_at_us)"
                    " VALUES (:kind, :key, '{}', 1, :status, 0, :locked, 1)"
                ),
                {"kind": kind, "key": key, "status": status, "locked": locked_until_us},
            )
    upgrade(engine)
    with engine.connect() as connection:
        left = set(connection.execute(text("SELECT key FROM jobs")).scalars())
    engine.dispose()
    assert left == {"T2", "T3", "T4"}
