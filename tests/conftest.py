"""Shared fixtures: a migrated platform on a throw-away database, and an HTTP client.

The database is SQLite (a fresh copy of a migrated template file per test) unless
PAYBAO_TEST_DATABASE_URL names a PostgreSQL database: then the schema is rebuilt once per session
and every table is emptied (its sequences restarted) before each test. CI runs the whole suite
on SQLite, then again on PostgreSQL all but the browser tests and the unit and contract tests
that never touch the test database.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, text

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.adapters.alipay.platform_key import PRIVATE_KEY_FILE
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import upgrade
from paybao.adapters.db.tables import metadata
from paybao.bootstrap import Platform, build_platform
from paybao.domain.account_class import CHINA_TZ
from paybao.settings import Settings

ADMIN_TOKEN = "test-admin-token"
# Under pytest-xdist each worker gets its own PostgreSQL database: <name>_<worker>.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(url: str) -> str:
    if not url.startswith("postgresql") or not WORKER:
        return url
    return f"{url}_{WORKER}"


TEST_DATABASE_URL = _worker_url(os.environ.get("PAYBAO_TEST_DATABASE_URL", ""))


def database_kind() -> str:
    return "postgresql" if TEST_DATABASE_URL.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for the session: a template file (SQLite) or a URL (PostgreSQL)."""
    if database_kind() == "postgresql":
        ensure_postgres_database(TEST_DATABASE_URL)
        engine = make_engine(TEST_DATABASE_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        engine.dispose()
        return TEST_DATABASE_URL
    template = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()
    return str(template)


def ensure_postgres_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    engine = make_engine(f"{base}/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


_RESET_SQL: dict[str, str] = {}


def _reset_sql(connection: Connection, url: str) -> str:
    """Empty every table (children first) and restart every sequence, in one round trip.
    DELETE, not TRUNCATE: truncating ~100 tables rewrites each one's files and cost 0.6-1.4 s
    per test; deleting the few rows a test wrote costs about 20 ms."""
    if url not in _RESET_SQL:
        sequences = connection.execute(
            text("SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences")
        ).scalars()
        deletes = [f'DELETE FROM "{table.name}"' for table in reversed(metadata.sorted_tables)]
        restarts = [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        _RESET_SQL[url] = "; ".join(deletes + restarts)
    return _RESET_SQL[url]


def _fresh_database_url(migrated: str, tmp_path: Path) -> str:
    if database_kind() == "postgresql":
        engine = make_engine(migrated)
        with engine.begin() as connection:
            connection.exec_driver_sql(_reset_sql(connection, migrated))
        engine.dispose()
        return migrated
    copy = tmp_path / "paybao.sqlite3"
    shutil.copyfile(migrated, copy)
    return f"sqlite:///{copy}"


@pytest.fixture(scope="session")
def platform_key_text() -> str:
    return generate_key_pair().private_pem_pkcs1


@pytest.fixture
def settings(migrated_database: str, tmp_path: Path, platform_key_text: str) -> Settings:
    # One platform key for the session: generating an RSA-2048 pair costs 50-500 ms, and
    # parsing it 90 ms (cached per key text), in every test's fresh data folder.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / PRIVATE_KEY_FILE).write_text(platform_key_text)
    (data_dir / PRIVATE_KEY_FILE).chmod(0o600)
    return Settings(
        database_url=_fresh_database_url(migrated_database, tmp_path),
        sandbox=True,
        data_dir=data_dir,
        admin_token=ADMIN_TOKEN,
        run_worker_in_server=False,
        base_url="http://testserver",
        # Real argon2id, at the cheapest parameters it allows: the production cost (about 24 ms
        # a hash here) spent on every test user's two passwords and each sign-in was minutes of
        # CI. tests/unit/test_settings.py holds the production defaults.
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    built = build_platform(settings)
    built.ledger.open_platform_accounts()
    yield built
    built.close()


def move_to_china_noon(platform: Platform) -> None:
    """Platform time to the next noon, China time, running nothing: a test whose clock
    advance would otherwise cross China's midnight when run just before it runs the day
    close, which reconciles the test's bank-less top-ups against the bank. Only for tests that
    send no signed gateway requests (those are checked against the wall clock)."""
    now = datetime.fromtimestamp(platform.clock.now_us() / 1_000_000, CHINA_TZ)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon <= now:
        noon += timedelta(days=1)
    offset_us = platform.clock.offset_us(fresh=True)
    platform.clock.set_offset_us(offset_us + int((noon - now).total_seconds()) * 1_000_000)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    from paybao.web.app import create_app

    with TestClient(create_app(platform, run_worker=False)) as test_client:
        yield test_client


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's kind (no schema), dropped afterwards: for tests that
    migrate or restore into one."""
    if database_kind() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    base, name = TEST_DATABASE_URL.rsplit("/", 1)
    empty = f"{name}_empty_{secrets.token_hex(4)}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{empty}"'))
    try:
        yield f"{base}/{empty}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# Directories whose tests only reach a database through the `migrated_database` fixture (unit
# tests on fakes; contract tests, which serve their own SQLite file).
_ONE_PASS_DIRS = ("unit", "contract")
# Browser tests check what a page shows and does in Chromium; what each page reads and writes
# is in the integration tests, which run on both databases. They run once, on SQLite.
_SQLITE_PASS_DIRS = ("e2e",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, leave out the unit and contract tests that never touch the test
    database, and the browser tests: the SQLite pass ran them already, and a second run proves
    nothing new."""
    if database_kind() != "postgresql":
        return
    tests_dir = Path(__file__).parent
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        relative = item.path.relative_to(tests_dir) if item.path.is_relative_to(tests_dir) else None
        top = relative.parts[0] if relative is not None else ""
        uses_database = "migrated_database" in getattr(item, "fixturenames", ())
        once = (top in _ONE_PASS_DIRS and not uses_database) or top in _SQLITE_PASS_DIRS
        (dropped if once else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
