"""`paybao preflight` and the SMS gateway, on SQLite and PostgreSQL: `sms_provider_config` fails
(an error) when PAYBAO_SMS_PROVIDER names a gateway without its settings, naming them and never
their values; with a configured gateway `sandbox_adapters` no longer counts SMS as the
sandbox's."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.test_preflight_cli import (
    _failed,
    _preflight,
    production_env,  # noqa: F401 (a fixture)
    runner,
    sandbox_env,  # noqa: F401 (a fixture)
)

from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.settings import Settings

WEBHOOK_SECRET = "w" * 40


def _check(report: dict[str, Any], code: str) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [c for c in report["checks"] if c["code"] == code]
    [check] = checks
    return check


def test_the_sandbox_provider_passes_the_config_check_and_is_reported_as_sandbox(
    production_env: Settings,  # noqa: F811
) -> None:
    _, report = _preflight()
    config = _check(report, "sms_provider_config")
    assert config["ok"] is True and config["severity"] == "error"
    assert "sandbox" in config["message"]
    adapters = _check(report, "sandbox_adapters")
    assert adapters["ok"] is False and "SMS SandboxSmsSender" in adapters["message"]


def test_a_configured_webhook_is_not_a_sandbox_adapter(
    production_env: Settings,  # noqa: F811
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYBAO_SMS_PROVIDER", "http")
    monkeypatch.setenv("PAYBAO_SMS_HTTP_URL", "https://sms.example.com/send")
    monkeypatch.setenv("PAYBAO_SMS_HTTP_SECRET", WEBHOOK_SECRET)
    platform.services["heartbeats"].worker("preflight-test:1").beat_if_due()
    code, report = _preflight()
    assert code == 0, report
    assert _check(report, "sms_provider_config")["message"] == "SMS provider http is configured"
    adapters = _check(report, "sandbox_adapters")
    assert "SMS" not in adapters["message"].split(":", 1)[1].split("(")[0]
    assert "bank SandboxBank" in adapters["message"]  # the bank is still the sandbox's
    assert WEBHOOK_SECRET not in str(report)


def test_a_gateway_without_its_settings_blocks_naming_them(
    production_env: Settings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYBAO_SMS_PROVIDER", "aliyun")
    monkeypatch.setenv("PAYBAO_SMS_ALIYUN_ACCESS_KEY_SECRET", "the-aliyun-secret")
    code, report = _preflight()
    assert code == 1
    assert "sms_provider_config" in _failed(report, "error")
    message = _check(report, "sms_provider_config")["message"]
    for name in ("ACCESS_KEY_ID", "SIGN_NAME", "TEMPLATE_CODE"):
        assert f"PAYBAO_SMS_ALIYUN_{name} is not set" in message
    assert "ACCESS_KEY_SECRET" not in message
    # The platform does not start with it: the runtime checks say why, without the secret.
    assert "the-aliyun-secret" not in str(report)
    human = runner.invoke(app, ["preflight"])
    assert human.exit_code == 1
    assert "ERR  sms_provider_config: SMS provider aliyun is not fully configured" in human.output
