"""Gathering the facts `paybao preflight` judges (the rules are in domain/preflight.py).

The settings are read as they are; the data folder, the schema and the live platform are asked
through `PreflightIO`, so a failure to reach one (no database, a schema behind the code) is a
fact too: the checks that needed it fail with the reason, and the rest still run. The live
platform (reconcile, worker heartbeats, adapters) is opened only when the schema is at head:
on an older schema its queries would fail for the wrong reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from paybao.domain.preflight import ERROR, Check, Facts, PathMode, SchemaFacts, evaluate
from paybao.services.bank_provider import bank_provider_config
from paybao.services.sms_delivery import config_problems
from paybao.settings import Settings

# Settings that make the sandbox bank and billers misbehave on purpose.
SANDBOX_FAULT_SETTINGS: tuple[str, ...] = (
    "bank_latency_ms",
    "bank_timeout_rate",
    "bank_failure_rate",
    "billpay_sandbox_latency_ms",
    "billpay_sandbox_timeout_rate",
    "billpay_sandbox_failure_rate",
)
ERROR_SHOWN_MAX = 200


class Runtime(Protocol):
    """The live platform, as far as preflight asks it."""

    def reconcile_differences(self) -> int: ...

    def heartbeat_age_s(self) -> float | None:
        """Seconds since the freshest beat of a running worker; None: none running."""
        ...

    def adapter_names(self) -> tuple[str, str]:
        """The class names of the bank adapter and the SMS sender."""
        ...

    def password_hashes(self) -> tuple[str, dict[str, int]]:
        """This data folder's pepper fingerprint, and the stored password hashes per pepper
        fingerprint ("": made before the pepper)."""
        ...

    def close(self) -> None: ...


class PreflightIO(Protocol):
    def dialect_of(self, url: str) -> str: ...

    def schema(self, url: str) -> SchemaFacts: ...

    def mode_of(self, path: Path) -> PathMode: ...

    def key_files(self, data_dir: Path) -> Sequence[Path]:
        """The data folder's key files that exist."""
        ...

    def open_runtime(self, settings: Settings) -> Runtime: ...


def gather(settings: Settings, io: PreflightIO) -> Facts:
    url = settings.resolved_database_url()
    dialect = io.dialect_of(url)
    schema: SchemaFacts | None = None
    schema_error = ""
    missing = _missing_sqlite_file(url, io) if dialect == "sqlite" else None
    if missing is not None:
        # Connecting would create an empty database file: preflight only looks.
        schema_error = f"the database file {missing} does not exist (paybao db upgrade makes it)"
    else:
        try:
            schema = io.schema(url)
        except Exception as error:  # any driver's "cannot connect"
            schema_error = _reason(error)
    if schema is None or not schema.at_head:
        asked = _Answers.failed("the schema is not at head")
    else:
        try:
            runtime = io.open_runtime(settings)
        except Exception as error:
            asked = _Answers.failed(_reason(error))
        else:
            asked = _ask(runtime)

    # After the runtime: building it makes the platform's key files if they are missing.
    data_dir = Path(settings.data_dir)
    private = [io.mode_of(path) for path in io.key_files(data_dir)]
    if dialect == "sqlite":
        database_file = _sqlite_file(url)
        if database_file is not None:
            private.append(io.mode_of(database_file))
    defaults = Settings.model_fields
    return Facts(
        sandbox=settings.sandbox,
        dialect=dialect,
        sqlite_synchronous=settings.sqlite_synchronous,
        base_url=settings.base_url,
        admin_token_length=len(settings.admin_token),
        secret_key_length=len(settings.secret_key),
        bank_pay_hmac_key_is_default=(
            settings.bank_pay_hmac_key == defaults["bank_pay_hmac_key"].default
        ),
        bank_pay_hmac_key_length=len(settings.bank_pay_hmac_key),
        sandbox_fault_settings=tuple(
            f"PAYBAO_{name.upper()}" for name in SANDBOX_FAULT_SETTINGS if getattr(settings, name)
        ),
        data_dir=io.mode_of(data_dir),
        private_files=tuple(private),
        argon2_time_cost=settings.password_hash_time_cost,
        argon2_memory_kib=settings.password_hash_memory_kib,
        notify_timeout_s=settings.notify_timeout_s,
        notify_retry_schedule_s=tuple(settings.notify_retry_schedule_s),
        risk_enabled=settings.risk_enabled,
        heartbeat_stale_s=settings.worker_heartbeat_stale_s,
        schema=schema,
        schema_error=schema_error,
        reconcile_differences=asked.differences,
        reconcile_error=asked.reconcile_error,
        heartbeat_age_s=asked.age_s,
        heartbeat_error=asked.heartbeat_error,
        bank_adapter=asked.bank,
        sms_sender=asked.sms,
        password_pepper=asked.pepper,
        password_hashes=asked.hashes,
        password_hashes_error=asked.hashes_error,
    )


def run(settings: Settings, io: PreflightIO) -> list[Check]:
    return [
        *evaluate(gather(settings, io)),
        sms_provider_config(settings),
        bank_provider_config(settings),
    ]


def sms_provider_config(settings: Settings) -> Check:
    """A gateway asked for (PAYBAO_SMS_PROVIDER) must have what it needs: without it the
    platform does not start (wiring/sms.py). Read from the settings alone, so it says what is
    missing even when the runtime checks above could not open the platform because of it."""
    provider = settings.sms_provider
    problems = config_problems(settings)
    if provider == "sandbox":
        message = "SMS provider: sandbox (texts stay in the developer inbox)"
    elif problems:
        message = f"SMS provider {provider} is not fully configured: {'; '.join(problems)}"
    else:
        message = f"SMS provider {provider} is configured"
    return Check(
        "sms_provider_config",
        ERROR,
        not problems,
        message,
        "set the settings named (deploy/paybao.env.example, docs/operations.md 'SMS'), or"
        " PAYBAO_SMS_PROVIDER=sandbox",
    )


@dataclass
class _Answers:
    """What the live platform told (each with its own error: one failing leaves the rest)."""

    bank: str = ""
    sms: str = ""
    differences: int | None = None
    reconcile_error: str = ""
    age_s: float | None = None
    heartbeat_error: str = ""
    pepper: str = ""
    hashes: tuple[tuple[str, int], ...] | None = None
    hashes_error: str = ""

    @classmethod
    def failed(cls, reason: str) -> _Answers:
        return cls(reconcile_error=reason, heartbeat_error=reason, hashes_error=reason)


def _ask(runtime: Runtime) -> _Answers:
    asked = _Answers()
    try:
        asked.bank, asked.sms = runtime.adapter_names()
        try:
            asked.differences = runtime.reconcile_differences()
        except Exception as error:
            asked.reconcile_error = _reason(error)
        try:
            asked.age_s = runtime.heartbeat_age_s()
        except Exception as error:
            asked.heartbeat_error = _reason(error)
        try:
            asked.pepper, counts = runtime.password_hashes()
            asked.hashes = tuple(sorted(counts.items()))
        except Exception as error:
            asked.hashes_error = _reason(error)
    finally:
        runtime.close()
    return asked


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


def _missing_sqlite_file(url: str, io: PreflightIO) -> Path | None:
    path = _sqlite_file(url)
    return path if path is not None and io.mode_of(path).mode is None else None


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:ERROR_SHOWN_MAX]
