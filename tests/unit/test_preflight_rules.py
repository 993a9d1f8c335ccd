"""domain/preflight.py: every rule passes on a production-ready installation and fails on the
one fact that makes it unfit, with its stable code and severity."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paybao.domain import preflight as p
from paybao.domain.preflight import ERROR, WARNING, Facts, PathMode, SchemaFacts

HEAD = ("0039_drop_finish_jobs",)


def ready() -> Facts:
    return Facts(
        sandbox=False,
        dialect="postgresql",
        sqlite_synchronous="FULL",
        base_url="https://pay.example.com",
        admin_token_length=0,
        secret_key_length=0,
        bank_pay_hmac_key_is_default=False,
        bank_pay_hmac_key_length=64,
        sandbox_fault_settings=(),
        data_dir=PathMode("/srv/paybao/var", 0o700, is_dir=True),
        private_files=(PathMode("/srv/paybao/var/platform_rsa_private.pem", 0o600),),
        argon2_time_cost=2,
        argon2_memory_kib=19_456,
        notify_timeout_s=5.0,
        notify_retry_schedule_s=(240, 600, 600, 3600, 7200, 21600, 54000),
        risk_enabled=True,
        heartbeat_stale_s=30,
        schema=SchemaFacts(current=HEAD, head=HEAD, pending=(), known=True),
        reconcile_differences=0,
        heartbeat_age_s=3.0,
        bank_adapter="AcmeBank",
        sms_sender="AcmeSms",
        password_pepper="1a2b3c4d",
        password_hashes=(("", 3), ("1a2b3c4d", 40)),  # three not signed in since the pepper
    )


def one(facts: Facts, code: str) -> p.Check:
    [check] = [c for c in p.evaluate(facts) if c.code == code]
    return check


def test_a_ready_installation_passes_every_check() -> None:
    checks = p.evaluate(ready())
    assert [c.code for c in checks if not c.ok] == []
    assert p.passed(checks)
    assert len({c.code for c in checks}) == len(p.RULES)


# (code, severity, the changes that fail it)
FAILURES: list[tuple[str, str, dict[str, object]]] = [
    ("password_pepper", ERROR, {"password_hashes": (("1a2b3c4d", 40), ("99ffee00", 2))}),
    ("password_pepper", ERROR, {"password_hashes": None, "password_hashes_error": "no db"}),
    ("sandbox_on", ERROR, {"sandbox": True}),
    ("database_sqlite", WARNING, {"dialect": "sqlite"}),
    ("sqlite_synchronous_not_full", WARNING, {"dialect": "sqlite", "sqlite_synchronous": "NORMAL"}),
    ("base_url_not_https", ERROR, {"base_url": "http://pay.example.com"}),
    ("base_url_local", ERROR, {"base_url": "https://localhost:8443"}),
    ("base_url_local", ERROR, {"base_url": "https://127.0.0.1"}),
    ("base_url_local", ERROR, {"base_url": "https://127.1.2.3/pay"}),
    ("admin_token_short", ERROR, {"admin_token_length": 31}),
    ("admin_token_shared", WARNING, {"admin_token_length": 64}),
    ("secret_key_short", ERROR, {"secret_key_length": 16}),
    ("bank_pay_hmac_key_default", ERROR, {"bank_pay_hmac_key_is_default": True}),
    ("bank_pay_hmac_key_default", ERROR, {"bank_pay_hmac_key_length": 12}),
    ("sandbox_faults_on", ERROR, {"sandbox_fault_settings": ("PAYBAO_BANK_FAILURE_RATE",)}),
    ("data_dir_open", ERROR, {"data_dir": PathMode("/srv/paybao/var", 0o755, is_dir=True)}),
    ("data_dir_open", ERROR, {"data_dir": PathMode("/srv/paybao/var", 0o710, is_dir=True)}),
    ("data_dir_open", ERROR, {"data_dir": PathMode("/srv/paybao/var", None)}),
    ("key_file_open", ERROR, {"private_files": (PathMode("/v/paycode.key", 0o640),)}),
    ("key_file_open", ERROR, {"private_files": (PathMode("/v/paybao.sqlite3", 0o604),)}),
    ("schema_not_at_head", ERROR, {"schema": None, "schema_error": "connection refused"}),
    (
        "schema_not_at_head",
        ERROR,
        {"schema": SchemaFacts(("0038_royalty_back",), HEAD, HEAD, known=True)},
    ),
    ("schema_not_at_head", ERROR, {"schema": SchemaFacts(("0099_future",), HEAD, (), known=False)}),
    ("reconcile_not_clean", ERROR, {"reconcile_differences": 2}),
    ("reconcile_not_clean", ERROR, {"reconcile_differences": None, "reconcile_error": "x"}),
    ("worker_heartbeat_stale", WARNING, {"heartbeat_age_s": None}),
    ("worker_heartbeat_stale", WARNING, {"heartbeat_age_s": 30.5}),
    ("worker_heartbeat_stale", WARNING, {"heartbeat_error": "the schema is not at head"}),
    ("argon2_below_owasp", ERROR, {"argon2_memory_kib": 19_455}),
    ("argon2_below_owasp", ERROR, {"argon2_time_cost": 1}),
    ("argon2_below_owasp", ERROR, {"argon2_memory_kib": 1024, "argon2_time_cost": 10}),
    ("notify_timeout", WARNING, {"notify_timeout_s": 0.5}),
    ("notify_timeout", WARNING, {"notify_timeout_s": 20.0}),
    ("notify_retries", WARNING, {"notify_retry_schedule_s": ()}),
    ("notify_retries", WARNING, {"notify_retry_schedule_s": (60, 60)}),
    ("notify_retries", WARNING, {"notify_retry_schedule_s": (0, 7200)}),
    ("risk_disabled", WARNING, {"risk_enabled": False}),
    ("sandbox_adapters", WARNING, {"bank_adapter": "SandboxBank"}),
    ("sandbox_adapters", WARNING, {"sms_sender": "SandboxSmsSender"}),
    ("sandbox_adapters", WARNING, {"bank_adapter": "", "sms_sender": ""}),
]


@pytest.mark.parametrize(("code", "severity", "changes"), FAILURES)
def test_each_rule_fails_on_what_makes_it_unfit(
    code: str, severity: str, changes: dict[str, object]
) -> None:
    facts = replace(ready(), **changes)  # type: ignore[arg-type]
    check = one(facts, code)
    assert not check.ok
    assert check.severity == severity
    assert check.message and check.fix
    assert p.passed(p.evaluate(facts)) == (severity == WARNING)


def test_every_rule_has_a_failing_case() -> None:
    assert {c.code for c in p.evaluate(ready())} == {code for code, _, _ in FAILURES}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"dialect": "postgresql", "sqlite_synchronous": "NORMAL"}, "sqlite_synchronous_not_full"),
        ({"dialect": "sqlite", "sqlite_synchronous": "FULL"}, "sqlite_synchronous_not_full"),
        ({"admin_token_length": 32}, "admin_token_short"),
        ({"secret_key_length": 32}, "secret_key_short"),
        ({"data_dir": PathMode("/v", 0o700, is_dir=True)}, "data_dir_open"),
        ({"private_files": (PathMode("/v/a", 0o400), PathMode("/v/b", None))}, "key_file_open"),
        ({"heartbeat_age_s": 30.0}, "worker_heartbeat_stale"),
        ({"argon2_memory_kib": 47_104, "argon2_time_cost": 1}, "argon2_below_owasp"),
        ({"argon2_memory_kib": 12_288, "argon2_time_cost": 3}, "argon2_below_owasp"),
        ({"argon2_memory_kib": 7_168, "argon2_time_cost": 5}, "argon2_below_owasp"),
        ({"notify_timeout_s": 10.0}, "notify_timeout"),
        ({"notify_retry_schedule_s": (3600,)}, "notify_retries"),
    ],
)
def test_boundaries_that_pass(changes: dict[str, object], code: str) -> None:
    assert one(replace(ready(), **changes), code).ok  # type: ignore[arg-type]


def test_warnings_alone_do_not_block() -> None:
    facts = replace(ready(), dialect="sqlite", admin_token_length=64, heartbeat_age_s=None)
    checks = p.evaluate(facts)
    assert {c.code for c in checks if not c.ok} == {
        "database_sqlite",
        "admin_token_shared",
        "worker_heartbeat_stale",
    }
    assert p.passed(checks)


def test_json_shape() -> None:
    check = one(replace(ready(), sandbox=True), "sandbox_on")
    assert check.to_json() == {
        "code": "sandbox_on",
        "severity": "error",
        "ok": False,
        "message": check.message,
        "fix": "set PAYBAO_SANDBOX=0",
    }


def test_a_long_pending_list_is_cut() -> None:
    pending = tuple(f"{n:04d}_m" for n in range(1, 11))
    facts = replace(ready(), schema=SchemaFacts((), HEAD, pending, known=True))
    assert one(facts, "schema_not_at_head").message == (
        "10 migration(s) pending: 0001_m 0002_m 0003_m and 7 more"
    )
