"""The `paybao` command, in process through Typer's runner, on the test database."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from paybao.cli import app
from paybao.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


def _count_accounts(settings: Settings) -> int:
    from paybao.adapters.db.engine import make_engine

    engine = make_engine(settings.resolved_database_url())
    with engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM ledger_accounts")).scalar()
    engine.dispose()
    return int(count or 0)


def test_db_upgrade_and_demo_are_idempotent(env: Settings) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    accounts = _count_accounts(env)
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert _count_accounts(env) == accounts


def test_reconcile_exit_codes(env: Settings) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    clean = runner.invoke(app, ["reconcile"])
    assert clean.exit_code == 0, clean.output
    assert "clean" in clean.output
    from paybao.adapters.db.engine import make_engine

    engine = make_engine(env.resolved_database_url())
    with engine.begin() as connection:
        connection.execute(text("UPDATE ledger_accounts SET debits_posted = 5 WHERE id = 1"))
    engine.dispose()
    dirty = runner.invoke(app, ["reconcile"])
    assert dirty.exit_code == 1
    assert "BAD ledger.balances_sum_to_zero" in dirty.output
    as_json = runner.invoke(app, ["reconcile", "--json"])
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert report["clean"] is False
    kinds = {(d["kind"], d["subject"]) for d in report["differences"]}
    assert ("posted_not_balanced", "CNY") in kinds


def test_clock_moves_only_in_sandbox(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = runner.invoke(app, ["clock", "advance", "10d"])
    assert moved.exit_code == 0, moved.output
    shown = runner.invoke(app, ["clock", "show"])
    found = re.search(r"offset (\d+) s", shown.output)
    assert found, shown.output
    # Ten days ahead of the wall clock, less the wall time the advance itself took.
    assert 864_000 - 60 <= int(found.group(1)) <= 864_000
    monkeypatch.setenv("PAYBAO_SANDBOX", "0")
    refused = runner.invoke(app, ["clock", "advance", "1d"])
    assert refused.exit_code == 2
    assert "sandbox_only" in refused.output
    bad = runner.invoke(app, ["clock", "advance", "soon"])
    assert bad.exit_code == 2


def test_bench_ledger_prints_one_json_object(env: Settings) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "ledger",
            "--json",
            "--seconds",
            "1",
            "--accounts",
            "20",
            "--submitters",
            "4",
            "--single-threads",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in (
        "single_commit_per_s",
        "group_commit_per_s",
        "group_commit_p50_ms",
        "group_commit_p99_ms",
        "submitters",
    ):
        assert report[key] > 0
    assert report["database"] in ("sqlite", "postgresql")
    assert report["reconcile_clean"] is True
