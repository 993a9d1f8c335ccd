"""`paybao db status|backup|verify-backup|restore|backup-key new`: backups an operator can trust.

* `status` prints the schema revision against the code's head and the ledger's counts and
  posted totals (the facts only: run `paybao reconcile` for the invariants); `status --backup
  PATH` says how an archive is written (compressed, encrypted) and what its manifest holds.
* `backup --to PATH` takes a consistent snapshot while `paybao serve` keeps running; gzip by
  default, encrypted with `--encrypt-key-file` (or PAYBAO_BACKUP_KEY_FILE).
* `verify-backup PATH` restores into a scratch database and runs reconcile's checks on it.
* `restore PATH --database-url URL` loads a backup into an EMPTY database and upgrades it.
* `backup-key new PATH` writes a new random backup key (mode 0600, never overwrites).

Exit codes: 0 done; 1 a backup failed verification; 2 refused or could not run (`error: code:`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from paybao.domain.errors import DomainError
from paybao.services.backups import (
    ArchiveForm,
    BackupService,
    Manifest,
    RestoreReport,
    VerifyReport,
    iter_lines,
)
from paybao.services.reconcile import ReconcileReport
from paybao.settings import load_settings

KEYS_WARNING = (
    "without --with-keys the backup holds no keys: after a restore onto a new data folder the"
    " platform makes a new RSA key pair (every merchant must re-download the platform public"
    " key), payment codes and transit issuer keys sealed in the database cannot be opened"
    " (users re-bind devices) and sessions end. Keep the data folder's key files safe apart."
)


KEY_FILE_ENV = "PAYBAO_BACKUP_KEY_FILE"
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--encrypt-key-file",
        envvar=KEY_FILE_ENV,
        help="The backup key (32 bytes; `paybao db backup-key new PATH`): encrypts a backup,"
        " opens an encrypted one.",
    ),
]


def register(db_app: typer.Typer) -> None:
    db_app.command("status")(status)
    db_app.command("backup")(backup)
    db_app.command("verify-backup")(verify_backup)
    db_app.command("restore")(restore)
    key_app = typer.Typer(help="Backup encryption keys.", no_args_is_help=True)
    key_app.command("new")(backup_key_new)
    db_app.add_typer(key_app, name="backup-key")


def backup_key_new(
    path: Annotated[Path, typer.Argument(help="The key file to write (must not exist).")],
) -> None:
    """Write a new random backup key (mode 0600). Keep a copy apart from the backups: without
    it an encrypted backup cannot be restored."""
    from paybao.adapters.backup_crypto import new_key_file

    try:
        new_key_file(path)
    except DomainError as error:
        _fail(error)
    typer.echo(f"backup key written to {path} (mode 0600); store a copy apart from the backups")


def status(
    backup_path: Annotated[
        Path | None,
        typer.Option("--backup", help="Describe this archive instead of the database."),
    ] = None,
    key_file: KeyFileOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Schema revision vs the code's head, pending migrations, ledger counts and totals; or,
    with --backup, how an archive is written and its manifest."""
    from paybao.adapters.db.backup import database_status

    if backup_path is not None:
        _archive_status(backup_path, key_file, as_json)
        return
    found = database_status(load_settings().resolved_database_url())
    if as_json:
        typer.echo(json.dumps(found))
        return
    typer.echo(f"database {found['database']} ({found['dialect']})")
    typer.echo(f"revision {','.join(found['revisions']) or 'none'}; head {','.join(found['head'])}")
    if not found["revision_known"]:
        typer.echo("the database's revision is unknown to this code (newer paybao?)")
    typer.echo(f"pending migrations: {' '.join(found['pending']) or 'none'}")
    money = found["money"]
    if money:
        typer.echo(
            f"ledger: {money['ledger_accounts']} accounts, {money['ledger_transfers']} transfers"
        )
        for currency, totals in money["posted"].items():
            typer.echo(
                f"  {currency}: posted debits {totals['debits_fen']} fen,"
                f" credits {totals['credits_fen']} fen"
            )


def backup(
    to: Annotated[Path, typer.Option("--to", help="The archive to write (must not exist).")],
    with_keys: Annotated[
        bool, typer.Option("--with-keys", help="Include the data folder's key files (0600).")
    ] = False,
    pages_per_step: Annotated[
        int, typer.Option(min=1, max=65_536, help="SQLite: pages copied per step.")
    ] = 1024,
    timeout_s: Annotated[int, typer.Option(min=1, max=86_400)] = 3600,
    compress: Annotated[
        bool, typer.Option("--compress/--no-compress", help="gzip the archive.")
    ] = True,
    key_file: KeyFileOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Snapshot the live database (SQLite online backup or pg_dump) into one archive."""
    settings = load_settings()
    try:
        service = _service(
            pages_per_step, timeout_s, key_file, compression="gzip" if compress else "none"
        )
        manifest = service.backup(
            settings.resolved_database_url(),
            to.absolute(),
            data_dir=Path(settings.data_dir),
            with_keys=with_keys,
        )
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        archive = {"path": str(to), "archive_bytes": to.stat().st_size}
        typer.echo(json.dumps({**archive, "manifest": manifest.to_json()}))
    else:
        _print_manifest(to, manifest)
    if not with_keys:
        typer.echo(f"note: {KEYS_WARNING}", err=True)
    if not manifest.money.balanced:
        typer.echo("warning: the ledger is NOT balanced in this snapshot", err=True)


def verify_backup(
    path: Annotated[Path, typer.Argument(help="The archive `paybao db backup` wrote.")],
    scratch_url: Annotated[
        str,
        typer.Option(help="PostgreSQL server for the scratch database; default: the settings'."),
    ] = "",
    timeout_s: Annotated[int, typer.Option(min=1, max=86_400)] = 3600,
    key_file: KeyFileOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check the archive, restore it into a scratch database, run reconcile's checks; exit 1
    on any mismatch or difference."""
    server = scratch_url or load_settings().resolved_database_url()
    try:
        report = _service(1024, timeout_s, key_file).verify(path.absolute(), server)
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        typer.echo(json.dumps(_verify_json(report)))
    else:
        for line in iter_lines(report):
            typer.echo(line)
    _unused_key_note(key_file, report.form)
    raise typer.Exit(0 if report.ok else 1)


def restore(
    path: Annotated[Path, typer.Argument(help="The archive `paybao db backup` wrote.")],
    database_url: Annotated[
        str, typer.Option("--database-url", help="The EMPTY target database (SQLAlchemy URL).")
    ],
    keys_to: Annotated[
        Path | None,
        typer.Option(help="Write the backup's key files into this folder (never overwrites)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    timeout_s: Annotated[int, typer.Option(min=1, max=86_400)] = 3600,
    key_file: KeyFileOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Restore into an empty database, then migrate it to this code's head."""
    from sqlalchemy.engine import make_url

    shown = make_url(database_url).render_as_string(hide_password=True)
    if not yes and not typer.confirm(f"restore {path} into {shown}?"):
        raise typer.Exit(1)
    try:
        service = _service(1024, timeout_s, key_file)
        report = service.restore(path.absolute(), database_url, keys_to=keys_to)
    except DomainError as error:
        _fail(error)
        return
    if as_json:
        typer.echo(json.dumps(_restore_json(report)))
        return
    typer.echo(f"restored {path} ({report.manifest.created_at}) into {shown}")
    typer.echo(f"archive: {report.form.describe()}")
    _unused_key_note(key_file, report.form)
    typer.echo(
        f"revision {','.join(report.revisions_before_upgrade)} ->"
        f" {','.join(report.revisions_after_upgrade)}"
    )
    typer.echo(
        f"ledger: {report.money.ledger_accounts} accounts, {report.money.ledger_transfers}"
        f" transfers, {'balanced' if report.money.balanced else 'NOT BALANCED'}"
    )
    if report.keys_written:
        typer.echo(f"keys written to {keys_to}: {', '.join(report.keys_written)}")
    elif report.manifest.keys:
        typer.echo("the backup holds keys: pass --keys-to DATA_DIR to write them")
    else:
        typer.echo(f"note: {KEYS_WARNING}")
    typer.echo("next: run `paybao reconcile` against the restored database")


# --- helpers --------------------------------------------------------------------------------


def _service(
    pages_per_step: int, timeout_s: int, key_file: Path | None, *, compression: str = "gzip"
) -> BackupService:
    from paybao import __version__

    return BackupService(
        _files(
            key_file, pages_per_step=pages_per_step, timeout_s=timeout_s, compression=compression
        ),
        _reconcile_at,
        version=__version__,
        now_iso=lambda: datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _files(key_file: Path | None, **options: Any) -> Any:
    """The archive I/O, with the key read from `key_file` (raises `backup_key_invalid`)."""
    from paybao.adapters.backup_crypto import read_key_file
    from paybao.adapters.db.backup import BackupFiles

    key = read_key_file(key_file) if key_file is not None else None
    if key_file is not None and key_file.stat().st_mode & 0o077:
        typer.echo(f"warning: {key_file} is readable by others: chmod 600 it", err=True)
    return BackupFiles(key=key, **options)


def _unused_key_note(key_file: Path | None, form: ArchiveForm | None) -> None:
    if key_file is not None and form is not None and form.encryption is None:
        typer.echo("note: this archive is not encrypted; the key was not used", err=True)


def _archive_status(path: Path, key_file: Path | None, as_json: bool) -> None:
    try:
        form, manifest = _files(key_file).describe_archive(path.absolute())
    except DomainError as error:
        _fail(error)
        return
    # Sealed and no key: what is inside the seal (compression too) is unknown.
    shown = form.to_json() if manifest else {"compression": None, "encryption": form.encryption}
    if as_json:
        found = {
            "path": str(path),
            "archive_bytes": path.stat().st_size,
            "archive": shown,
            "manifest": manifest.to_json() if manifest else None,
        }
        typer.echo(json.dumps(found))
        return
    if manifest is None:
        typer.echo(f"backup {path} ({path.stat().st_size} bytes): encrypted ({form.encryption})")
        typer.echo("encrypted: pass --encrypt-key-file to read its manifest")
        return
    typer.echo(f"backup {path} ({path.stat().st_size} bytes): {form.describe()}")
    _print_manifest(None, manifest)
    typer.echo("(read from the manifest only: `paybao db verify-backup` proves it restores)")


def _reconcile_at(url: str, data_dir: Path) -> ReconcileReport:
    """Reconcile exactly as `paybao reconcile` does, on the database at `url`."""
    from paybao.bootstrap import build_platform

    settings = load_settings(database_url=url, data_dir=data_dir, run_worker_in_server=False)
    platform = build_platform(settings)
    try:
        return platform.reconcile.run()
    finally:
        platform.close()


def _print_manifest(to: Path | None, manifest: Manifest) -> None:
    money = manifest.money
    form = manifest.archive or ArchiveForm()
    if to is not None:
        typer.echo(
            f"backup written to {to} ({to.stat().st_size} bytes, {form.describe()};"
            f" {manifest.dump_bytes} bytes of {manifest.dialect} dump)"
        )
    else:
        typer.echo(f"taken {manifest.created_at} by paybao {manifest.paybao_version}")
        typer.echo(f"{manifest.dump_bytes} bytes of {manifest.dialect} dump")
    typer.echo(f"revision {','.join(manifest.alembic_revisions)}; sha256 {manifest.dump_sha256}")
    typer.echo(
        f"ledger: {money.ledger_accounts} accounts, {money.ledger_transfers} transfers,"
        f" {'balanced' if money.balanced else 'NOT BALANCED'}"
    )
    if manifest.keys:
        typer.echo(f"keys included: {', '.join(k.name for k in manifest.keys)}")


def _verify_json(report: VerifyReport) -> dict[str, Any]:
    reconcile = report.reconcile
    return {
        "ok": report.ok,
        "archive": report.form.to_json() if report.form else None,
        "manifest": report.manifest.to_json() if report.manifest else None,
        "problems": [_difference(p) for p in report.problems],
        "restored_money": report.restored_money.to_json() if report.restored_money else None,
        "reconcile": None
        if reconcile is None
        else {
            "clean": reconcile.clean,
            "checks": reconcile.totals,
            "differences": [_difference(d) for d in reconcile.differences],
        },
    }


def _restore_json(report: RestoreReport) -> dict[str, Any]:
    return {
        "manifest": report.manifest.to_json(),
        "archive": report.form.to_json(),
        "revisions_before_upgrade": list(report.revisions_before_upgrade),
        "revisions_after_upgrade": list(report.revisions_after_upgrade),
        "money": report.money.to_json(),
        "keys_written": list(report.keys_written),
    }


def _difference(difference: object) -> dict[str, str]:
    names = ("kind", "subject", "expected", "actual")
    return {name: str(getattr(difference, name)) for name in names}


def _fail(error: DomainError) -> None:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(2)
