"""Backup I/O: dumps, the archive file, scratch databases, restores (services/backups.py decides).

SQLite: the online backup API copies the live file in bounded steps while `paybao serve` keeps
writing. The source connection first opens a read transaction and holds it for the whole copy:
in WAL mode that pins one snapshot without blocking writers, and every step reads from it. (A
stepwise backup without it restarts whenever another connection commits, and under steady
writes never finishes.) The money facts are then read from the copy itself.

PostgreSQL: a REPEATABLE READ transaction exports its snapshot, reads the money facts and keeps
the snapshot alive while `pg_dump --snapshot` dumps exactly that state. The password travels in
PGPASSWORD, never on a command line (visible in `ps`) nor in an error message.

The archive is a tar (manifest.json, the dump, keys/...), gzip-compressed by default and, with a
key, sealed by adapters/backup_crypto.py; all of it streams (tar -> gzip -> chunked AES-GCM ->
file), so a dump of many GB never sits in memory. It is written to a temporary file beside its
final name, fsync'ed, then linked in place: a half-written backup never carries the final name
and an existing file is never replaced. Reading tells the layers from the magic bytes (our
encryption header, gzip's 1f 8b, else the plain tar of earlier versions), unpacks everything,
then reads each layer to its end: gzip's CRC and the final sealed chunk are checked before a
single byte is restored.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from paybao.adapters import backup_crypto
from paybao.adapters.alipay.platform_ca import CA_KEY_FILE, ROOT_BUNDLE_FILE, platform_cert_file
from paybao.adapters.alipay.platform_key import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    generation_files,
    is_generation_file,
)
from paybao.adapters.app_aes_vault import KEY_FILE_NAME as APP_AES_KEY_FILE
from paybao.adapters.db.engine import dialect_of, make_engine
from paybao.adapters.db.migrate import alembic_config, current_heads, upgrade
from paybao.adapters.passwords import PEPPER_FILE_NAME
from paybao.adapters.paycode_vault import KEY_FILE_NAME as PAYCODE_KEY_FILE
from paybao.adapters.transit_crypto import KEY_FILE_NAME as TRANSIT_KEY_FILE
from paybao.domain.platform_keys import GENERATION_MAX
from paybao.services.backups import (
    COMPRESSIONS,
    PLAIN,
    ArchiveForm,
    BackupFailed,
    Manifest,
    MoneyFacts,
    OpenedArchive,
    PostedTotals,
    Snapshot,
)

MANIFEST_NAME: Final = "manifest.json"
DUMP_NAMES: Final = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KEYS_FOLDER: Final = "keys"
# Every secret of the data folder: the platform's RSA pair (merchants trust its public half),
# the keys that seal payment-code seeds and transit issuer keys stored in the database (without
# them those rows cannot be opened), and the session secret (web/session.py; without it every
# session and CSRF token is void). Later generations of the platform key pair
# (`platform_rsa_private.N.pem`, `platform_rsa_public.N.pem`) travel with them: `is_key_file`.
KEY_FILES: Final = (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    PAYCODE_KEY_FILE,
    TRANSIT_KEY_FILE,
    PEPPER_FILE_NAME,
    "secret.key",
    # Seals the apps' AES content-encryption keys stored in the database.
    APP_AES_KEY_FILE,
    # The certificate authority of certificate mode: merchants' alipay_root_cert_sn names this
    # root, and their app certificates chain to it; a new root would void every one of them.
    CA_KEY_FILE,
    ROOT_BUNDLE_FILE,
)
# Each platform key generation's certificate: its serial is its SN, which merchants' code may
# have stored (and the Java SDK fetches by), so it travels as issued rather than re-issued.
CERT_FILES: Final = frozenset(platform_cert_file(g) for g in range(1, GENERATION_MAX + 1))
SQLITE_PAGES_PER_STEP: Final = 1024  # 4 MiB of 4 KiB pages: the write lock is never waited on
SQLITE_PAGES_PER_STEP_MAX: Final = 65_536
TIMEOUT_S_DEFAULT: Final = 3600
TIMEOUT_S_MAX: Final = 24 * 3600
FACTS_STATEMENT_TIMEOUT_MS: Final = 600_000
PG_LOCK_WAIT_TIMEOUT_S: Final = 60
MANIFEST_BYTES_MAX: Final = 1 << 20
KEY_BYTES_MAX: Final = 64 << 10
ARCHIVE_MEMBERS_MAX: Final = 2 + len(KEY_FILES) + 2 * (GENERATION_MAX - 1) + len(CERT_FILES)
CHUNK_BYTES: Final = 1 << 20
CURRENCIES_MAX: Final = 64
STDERR_SHOWN_MAX: Final = 4000
GZIP_MAGIC: Final = b"\x1f\x8b"
# gzip's and pg_dump's default. On a 44 MB SQLite dump (one core): level 3 keeps 22.8 % at
# 55 MB/s, level 6 21.7 % at 22 MB/s, level 9 20.9 % at 7 MB/s.
GZIP_LEVEL: Final = 6
# After the tar's end only its zero padding (under 10 KiB) may follow inside the layers.
TRAILING_BYTES_MAX: Final = 1 << 20


# What reading a damaged, cut or foreign archive raises, at any layer (tar, gzip, the sealed
# chunks' framing, the manifest's text): each is `backup_unreadable`.
_UNREADABLE = (tarfile.TarError, EOFError, OSError, zlib.error, UnicodeDecodeError, ValueError)


class BackupFiles:
    """`BackupIO` on the local file system, SQLite and the PostgreSQL client tools."""

    def __init__(
        self,
        *,
        pages_per_step: int = SQLITE_PAGES_PER_STEP,
        step_pause_s: float = 0.0,
        timeout_s: int = TIMEOUT_S_DEFAULT,
        compression: str = "gzip",
        key: bytes | None = None,
        chunk_bytes: int = backup_crypto.CHUNK_BYTES_DEFAULT,
    ) -> None:
        """`compression` and `key` shape the archives written; `key` also opens encrypted
        archives when reading (plain ones read without it)."""
        assert 1 <= pages_per_step <= SQLITE_PAGES_PER_STEP_MAX
        assert 0 <= step_pause_s <= 1
        assert 1 <= timeout_s <= TIMEOUT_S_MAX
        assert compression in COMPRESSIONS
        assert key is None or len(key) == backup_crypto.KEY_BYTES
        assert backup_crypto.CHUNK_BYTES_MIN <= chunk_bytes <= backup_crypto.CHUNK_BYTES_MAX
        self.pages_per_step = pages_per_step
        self.step_pause_s = step_pause_s
        self.timeout_s = timeout_s
        self.key = key
        self.chunk_bytes = chunk_bytes
        self.archive_form = ArchiveForm(
            compression, backup_crypto.ALGORITHM if key is not None else None
        )

    # --- work space -------------------------------------------------------------------------

    @contextmanager
    def work_dir(self, near: Path) -> Iterator[Path]:
        try:
            folder = tempfile.mkdtemp(prefix=f".{near.name}.", suffix=".work", dir=near.parent)
        except OSError:  # a read-only backup folder: verify elsewhere
            folder = tempfile.mkdtemp(prefix="paybao-backup-")
        try:
            yield Path(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def dialect_of(self, url: str) -> str:
        return dialect_of(url)

    # --- taking a backup --------------------------------------------------------------------

    def snapshot(self, url: str, work_dir: Path) -> Snapshot:
        if dialect_of(url) == "sqlite":
            return self._sqlite_snapshot(_sqlite_path(url), work_dir / DUMP_NAMES["sqlite"])
        return self._postgres_snapshot(url, work_dir / DUMP_NAMES["postgresql"])

    def _sqlite_snapshot(self, source_path: Path, dump: Path) -> Snapshot:
        if not source_path.is_file():
            raise BackupFailed(f"no database at {source_path}", code="backup_source_missing")
        deadline = time.monotonic() + self.timeout_s

        def progress(_status: int, _remaining: int, _total: int) -> None:
            if time.monotonic() > deadline:
                raise BackupFailed(
                    f"the copy took longer than {self.timeout_s} s", code="backup_timeout"
                )
            if self.step_pause_s:
                time.sleep(self.step_pause_s)  # leave the disk to the live server

        source = sqlite3.connect(source_path, timeout=10, isolation_level=None)
        try:
            source.execute("BEGIN")
            source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # pins the snapshot
            target = sqlite3.connect(dump, isolation_level=None)
            try:
                source.backup(target, pages=self.pages_per_step, progress=progress)
                # One self-contained file: the copy inherits WAL mode from its source.
                target.execute("PRAGMA journal_mode=DELETE")
                revisions, money = _facts(lambda sql: target.execute(sql).fetchall())
            finally:
                target.close()
            source.execute("COMMIT")
        finally:
            source.close()
        return Snapshot("sqlite", dump, revisions, money, same_snapshot=True)

    def _postgres_snapshot(self, url: str, dump: Path) -> Snapshot:
        tool = _tool("pg_dump")
        engine = make_engine(url, pool_size=1, statement_timeout_ms=FACTS_STATEMENT_TIMEOUT_MS)
        try:
            with engine.connect() as connection:
                connection = connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                with connection.begin():
                    snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar()
                    revisions, money = _facts(
                        lambda sql: list(connection.exec_driver_sql(sql).all())
                    )
                    # pg_dump joins the exported snapshot: it must stay open until the end.
                    self._run_pg(
                        [
                            tool,
                            "--format=custom",
                            f"--snapshot={snapshot_id}",
                            f"--lock-wait-timeout={PG_LOCK_WAIT_TIMEOUT_S}s",
                            f"--file={dump}",
                        ],
                        url,
                    )
        finally:
            engine.dispose()
        return Snapshot("postgresql", dump, revisions, money, same_snapshot=True)

    def _run_pg(self, command: list[str], url: str) -> None:
        parsed = make_url(url)
        password = parsed.password
        conninfo = _libpq_uri(parsed)
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        env.pop("PGPASSWORD", None)
        if password:
            env["PGPASSWORD"] = str(password)
        name = Path(command[0]).name
        try:
            done = subprocess.run(  # noqa: S603 - our own argv, no shell
                [*command, "--no-password", f"--dbname={conninfo}"],
                env=env,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackupFailed(
                f"{name} did not finish within {self.timeout_s} s", code="backup_timeout"
            ) from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            if password:
                stderr = stderr.replace(str(password), "***")
            raise BackupFailed(
                f"{name} exited with {done.returncode}: {stderr[-STDERR_SHOWN_MAX:]}",
                code="backup_tool_failed",
            )

    def file_sha256(self, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    def key_files(self, data_dir: Path) -> list[Path]:
        fixed = [data_dir / name for name in KEY_FILES if (data_dir / name).is_file()]
        certs = sorted(data_dir / name for name in CERT_FILES if (data_dir / name).is_file())
        return fixed + generation_files(data_dir) + certs

    def write_archive(
        self, to: Path, manifest: dict[str, Any], dump: Path, keys: Sequence[Path]
    ) -> None:
        partial = to.parent / f".{to.name}.partial-{secrets.token_hex(4)}"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                sealed = (
                    backup_crypto.EncryptingWriter(handle, self.key, chunk_bytes=self.chunk_bytes)
                    if self.key is not None
                    else None
                )
                below: IO[bytes] = sealed or handle  # type: ignore[assignment]
                packed = (
                    gzip.GzipFile(
                        filename="", mode="wb", fileobj=below, compresslevel=GZIP_LEVEL, mtime=0
                    )
                    if self.archive_form.compression == "gzip"
                    else None
                )
                # Stream mode ("w|"): written front to back, never seeks, never holds a member.
                with tarfile.open(
                    fileobj=packed or below,
                    mode="w|",
                    format=tarfile.PAX_FORMAT,
                    dereference=True,
                ) as tar:
                    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                    _add_bytes(tar, MANIFEST_NAME, body)
                    tar.add(dump, arcname=dump.name, filter=_private)
                    for key in keys:
                        tar.add(key, arcname=f"{KEYS_FOLDER}/{key.name}", filter=_private)
                if packed is not None:
                    packed.close()  # writes gzip's trailer; leaves `below` open
                if sealed is not None:
                    sealed.close()  # seals the final chunk
                handle.flush()
                os.fsync(handle.fileno())
            _link_new(partial, to)
            _fsync_dir(to.parent)
        finally:
            partial.unlink(missing_ok=True)

    # --- reading a backup -------------------------------------------------------------------

    def open_archive(self, path: Path, work_dir: Path) -> OpenedArchive:
        if not path.is_file():
            raise BackupFailed(f"no backup at {path}", code="backup_missing")
        try:
            with path.open("rb") as raw:
                form, layers = self._unwrap(raw)
                with tarfile.open(fileobj=layers[0], mode="r|") as tar:
                    opened = _extract(tar, work_dir)
                if form != PLAIN:
                    _read_to_end(layers)  # gzip's CRC, the final sealed chunk
        except _UNREADABLE as error:
            raise BackupFailed(f"{path}: {error}", code="backup_unreadable") from None
        return OpenedArchive(
            opened.manifest,
            opened.dump_path,
            opened.dump_sha256,
            opened.dump_bytes,
            opened.key_sha256,
            opened.key_paths,
            form=form,
        )

    def describe_archive(self, path: Path) -> tuple[ArchiveForm, Manifest | None]:
        """The archive's form, and its manifest when it can be read (an encrypted archive
        without the key: None). Reads the first member only: this checks nothing."""
        if not path.is_file():
            raise BackupFailed(f"no backup at {path}", code="backup_missing")
        try:
            with path.open("rb") as raw:
                form = _form_of(raw)
                if form.encryption is not None and self.key is None:
                    return form, None
                form, layers = self._unwrap(raw)
                with tarfile.open(fileobj=layers[0], mode="r|") as tar:
                    member = tar.next()
                    if member is None or member.name != MANIFEST_NAME:
                        raise ValueError(f"{MANIFEST_NAME} is not the archive's first member")
                    source = tar.extractfile(member)
                    assert source is not None
                    body = source.read(MANIFEST_BYTES_MAX + 1)
        except _UNREADABLE as error:
            raise BackupFailed(f"{path}: {error}", code="backup_unreadable") from None
        return form, Manifest.from_json(json.loads(body))

    def _unwrap(self, raw: IO[bytes]) -> tuple[ArchiveForm, list[IO[bytes]]]:
        """The archive's form, and its layers from the tar stream down to the file."""
        form = _form_of(raw)
        layers: list[IO[bytes]] = [raw]
        if form.encryption is not None:
            if self.key is None:
                raise BackupFailed(
                    "this backup is encrypted: pass --encrypt-key-file (or set"
                    " PAYBAO_BACKUP_KEY_FILE)",
                    code="backup_key_required",
                )
            opened = backup_crypto.DecryptingReader(raw, self.key)
            head = opened.read(len(GZIP_MAGIC))
            layers.insert(0, _Prepended(head, opened))  # type: ignore[arg-type]
            compression = "gzip" if head == GZIP_MAGIC else "none"
        else:
            compression = form.compression
        if compression == "gzip":
            layers.insert(0, gzip.GzipFile(mode="rb", fileobj=layers[0]))  # type: ignore[arg-type]
        return ArchiveForm(compression, form.encryption), layers

    @contextmanager
    def scratch_database(self, dialect: str, server_url: str, work_dir: Path) -> Iterator[str]:
        if dialect == "sqlite":
            yield f"sqlite:///{(work_dir / 'verify.sqlite3').resolve()}"
            return
        if not server_url or dialect_of(server_url) != "postgresql":
            raise BackupFailed(
                "verifying a PostgreSQL backup needs a PostgreSQL server to create a scratch"
                " database on: set PAYBAO_DATABASE_URL or pass --scratch-url",
                code="verify_server_missing",
            )
        name = f"paybao_verify_{secrets.token_hex(6)}"
        # CREATE/DROP DATABASE copy and remove whole folders: slow on a busy server.
        engine = make_engine(
            server_url, pool_size=1, statement_timeout_ms=FACTS_STATEMENT_TIMEOUT_MS
        )
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
            finally:
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            engine.dispose()

    # --- restoring --------------------------------------------------------------------------

    def is_empty(self, url: str) -> bool:
        if dialect_of(url) == "sqlite":
            path = _sqlite_path(url)
            wal = Path(f"{path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                return False  # a server may have it open
            if not path.exists():
                return True
            found = sqlite3.connect(path, timeout=10)
            try:
                (count,) = found.execute(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                ).fetchone()
            finally:
                found.close()
            return int(count) == 0
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as connection:
                count = connection.execute(
                    text(
                        "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n"
                        " ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p', 'S')"
                        " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                        " AND n.nspname NOT LIKE 'pg_toast%'"
                    )
                ).scalar()
        finally:
            engine.dispose()
        return int(count or 0) == 0

    def load_dump(self, dialect: str, dump: Path, url: str) -> None:
        assert dialect_of(url) == dialect
        if dialect == "sqlite":
            target = _sqlite_path(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.parent / f".{target.name}.restore-{secrets.token_hex(4)}"
            try:
                shutil.copyfile(dump, partial)
                partial.chmod(0o600)
                with partial.open("rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(partial, target)  # the target was checked empty (or absent)
                _fsync_dir(target.parent)
            finally:
                partial.unlink(missing_ok=True)
            return
        # One transaction: a failed restore leaves the target as empty as it was.
        self._run_pg(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                str(dump),
            ],
            url,
        )

    def read_facts(self, url: str) -> tuple[tuple[str, ...], MoneyFacts]:
        engine = make_engine(url, pool_size=1, statement_timeout_ms=FACTS_STATEMENT_TIMEOUT_MS)
        try:
            with engine.connect() as connection:
                return _facts(lambda sql: list(connection.exec_driver_sql(sql).all()))
        finally:
            engine.dispose()

    def upgrade(self, url: str) -> None:
        engine = make_engine(url, pool_size=1)
        try:
            upgrade(engine)
        finally:
            engine.dispose()

    def write_keys(self, key_paths: Mapping[str, Path], to_dir: Path) -> list[str]:
        if not key_paths:
            return []
        to_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        present = sorted(name for name in key_paths if (to_dir / name).exists())
        if present:
            raise BackupFailed(
                f"{to_dir} already holds {', '.join(present)}; keys are never overwritten",
                code="key_file_exists",
            )
        for name, source in sorted(key_paths.items()):
            descriptor = os.open(to_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(source.read_bytes())
                handle.flush()
                os.fsync(handle.fileno())
        return sorted(key_paths)


# --- status ---------------------------------------------------------------------------------


def database_status(url: str) -> dict[str, Any]:
    """Revision vs the code's head, pending migrations, dialect, ledger counts and totals."""
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = sorted(script.get_heads())
    engine = make_engine(url, pool_size=1, statement_timeout_ms=FACTS_STATEMENT_TIMEOUT_MS)
    try:
        current = sorted(current_heads(engine))
        try:
            pending = [
                str(r.revision)
                for r in script.iterate_revisions(tuple(heads), tuple(current) or "base")
                if r.revision not in current
            ]
            pending.reverse()  # oldest first: the order they will run in
            known = True
        except Exception:  # a revision the code does not know (a newer database)
            pending, known = [], False
        money: MoneyFacts | None = None
        if current:
            with engine.connect() as connection:
                _revisions, money = _facts(lambda sql: list(connection.exec_driver_sql(sql).all()))
    finally:
        engine.dispose()
    return {
        "dialect": dialect_of(url),
        "database": make_url(url).render_as_string(hide_password=True),
        "revisions": current,
        "head": heads,
        "at_head": current == heads,
        "revision_known": known,
        "pending": pending,
        "money": money.to_json() if money else None,
    }


# --- helpers --------------------------------------------------------------------------------


def is_key_file(name: str) -> bool:
    """A secret of the data folder that backups carry (any generation of the platform key)."""
    return name in KEY_FILES or is_generation_file(name) or name in CERT_FILES


def _facts(
    execute: Callable[[str], Sequence[Sequence[Any]]],
) -> tuple[tuple[str, ...], MoneyFacts]:
    """Revision and money facts through one connection (so: one snapshot when in a
    transaction). Sums run in the database; nothing but integers comes back."""
    try:
        revisions = tuple(
            sorted(str(row[0]) for row in execute("SELECT version_num FROM alembic_version"))
        )
    except Exception as error:  # any driver's "no such table"
        raise BackupFailed(
            f"not a paybao database (no alembic_version): {error}", code="backup_not_paybao"
        ) from None
    accounts = int(execute("SELECT COUNT(*) FROM ledger_accounts")[0][0])
    transfers = int(execute("SELECT COUNT(*) FROM ledger_transfers")[0][0])
    rows = execute(
        "SELECT currency, COALESCE(SUM(debits_posted), 0), COALESCE(SUM(credits_posted), 0)"
        f" FROM ledger_accounts GROUP BY currency ORDER BY currency LIMIT {CURRENCIES_MAX}"
    )
    posted = {str(c): PostedTotals(int(d), int(k)) for c, d, k in rows}
    return revisions, MoneyFacts(accounts, transfers, posted)


def _extract(tar: tarfile.TarFile, work_dir: Path) -> OpenedArchive:
    manifest_body: bytes | None = None
    dumps: dict[str, tuple[Path, str, int]] = {}
    key_paths: dict[str, Path] = {}
    key_sha256: dict[str, str] = {}
    keys_dir = work_dir / "keys-in"
    keys_dir.mkdir(mode=0o700)
    for count, member in enumerate(tar, start=1):
        if count > ARCHIVE_MEMBERS_MAX or not member.isreg():
            raise ValueError(f"unexpected archive member {member.name!r}")
        source = tar.extractfile(member)
        assert source is not None
        name = member.name
        if name == MANIFEST_NAME and member.size <= MANIFEST_BYTES_MAX:
            manifest_body = source.read(MANIFEST_BYTES_MAX + 1)
        elif name in DUMP_NAMES.values():
            dumps[name] = _copy_hashing(source, work_dir / name)
        elif name.startswith(f"{KEYS_FOLDER}/") and is_key_file(name.split("/", 1)[1]):
            if member.size > KEY_BYTES_MAX:
                raise ValueError(f"key file {name} is too large")
            key_name = name.split("/", 1)[1]
            path, sha, _size = _copy_hashing(source, keys_dir / key_name)
            key_paths[key_name], key_sha256[key_name] = path, sha
        else:
            raise ValueError(f"unexpected archive member {name!r}")
    if manifest_body is None:
        raise ValueError(f"no {MANIFEST_NAME} in the archive")
    manifest = Manifest.from_json(json.loads(manifest_body))
    if manifest.dump_name not in dumps or manifest.dump_name != DUMP_NAMES[manifest.dialect]:
        raise ValueError(f"the archive lacks the dump {manifest.dump_name!r}")
    dump_path, dump_sha, dump_size = dumps[manifest.dump_name]
    return OpenedArchive(manifest, dump_path, dump_sha, dump_size, key_sha256, key_paths)


def _form_of(raw: IO[bytes]) -> ArchiveForm:
    """The outer layer, from the magic bytes (the file's name says nothing); rewinds."""
    head = raw.read(len(backup_crypto.MAGIC))
    raw.seek(0)
    if backup_crypto.is_encrypted(head):
        return ArchiveForm("none", backup_crypto.ALGORITHM)  # compression is inside the seal
    if head.startswith(GZIP_MAGIC):
        return ArchiveForm("gzip", None)
    return PLAIN  # a tar, as every version before compression wrote


class _Prepended:
    """`source` with `head` (bytes already read from it) put back in front."""

    def __init__(self, head: bytes, source: backup_crypto.DecryptingReader) -> None:
        self.head = head
        self.source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            found, self.head = self.head + self.source.read(), b""
            return found
        if self.head:
            found, self.head = self.head[:size], self.head[size:]
            return found
        return self.source.read(size)


def _read_to_end(layers: Sequence[IO[bytes]]) -> None:
    """Read every layer to its end, outermost last: only then has gzip checked its CRC and
    the decrypting reader opened the chunk sealed as final."""
    for layer in layers:
        left = TRAILING_BYTES_MAX
        while chunk := layer.read(CHUNK_BYTES):
            left -= len(chunk)
            if left < 0:
                raise ValueError("unexpected data after the archive's end")
    sealed = [layer.source for layer in layers if isinstance(layer, _Prepended)]
    if sealed and not sealed[0].finished:
        raise BackupFailed("the archive ends before its final chunk", code="backup_corrupt")


def _copy_hashing(source: IO[bytes], to: Path) -> tuple[Path, str, int]:
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    return to, digest.hexdigest(), size


def _add_bytes(tar: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(body))


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _link_new(partial: Path, to: Path) -> None:
    """Give the finished file its name; fail rather than replace a file that appeared."""
    try:
        os.link(partial, to)
    except FileExistsError:
        raise BackupFailed(
            f"{to} already exists; choose a new path", code="backup_exists"
        ) from None
    except OSError:  # a file system without hard links: check, then rename
        if to.exists():
            raise BackupFailed(
                f"{to} already exists; choose a new path", code="backup_exists"
            ) from None
        os.rename(partial, to)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupFailed(
            "an in-memory database cannot be backed up", code="backup_source_missing"
        )
    return Path(database).resolve()


def _libpq_uri(url: URL) -> str:
    """The URL as libpq reads it: no SQLAlchemy driver suffix, no password."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(
            f"{name} is not installed or not on PATH (install the PostgreSQL client tools of"
            " the server's major version)",
            code="backup_tool_missing",
        )
    return found
