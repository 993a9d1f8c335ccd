"""`paybao preflight [--json]`: is this installation fit to take real money?

Runs the rules of domain/preflight.py on the facts services/preflight.py gathers from the
settings, the data folder and the database (schema, reconcile, worker heartbeats). Prints one
line per check (or, with --json, `{"ok": bool, "checks": [{code, severity, ok, message, fix}]}`).
Exit 0 when no error-severity check failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from paybao.adapters.alipay.platform_key import PUBLIC_KEY_FILE, generation_files
from paybao.adapters.db.backup import KEY_FILES, database_status
from paybao.adapters.db.engine import dialect_of
from paybao.adapters.db.password_hash_queries import fingerprint_counts
from paybao.bootstrap import Platform, build_platform
from paybao.domain.preflight import PathMode, SchemaFacts, passed
from paybao.services import preflight
from paybao.services.sms_delivery import SmsOutbox
from paybao.settings import Settings, load_settings

# The public half of the platform key is meant to be read by anyone.
PRIVATE_KEY_FILES = tuple(name for name in KEY_FILES if name != PUBLIC_KEY_FILE)


class PlatformRuntime:
    def __init__(self, settings: Settings) -> None:
        self.platform: Platform = build_platform(
            settings.model_copy(update={"run_worker_in_server": False})
        )

    def reconcile_differences(self) -> int:
        return len(self.platform.reconcile.run().differences)

    def heartbeat_age_s(self) -> float | None:
        age_s: float | None = self.platform.services["heartbeats"].summary().freshest_age_s
        return age_s

    def adapter_names(self) -> tuple[str, str]:
        services = self.platform.services
        sender = services["sms"].sender
        # The SMS outbox names its gateway (SmsGateway:http), or the sandbox inbox.
        sms = sender.adapter_name if isinstance(sender, SmsOutbox) else type(sender).__name__
        return type(services["bank"]).__name__, sms

    def password_hashes(self) -> tuple[str, dict[str, int]]:
        with self.platform.engine.connect() as connection:
            counts = fingerprint_counts(connection)
        return str(self.platform.services["password_hasher"].fingerprint), counts

    def close(self) -> None:
        self.platform.close()


class LocalIO:
    def dialect_of(self, url: str) -> str:
        return dialect_of(url)

    def schema(self, url: str) -> SchemaFacts:
        found = database_status(url)
        return SchemaFacts(
            current=tuple(found["revisions"]),
            head=tuple(found["head"]),
            pending=tuple(found["pending"]),
            known=bool(found["revision_known"]),
        )

    def mode_of(self, path: Path) -> PathMode:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return PathMode(str(path), None)
        return PathMode(str(path), stat.S_IMODE(info.st_mode), stat.S_ISDIR(info.st_mode))

    def key_files(self, data_dir: Path) -> Sequence[Path]:
        fixed = [data_dir / name for name in PRIVATE_KEY_FILES if (data_dir / name).is_file()]
        # Every later generation of the platform key is as secret as the first.
        return fixed + generation_files(data_dir, private_only=True)

    def open_runtime(self, settings: Settings) -> PlatformRuntime:
        return PlatformRuntime(settings)


def preflight_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Check this installation is fit for real money: settings, keys' permissions, schema,
    reconcile, workers. Exit 1 when an error-severity check fails (warnings do not block)."""
    checks = preflight.run(load_settings(), LocalIO())
    ok = passed(checks)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "checks": [c.to_json() for c in checks]}))
    else:
        for check in checks:
            mark = "ok  " if check.ok else ("ERR " if check.severity == "error" else "warn")
            typer.echo(f"{mark} {check.code}: {check.message}")
            if not check.ok:
                typer.echo(f"     fix: {check.fix}")
        errors = sum(1 for c in checks if not c.ok and c.severity == "error")
        warnings = sum(1 for c in checks if not c.ok and c.severity == "warning")
        typer.echo(f"{'ready' if ok else 'NOT ready'}: {errors} error(s), {warnings} warning(s)")
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight_command)
