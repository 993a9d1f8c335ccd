"""`paybao preflight --json` on the test platform (SQLite or PostgreSQL), in process."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.settings import Settings

runner = CliRunner()
STRONG = "x" * 40


def _preflight() -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["preflight", "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def _failed(report: dict[str, Any], severity: str) -> set[str]:
    return {c["code"] for c in report["checks"] if not c["ok"] and c["severity"] == severity}


@pytest.fixture
def sandbox_env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = platform.settings
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


@pytest.fixture
def production_env(sandbox_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Sandbox off, https, strong keys, migrated, private files: what an operator should run."""
    monkeypatch.setenv("PAYBAO_SANDBOX", "0")
    monkeypatch.setenv("PAYBAO_BASE_URL", "https://pay.example.com")
    monkeypatch.setenv("PAYBAO_ADMIN_TOKEN", STRONG)
    monkeypatch.setenv("PAYBAO_BANK_PAY_HMAC_KEY", STRONG)
    monkeypatch.setenv("PAYBAO_SECRET_KEY", STRONG)
    # Heartbeats are stamped with platform time; a day's window keeps this test off the clock.
    monkeypatch.setenv("PAYBAO_WORKER_HEARTBEAT_STALE_S", "86400")
    data_dir = Path(sandbox_env.data_dir)
    data_dir.chmod(0o700)
    for path in data_dir.iterdir():
        if path.name != "platform_rsa_public.pem":
            path.chmod(0o600)
    url = sandbox_env.resolved_database_url()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).chmod(0o600)
    yield sandbox_env


def test_the_sandbox_test_platform_is_not_ready(sandbox_env: Settings) -> None:
    code, report = _preflight()
    assert code == 1
    assert report["ok"] is False
    assert "sandbox_on" in _failed(report, "error")
    assert "base_url_not_https" in _failed(report, "error")  # http://testserver
    human = runner.invoke(app, ["preflight"])
    assert human.exit_code == 1
    assert "ERR  sandbox_on:" in human.output
    assert "fix: set PAYBAO_SANDBOX=0" in human.output


def test_a_production_configuration_is_ready(production_env: Settings, platform: Platform) -> None:
    platform.services["heartbeats"].worker("preflight-test:1").beat_if_due()
    code, report = _preflight()
    assert _failed(report, "error") == set(), report
    assert code == 0 and report["ok"] is True
    warnings = _failed(report, "warning")
    # The shared token is set on purpose here; the adapters are the sandbox's (no real bank).
    assert {"admin_token_shared", "sandbox_adapters"} <= warnings
    assert "worker_heartbeat_stale" not in warnings
    kind = platform.db.dialect
    assert ("database_sqlite" in warnings) == (kind == "sqlite")


def test_no_worker_is_a_warning_only(production_env: Settings) -> None:
    code, report = _preflight()
    assert code == 0
    assert "worker_heartbeat_stale" in _failed(report, "warning")


def test_an_unreconciled_ledger_blocks(production_env: Settings, platform: Platform) -> None:
    with platform.engine.begin() as connection:
        connection.execute(text("UPDATE ledger_accounts SET debits_posted = 5 WHERE id = 1"))
    code, report = _preflight()
    assert code == 1
    assert _failed(report, "error") == {"reconcile_not_clean"}


def test_open_key_files_and_data_folder_block(production_env: Settings) -> None:
    data_dir = Path(production_env.data_dir)
    data_dir.chmod(0o755)
    key = data_dir / "platform_rsa_private.pem"
    key.chmod(0o644)
    code, report = _preflight()
    assert code == 1
    assert _failed(report, "error") == {"data_dir_open", "key_file_open"}
    [check] = [c for c in report["checks"] if c["code"] == "key_file_open"]
    assert str(key) in check["message"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o644  # preflight only reads


def test_an_unmigrated_database_blocks(
    production_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch(mode=0o600)
    monkeypatch.setenv("PAYBAO_DATABASE_URL", f"sqlite:///{empty}")
    code, report = _preflight()
    assert code == 1
    assert {"schema_not_at_head", "reconcile_not_clean"} <= _failed(report, "error")
    [check] = [c for c in report["checks"] if c["code"] == "reconcile_not_clean"]
    assert "schema is not at head" in check["message"]


def test_a_missing_sqlite_file_is_reported_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_file = tmp_path / "nothing-yet.db"
    monkeypatch.setenv("PAYBAO_DATABASE_URL", f"sqlite:///{database_file}")
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(tmp_path / "data"))
    code, report = _preflight()
    assert code == 1 and "schema_not_at_head" in _failed(report, "error")
    schema = next(c for c in report["checks"] if c["code"] == "schema_not_at_head")
    assert "does not exist" in schema["message"]
    assert not database_file.exists()  # preflight looks; it makes nothing
