"""PAYBAO_BANK_PROVIDER=http's settings (services/bank_provider.py): each problem named by its
setting, never by its value; the secret read from a file only when its owner alone can read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from paybao.services.bank_provider import bank_provider_config, config_problems, load_secret
from paybao.settings import Settings

SECRET = "z" * 40


def _settings(**values: Any) -> Settings:
    return Settings(bank_provider="http", **values)


def test_the_sandbox_needs_nothing() -> None:
    assert config_problems(Settings()) == []
    assert bank_provider_config(Settings()).ok is True


def test_a_complete_configuration_has_no_problems() -> None:
    settings = _settings(bank_url="https://bridge.example/paybao", bank_secret=SecretStr(SECRET))
    assert config_problems(settings) == []
    check = bank_provider_config(settings)
    assert (check.ok, check.message) == (True, "bank provider http is configured")


def test_each_problem_is_named() -> None:
    assert config_problems(_settings()) == [
        "PAYBAO_BANK_URL is not set",
        "PAYBAO_BANK_SECRET (or PAYBAO_BANK_SECRET_FILE) needs at least 32 characters",
    ]
    plain = _settings(bank_url="http://bridge.example/", bank_secret=SecretStr(SECRET))
    assert config_problems(plain) == [
        "PAYBAO_BANK_URL must be https:// (http:// only to this machine)"
    ]
    local = _settings(bank_url="http://127.0.0.1:8700", bank_secret=SecretStr(SECRET))
    assert config_problems(local) == []
    query = _settings(bank_url="https://bridge.example/?a=1", bank_secret=SecretStr(SECRET))
    assert config_problems(query) == [
        "PAYBAO_BANK_URL takes no query or fragment (paths are signed)"
    ]
    slow = _settings(
        bank_url="https://bridge.example/",
        bank_secret=SecretStr(SECRET),
        bank_timeout_s=30,
        bank_connect_timeout_s=31 / 2,
    )
    assert config_problems(slow) == [
        "PAYBAO_BANK_TIMEOUT_S must be shorter than PAYBAO_BANK_QUERY_DELAY_S"
    ]
    short_secret = _settings(bank_url="https://b.example/", bank_secret=SecretStr("short-one"))
    assert "short-one" not in bank_provider_config(short_secret).message


def test_the_secret_file_wins_and_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "bank.secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    settings = _settings(bank_secret_file=str(path), bank_secret=SecretStr("from-env"))
    assert load_secret(settings) == (SECRET, "")
    path.chmod(0o640)
    assert load_secret(settings) == (
        "",
        "PAYBAO_BANK_SECRET_FILE must be readable by its owner only (chmod 600)",
    )
    missing = _settings(bank_secret_file=str(tmp_path / "nope"))
    assert load_secret(missing) == (
        "",
        "PAYBAO_BANK_SECRET_FILE cannot be read (FileNotFoundError)",
    )
