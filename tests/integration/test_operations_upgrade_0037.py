"""docs/operations.md "Upgrades": on PostgreSQL, an operator builds 0037's index concurrently
beforehand and `paybao db upgrade` then finds it (the migration says IF NOT EXISTS) and goes on
to head. Runs on its own throw-away database."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from tests.conftest import TEST_DATABASE_URL, database_kind

from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import alembic_config, current_heads, upgrade

pytestmark = pytest.mark.skipif(database_kind() != "postgresql", reason="PostgreSQL only")

BEFORE = "0036_royalty"


def _fresh_database(suffix: str) -> str:
    base, name = TEST_DATABASE_URL.rsplit("/", 1)
    url = f"{base}/{name}_{suffix}"
    admin = make_engine(f"{base}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}_{suffix}"'))
        connection.execute(text(f'CREATE DATABASE "{name}_{suffix}"'))
    admin.dispose()
    return url


def _drop(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = make_engine(f"{base}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def test_a_prebuilt_index_is_found_by_the_upgrade() -> None:
    url = _fresh_database("ops0037")
    engine = make_engine(url)
    try:
        upgrade(engine, BEFORE)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_trades_status_paid"
                    " ON trades (status, paid_at_us)"
                )
            )
        upgrade(engine)
        with engine.connect() as connection:
            indexes = connection.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'trades'")
            ).scalars()
            assert "ix_trades_status_paid" in set(indexes)
        head = ScriptDirectory.from_config(alembic_config(url)).get_heads()
        assert current_heads(engine) == set(head)
    finally:
        engine.dispose()
        _drop(url)
