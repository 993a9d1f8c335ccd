"""docs/operations.md "Upgrades": on PostgreSQL, building 0037's index concurrently beforehand
works only with alembic_version moved to 0037 by hand; without that the migration's plain
CREATE INDEX fails and the whole upgrade rolls back. Runs on its own throw-away database."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from tests.conftest import TEST_DATABASE_URL, database_kind

from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import alembic_config, current_heads, upgrade

pytestmark = pytest.mark.skipif(database_kind() != "postgresql", reason="PostgreSQL only")

BEFORE = "0036_royalty"
INDEX = "0037_trade_finish_index"


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


def test_prebuilt_index_needs_the_version_moved_by_hand() -> None:
    url = _fresh_database("ops0037")
    engine = make_engine(url)
    try:
        upgrade(engine, BEFORE)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text(
                    "CREATE INDEX CONCURRENTLY ix_trades_status_paid ON trades (status, paid_at_us)"
                )
            )
        with pytest.raises(Exception, match="already exists"):
            upgrade(engine)
        assert current_heads(engine) == {BEFORE}  # rolled back as a whole
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :to WHERE version_num = :at"),
                {"to": INDEX, "at": BEFORE},
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
