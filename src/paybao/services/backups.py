"""Backups an operator can trust: take one, prove it restores, restore it into an empty database.

The decisions live here; the I/O (SQLite's online backup API, pg_dump/pg_restore, the archive
file, scratch databases) sits behind `BackupIO` (adapters/db/backup.py). A backup is one archive
holding the database dump, a manifest (revision, version, the dump's sha256 and the money facts
read in the dump's own snapshot) and, on request, the key files of the data folder. The archive
is gzip-compressed by default and, with a key, encrypted (adapters/backup_crypto.py); the
manifest records both (`ArchiveForm`), and reading tells them from the file's magic bytes, so
the plain archives of earlier versions still verify and restore.

Verification restores into a scratch database, compares the money facts with the manifest,
upgrades to head and runs the very checks of `paybao reconcile` (through `reconcile_at`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paybao.domain.errors import DomainError
from paybao.services.reconcile import Difference, ReconcileReport

ARCHIVE_FORMAT = "paybao-backup/1"
DIALECTS = ("sqlite", "postgresql")
CURRENCIES_MAX = 64
COMPRESSIONS = ("gzip", "none")
# Without these an archive cannot be checked at all: the run is refused, not the backup judged.
KEY_CODES = frozenset({"backup_key_required", "backup_key_wrong", "backup_key_invalid"})


class BackupFailed(DomainError):
    """Taking, reading or restoring a backup could not go on; `code` says why."""

    code = "backup_failed"


@dataclass(frozen=True, slots=True)
class PostedTotals:
    debits_fen: int
    credits_fen: int


@dataclass(frozen=True, slots=True)
class MoneyFacts:
    """What the ledger holds, read in one snapshot: counts and posted sums per currency."""

    ledger_accounts: int
    ledger_transfers: int
    posted: Mapping[str, PostedTotals]

    @property
    def balanced(self) -> bool:
        """Double entry: per currency, posted debits equal posted credits."""
        return all(t.debits_fen == t.credits_fen for t in self.posted.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger_accounts": self.ledger_accounts,
            "ledger_transfers": self.ledger_transfers,
            "posted": {
                currency: {"debits_fen": t.debits_fen, "credits_fen": t.credits_fen}
                for currency, t in sorted(self.posted.items())
            },
            "balanced": self.balanced,
        }

    @classmethod
    def from_json(cls, data: Any) -> MoneyFacts:
        if not isinstance(data, dict) or not isinstance(data.get("posted"), dict):
            raise _unreadable("manifest money facts are missing")
        if len(data["posted"]) > CURRENCIES_MAX:
            raise _unreadable("manifest lists too many currencies")
        posted = {
            str(currency): PostedTotals(_int(totals, "debits_fen"), _int(totals, "credits_fen"))
            for currency, totals in data["posted"].items()
        }
        return cls(_int(data, "ledger_accounts"), _int(data, "ledger_transfers"), posted)


@dataclass(frozen=True, slots=True)
class ArchiveForm:
    """How the archive file wraps its tar: compression ("gzip" or "none") and encryption (the
    algorithm's name, or None)."""

    compression: str = "none"
    encryption: str | None = None

    def describe(self) -> str:
        packed = "uncompressed" if self.compression == "none" else f"{self.compression}-compressed"
        sealed = f"encrypted ({self.encryption})" if self.encryption else "not encrypted"
        return f"{packed}, {sealed}"

    def to_json(self) -> dict[str, Any]:
        return {"compression": self.compression, "encryption": self.encryption}

    @classmethod
    def from_json(cls, data: Any) -> ArchiveForm:
        if not isinstance(data, dict) or data.get("compression") not in COMPRESSIONS:
            raise _unreadable("manifest archive form is not readable")
        encryption = data.get("encryption")
        return cls(str(data["compression"]), None if encryption is None else str(encryption))


PLAIN = ArchiveForm()


@dataclass(frozen=True, slots=True)
class KeyEntry:
    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str  # UTC ISO 8601
    dialect: str
    alembic_revisions: tuple[str, ...]
    paybao_version: str
    dump_name: str
    dump_bytes: int
    dump_sha256: str
    money: MoneyFacts
    # True when the facts were read in the dump's own snapshot (always, today: SQLite reads the
    # copy, PostgreSQL dumps an exported snapshot the facts were read in).
    same_snapshot: bool
    keys: tuple[KeyEntry, ...] = ()
    # How the archive was written; None in the manifests of archives from before compression.
    archive: ArchiveForm | None = None

    def to_json(self) -> dict[str, Any]:
        found = {
            "format": ARCHIVE_FORMAT,
            "created_at": self.created_at,
            "dialect": self.dialect,
            "alembic_revisions": list(self.alembic_revisions),
            "paybao_version": self.paybao_version,
            "dump": {"name": self.dump_name, "bytes": self.dump_bytes, "sha256": self.dump_sha256},
            "money": self.money.to_json(),
            "same_snapshot": self.same_snapshot,
            "keys": [{"name": k.name, "sha256": k.sha256} for k in self.keys],
        }
        if self.archive is not None:
            found["archive"] = self.archive.to_json()
        return found

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != ARCHIVE_FORMAT:
            raise _unreadable(f"not a {ARCHIVE_FORMAT} manifest")
        dump = data.get("dump")
        if not isinstance(dump, dict) or data.get("dialect") not in DIALECTS:
            raise _unreadable("manifest dump or dialect is missing")
        keys = data.get("keys", [])
        if not isinstance(keys, list):
            raise _unreadable("manifest keys must be a list")
        return cls(
            created_at=str(data.get("created_at", "")),
            dialect=str(data["dialect"]),
            alembic_revisions=tuple(str(r) for r in data.get("alembic_revisions", [])),
            paybao_version=str(data.get("paybao_version", "")),
            dump_name=str(dump.get("name", "")),
            dump_bytes=_int(dump, "bytes"),
            dump_sha256=str(dump.get("sha256", "")),
            money=MoneyFacts.from_json(data.get("money")),
            same_snapshot=bool(data.get("same_snapshot")),
            keys=tuple(KeyEntry(str(k.get("name")), str(k.get("sha256"))) for k in keys),
            archive=ArchiveForm.from_json(data["archive"]) if "archive" in data else None,
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A dump just taken, with what was read in its snapshot."""

    dialect: str
    dump_path: Path
    alembic_revisions: tuple[str, ...]
    money: MoneyFacts
    same_snapshot: bool


@dataclass(frozen=True, slots=True)
class OpenedArchive:
    """An archive's parts, extracted into a work folder; shas computed while extracting."""

    manifest: Manifest
    dump_path: Path
    dump_sha256: str
    dump_bytes: int
    key_sha256: Mapping[str, str]
    key_paths: Mapping[str, Path]
    form: ArchiveForm = PLAIN  # as read from the file's magic bytes


@dataclass(slots=True)
class VerifyReport:
    manifest: Manifest | None = None
    form: ArchiveForm | None = None
    problems: list[Difference] = field(default_factory=list)
    restored_money: MoneyFacts | None = None
    reconcile: ReconcileReport | None = None

    @property
    def ok(self) -> bool:
        clean = self.reconcile is not None and self.reconcile.clean
        return not self.problems and clean


@dataclass(frozen=True, slots=True)
class RestoreReport:
    manifest: Manifest
    revisions_before_upgrade: tuple[str, ...]
    revisions_after_upgrade: tuple[str, ...]
    money: MoneyFacts
    keys_written: tuple[str, ...]
    form: ArchiveForm = PLAIN


class BackupIO(Protocol):
    # How `write_archive` wraps the archives it writes (the adapter's configuration).
    archive_form: ArchiveForm

    def work_dir(self, near: Path) -> AbstractContextManager[Path]:
        """A private folder beside `near` (same file system), removed afterwards."""
        ...

    def snapshot(self, url: str, work_dir: Path) -> Snapshot: ...

    def file_sha256(self, path: Path) -> str: ...

    def key_files(self, data_dir: Path) -> list[Path]: ...

    def write_archive(
        self, to: Path, manifest: dict[str, Any], dump: Path, keys: Sequence[Path]
    ) -> None:
        """Temporary file beside `to`, fsync, then link under the final name; never
        replaces an existing file."""
        ...

    def open_archive(self, path: Path, work_dir: Path) -> OpenedArchive:
        """Tell the form from the magic bytes, authenticate and unpack everything (an encrypted
        archive to its final chunk) before returning; `BackupFailed` when it does not open."""
        ...

    def scratch_database(
        self, dialect: str, server_url: str, work_dir: Path
    ) -> AbstractContextManager[str]:
        """A fresh empty database, dropped afterwards; yields its URL."""
        ...

    def dialect_of(self, url: str) -> str: ...

    def is_empty(self, url: str) -> bool: ...

    def load_dump(self, dialect: str, dump: Path, url: str) -> None: ...

    def read_facts(self, url: str) -> tuple[tuple[str, ...], MoneyFacts]: ...

    def upgrade(self, url: str) -> None: ...

    def write_keys(self, key_paths: Mapping[str, Path], to_dir: Path) -> list[str]: ...


# Runs the platform's reconciliation against the database at the URL (keys in the folder).
ReconcileAt = Callable[[str, Path], ReconcileReport]


class BackupService:
    def __init__(
        self, io: BackupIO, reconcile_at: ReconcileAt, *, version: str, now_iso: Callable[[], str]
    ) -> None:
        self.io = io
        self.reconcile_at = reconcile_at
        self.version = version
        self.now_iso = now_iso

    def backup(self, url: str, to: Path, *, data_dir: Path, with_keys: bool) -> Manifest:
        _refuse_existing(to)
        with self.io.work_dir(to) as work:
            snap = self.io.snapshot(url, work)
            keys = self.io.key_files(data_dir) if with_keys else []
            manifest = Manifest(
                created_at=self.now_iso(),
                dialect=snap.dialect,
                alembic_revisions=snap.alembic_revisions,
                paybao_version=self.version,
                dump_name=snap.dump_path.name,
                dump_bytes=snap.dump_path.stat().st_size,
                dump_sha256=self.io.file_sha256(snap.dump_path),
                money=snap.money,
                same_snapshot=snap.same_snapshot,
                keys=tuple(KeyEntry(k.name, self.io.file_sha256(k)) for k in keys),
                archive=self.io.archive_form,
            )
            # An unbalanced ledger is still backed up (it is evidence); the CLI says so.
            self.io.write_archive(to, manifest.to_json(), snap.dump_path, keys)
        return manifest

    def verify(self, path: Path, scratch_server_url: str) -> VerifyReport:
        report = VerifyReport()
        with self.io.work_dir(path) as work:
            try:
                opened = self.io.open_archive(path, work)
            except BackupFailed as error:
                if error.code in KEY_CODES:
                    raise  # no key, or the wrong one: nothing was learnt about the backup
                said = error.message
                subject = said if str(path) in said else f"{path}: {said}"
                report.problems.append(Difference(error.code, subject))
                return report
            report.manifest = opened.manifest
            report.form = opened.form
            report.problems += archive_problems(opened)
            if report.problems:
                return report  # never restore a dump that is not the one the manifest names
            dialect = opened.manifest.dialect
            with self.io.scratch_database(dialect, scratch_server_url, work) as scratch_url:
                self.io.load_dump(dialect, opened.dump_path, scratch_url)
                revisions, money = self.io.read_facts(scratch_url)
                report.restored_money = money
                report.problems += money_problems(opened.manifest, revisions, money)
                self.io.upgrade(scratch_url)
                keys_dir = work / "keys"
                self.io.write_keys(opened.key_paths, keys_dir)
                report.reconcile = self.reconcile_at(scratch_url, keys_dir)
        return report

    def restore(self, path: Path, target_url: str, *, keys_to: Path | None) -> RestoreReport:
        with self.io.work_dir(path) as work:
            opened = self.io.open_archive(path, work)
            problems = archive_problems(opened)
            if problems:
                raise BackupFailed("; ".join(p.line() for p in problems), code="backup_corrupt")
            dialect = opened.manifest.dialect
            if self.io.dialect_of(target_url) != dialect:
                raise BackupFailed(
                    f"a {dialect} backup restores only into a {dialect} database",
                    code="backup_dialect_mismatch",
                )
            if not self.io.is_empty(target_url):
                raise BackupFailed(
                    "the target database already has tables; restore only into an empty"
                    " database (drop and re-create it first)",
                    code="restore_target_not_empty",
                )
            self.io.load_dump(dialect, opened.dump_path, target_url)
            before, _money = self.io.read_facts(target_url)
            self.io.upgrade(target_url)
            after, money = self.io.read_facts(target_url)
            written = self.io.write_keys(opened.key_paths, keys_to) if keys_to else []
        return RestoreReport(
            opened.manifest, before, after, money, tuple(written), form=opened.form
        )


def archive_problems(opened: OpenedArchive) -> list[Difference]:
    """What makes an archive untrustworthy before anything is restored from it."""
    manifest = opened.manifest
    found: list[Difference] = []
    if opened.dump_sha256 != manifest.dump_sha256:
        found.append(
            Difference(
                "dump_sha256_mismatch", manifest.dump_name, manifest.dump_sha256, opened.dump_sha256
            )
        )
    if opened.dump_bytes != manifest.dump_bytes:
        found.append(
            Difference(
                "dump_size_mismatch",
                manifest.dump_name,
                str(manifest.dump_bytes),
                str(opened.dump_bytes),
            )
        )
    listed = {k.name: k.sha256 for k in manifest.keys}
    for name in sorted(set(listed) | set(opened.key_sha256)):
        if listed.get(name) != opened.key_sha256.get(name):
            found.append(
                Difference(
                    "key_file_mismatch",
                    name,
                    listed.get(name, "absent"),
                    opened.key_sha256.get(name, "absent"),
                )
            )
    if not manifest.money.balanced:
        found.append(Difference("manifest_ledger_unbalanced", "posted debits vs credits"))
    return found


def money_problems(
    manifest: Manifest, revisions: Sequence[str], restored: MoneyFacts
) -> list[Difference]:
    """The restored database against what the manifest says was backed up."""
    found: list[Difference] = []
    if tuple(sorted(revisions)) != tuple(sorted(manifest.alembic_revisions)):
        found.append(
            Difference(
                "revision_mismatch",
                "alembic_version",
                ",".join(manifest.alembic_revisions),
                ",".join(revisions),
            )
        )
    expected = manifest.money
    for name in ("ledger_accounts", "ledger_transfers"):
        want, got = getattr(expected, name), getattr(restored, name)
        if want != got:
            found.append(Difference("money_facts_mismatch", name, str(want), str(got)))
    for currency in sorted(set(expected.posted) | set(restored.posted)):
        want_t, got_t = expected.posted.get(currency), restored.posted.get(currency)
        if want_t != got_t:
            found.append(
                Difference(
                    "money_facts_mismatch", f"posted {currency}", _totals(want_t), _totals(got_t)
                )
            )
    if not restored.balanced:
        found.append(Difference("restored_ledger_unbalanced", "posted debits vs credits"))
    return found


def _refuse_existing(to: Path) -> None:
    if to.exists() or to.is_symlink():
        raise BackupFailed(f"{to} already exists; choose a new path", code="backup_exists")
    if not to.parent.is_dir():
        raise BackupFailed(f"{to.parent} is not a folder", code="backup_folder_missing")


def _totals(totals: PostedTotals | None) -> str:
    if totals is None:
        return "absent"
    return f"debits {totals.debits_fen} / credits {totals.credits_fen}"


def _int(data: Any, name: str) -> int:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _unreadable(f"manifest field {name} must be a non-negative integer")
    return value


def _unreadable(message: str) -> BackupFailed:
    return BackupFailed(message, code="backup_unreadable")


def iter_lines(report: VerifyReport) -> Iterator[str]:
    """The verification as an operator reads it."""
    if report.form is not None:
        yield f"archive: {report.form.describe()}"
    for problem in report.problems:
        yield f"BAD {problem.line()}"
    if report.reconcile is not None:
        for name in report.reconcile.checks_run:
            count = report.reconcile.totals[name]
            yield f"{'ok ' if count == 0 else 'BAD'} {name}: {count} difference(s)"
        for difference in report.reconcile.differences:
            yield f"  - {difference.line()}"
    yield "backup verified" if report.ok else "backup NOT verified"
