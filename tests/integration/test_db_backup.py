"""`paybao db backup|verify-backup|restore|status` on the test database (SQLite, or PostgreSQL
when PAYBAO_TEST_DATABASE_URL is set): consistent snapshots under concurrent writes, corruption
and manifest mismatches caught, restores into empty databases only; compressed and encrypted
archives round trip, a wrong key, a flipped byte or a cut file restore nothing, and the plain
archives of earlier versions still verify and restore."""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import tarfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.conftest import database_kind
from tests.integration.gateway_support import make_shop
from typer.testing import CliRunner

from paybao import __version__
from paybao.adapters import backup_crypto
from paybao.adapters.db.backup import BackupFiles
from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import upgrade
from paybao.bootstrap import Platform, build_platform
from paybao.cli import app
from paybao.cli_db import _reconcile_at
from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.ledger import Transfer, TransferResult
from paybao.services.backups import BackupFailed, BackupService, Manifest
from paybao.settings import Settings

runner = CliRunner()
OLDER_REVISION = "0030_topup_channels"


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


@pytest.fixture
def empty_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's kind, dropped afterwards."""
    if database_kind() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'paybao.sqlite3'}"
        return
    url = make_url(settings.resolved_database_url())
    name = f"h3_restore_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _fund(platform: Platform, user_ids: range, amount_fen: int) -> dict[int, int]:
    bank = platform_account(Purpose.BANK_CLEARING)
    specs = [bank, *(user_account(u) for u in user_ids)]
    ids = platform.ledger.open_accounts(specs)
    wallets = {u: ids[user_account(u).key] for u in user_ids}
    transfers = [
        Transfer(f"fund-{u}", ids[bank.key], wallet, amount_fen) for u, wallet in wallets.items()
    ]
    assert all(o.result is TransferResult.OK for o in platform.ledger.apply(transfers))
    return wallets


def _transfer_count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar()
    engine.dispose()
    return int(count or 0)


def _service(**files: object) -> BackupService:
    return BackupService(
        BackupFiles(**files),  # type: ignore[arg-type]
        _reconcile_at,
        version=__version__,
        now_iso=lambda: datetime.now(UTC).isoformat(),
    )


def _backup(env: Settings, to: Path, *args: str) -> None:
    done = runner.invoke(app, ["db", "backup", "--to", str(to), *args])
    assert done.exit_code == 0, done.output


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    path.unlink()
    with tarfile.open(path, "w") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def test_backup_while_writing_is_one_consistent_snapshot(
    env: Settings, platform: Platform, tmp_path: Path
) -> None:
    wallets = _fund(platform, range(1, 9), 1_000_000)
    url = env.resolved_database_url()
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        # Money moves around a ring of wallets: every transfer touches two counters and adds a
        # row; a torn snapshot shows as counters that disagree with the transfers.
        n = 0
        while not stop.is_set() and n < 20_000:
            n += 1
            source, target = wallets[n % 8 + 1], wallets[(n + 1) % 8 + 1]
            outcome = platform.ledger.apply([Transfer(f"ring-{n}", source, target, n % 97 + 1)])
            assert outcome[0].result is TransferResult.OK
            written.append(n)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        before = _transfer_count(url)
        # Small steps with pauses stretch the SQLite copy over many commits of the writer.
        manifest = _service(pages_per_step=4, step_pause_s=0.002).backup(
            url, tmp_path / "live.tar", data_dir=env.data_dir, with_keys=False
        )
        after = _transfer_count(url)
    finally:
        stop.set()
        writer.join()
    assert after > before, "the writer must have committed while the backup ran"
    assert before <= manifest.money.ledger_transfers <= after
    assert manifest.money.balanced
    report = _service().verify(tmp_path / "live.tar", url)
    assert report.problems == []
    assert report.reconcile is not None and report.reconcile.clean, report.reconcile
    assert report.restored_money == manifest.money
    assert report.ok


def test_verify_detects_a_flipped_byte_in_the_dump(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    _backup(env, path, "--no-compress")  # a plain tar: the flip lands in the dump itself
    assert runner.invoke(app, ["db", "verify-backup", str(path)]).exit_code == 0
    with tarfile.open(path) as tar:
        dump = next(m for m in tar if m.name.startswith("database."))
    with path.open("r+b") as handle:
        handle.seek(dump.offset_data + dump.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    done = runner.invoke(app, ["db", "verify-backup", str(path), "--json"])
    assert done.exit_code == 1, done.output
    report = json.loads(done.output)
    assert report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["dump_sha256_mismatch"]
    assert report["reconcile"] is None  # nothing restored from a dump that is not the one named


def test_verify_detects_a_manifest_that_does_not_match_the_dump(
    env: Settings, platform: Platform, tmp_path: Path
) -> None:
    _fund(platform, range(1, 3), 5_000)
    path = tmp_path / "b.tar"
    _backup(env, path)
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    manifest["money"]["ledger_transfers"] += 1
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)
    done = runner.invoke(app, ["db", "verify-backup", str(path)])
    assert done.exit_code == 1, done.output
    assert "BAD money_facts_mismatch: ledger_transfers expected 3, found 2" in done.output
    assert done.output.strip().endswith("backup NOT verified")


def test_verify_refuses_an_unreadable_archive(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    _backup(env, path)
    path.write_bytes(path.read_bytes()[:700])  # cut inside the dump
    done = runner.invoke(app, ["db", "verify-backup", str(path)])
    assert done.exit_code == 1, done.output
    assert "backup_unreadable" in done.output


def test_restore_into_an_empty_database_reconciles_and_balances(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str
) -> None:
    wallets = _fund(platform, range(1, 4), 12_345)
    moved = platform.ledger.apply([Transfer("t-1", wallets[1], wallets[2], 345)])
    assert moved[0].result is TransferResult.OK
    expected = {u: platform.ledger.balance(w).balance_fen for u, w in wallets.items()}
    platform_key = (env.data_dir / "platform_rsa_private.pem").read_bytes()
    path = tmp_path / "b.tar"
    _backup(env, path, "--with-keys")
    keys_to = tmp_path / "new-data"
    args = ["db", "restore", str(path), "--database-url", empty_url, "--yes", "--json"]
    done = runner.invoke(app, [*args, "--keys-to", str(keys_to)])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["money"]["ledger_transfers"] == 4 and report["money"]["balanced"]
    assert (keys_to / "platform_rsa_private.pem").read_bytes() == platform_key
    assert stat.S_IMODE((keys_to / "platform_rsa_private.pem").stat().st_mode) == 0o600
    restored = build_platform(
        Settings(database_url=empty_url, sandbox=True, data_dir=keys_to, run_worker_in_server=False)
    )
    try:
        assert restored.reconcile.run().clean
        for user_id, wallet_id in wallets.items():
            assert restored.ledger.balance(wallet_id).balance_fen == expected[user_id]
    finally:
        restored.close()
    # Restoring the same backup again finds the database no longer empty.
    again = runner.invoke(app, ["db", "restore", str(path), "--database-url", empty_url, "--yes"])
    assert again.exit_code == 2
    assert "restore_target_not_empty" in again.output


def test_keys_carry_the_certificate_authority_and_the_apps_aes_keys(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str
) -> None:
    """Certificate mode and content encryption keep secrets in the data folder too: without
    them a restored server would answer with a new root (every merchant's
    alipay_root_cert_sn void) and could not open the apps' AES keys."""
    shop = make_shop(platform)
    aes_key = platform.services["app_aes_keys"].set(shop.app.app_id, actor="test")
    certificates = platform.services["app_certificates"]
    certificates.ensure(shop.app.app_id, actor="test")
    root_sn, cert_sn = certificates.root_sn(), certificates.platform_cert_sn(1)
    path = tmp_path / "b.tar"
    _backup(env, path, "--with-keys")
    keys_to = tmp_path / "new-data"
    args = ["db", "restore", str(path), "--database-url", empty_url, "--yes"]
    done = runner.invoke(app, [*args, "--keys-to", str(keys_to)])
    assert done.exit_code == 0, done.output
    for name in ("app_aes.key", "platform_ca_private.pem", "platform_root_certs.crt"):
        assert (keys_to / name).read_bytes() == (env.data_dir / name).read_bytes(), name
    restored = build_platform(
        Settings(database_url=empty_url, sandbox=True, data_dir=keys_to, run_worker_in_server=False)
    )
    try:
        assert restored.services["app_aes_keys"].show(shop.app.app_id) == aes_key
        again = restored.services["app_certificates"]
        assert (again.root_sn(), again.platform_cert_sn(1)) == (root_sn, cert_sn)
    finally:
        restored.close()


def test_restore_refuses_a_database_with_tables(
    env: Settings, platform: Platform, tmp_path: Path
) -> None:
    _fund(platform, range(1, 2), 100)
    path = tmp_path / "b.tar"
    _backup(env, path)
    _fund(platform, range(2, 3), 100)  # the live database moves on after the backup
    url = env.resolved_database_url()
    count = _transfer_count(url)
    done = runner.invoke(app, ["db", "restore", str(path), "--database-url", url, "--yes"])
    assert done.exit_code == 2, done.output
    assert "error: restore_target_not_empty" in done.output
    assert _transfer_count(url) == count


def test_restore_refuses_another_dialect(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    _backup(env, path)
    other = (
        "postgresql+psycopg://postgres@127.0.0.1:5432/none"
        if database_kind() == "sqlite"
        else f"sqlite:///{tmp_path / 'x.sqlite3'}"
    )
    done = runner.invoke(app, ["db", "restore", str(path), "--database-url", other, "--yes"])
    assert done.exit_code == 2
    assert "backup_dialect_mismatch" in done.output


def test_a_backup_of_an_older_revision_restores_and_upgrades(
    env: Settings, tmp_path: Path, empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_url = _older_database(env, tmp_path)
    try:
        monkeypatch.setenv("PAYBAO_DATABASE_URL", old_url)
        status = runner.invoke(app, ["db", "status", "--json"])
        assert status.exit_code == 0, status.output
        found = json.loads(status.output)
        assert found["revisions"] == [OLDER_REVISION] and not found["at_head"]
        assert found["pending"][0] > OLDER_REVISION and found["pending"][-1] == found["head"][0]
        path = tmp_path / "old.tar"
        _backup(env, path)
        done = runner.invoke(
            app, ["db", "restore", str(path), "--database-url", empty_url, "--yes", "--json"]
        )
        assert done.exit_code == 0, done.output
        report = json.loads(done.output)
        assert report["revisions_before_upgrade"] == [OLDER_REVISION]
        assert report["revisions_after_upgrade"] == found["head"]
    finally:
        _drop_older(old_url)


def test_backup_refuses_an_existing_path(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "taken.tar"
    path.write_bytes(b"precious")
    done = runner.invoke(app, ["db", "backup", "--to", str(path)])
    assert done.exit_code == 2
    assert "error: backup_exists" in done.output
    assert path.read_bytes() == b"precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".taken.tar")]


def test_backup_without_keys_says_what_an_operator_loses(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "b.tar"
    done = runner.invoke(app, ["db", "backup", "--to", str(path), "--json"])
    assert done.exit_code == 0, done.output
    assert "re-download the platform public key" in done.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    names = set(_members(path))
    assert names == {"manifest.json", f"database.{_dump_suffix()}"}
    manifest = Manifest.from_json(json.loads(_members(path)["manifest.json"]))
    assert manifest.dialect == database_kind() and manifest.keys == ()
    assert manifest.paybao_version == __version__ and manifest.same_snapshot


def test_status_reports_the_head_and_the_ledger(env: Settings, platform: Platform) -> None:
    _fund(platform, range(1, 3), 700)
    done = runner.invoke(app, ["db", "status", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert found["at_head"] and found["pending"] == [] and found["dialect"] == database_kind()
    money = found["money"]
    assert money["ledger_transfers"] == 2
    assert money["posted"]["CNY"] == {"debits_fen": 1400, "credits_fen": 1400}


@pytest.mark.skipif(database_kind() != "postgresql", reason="pg_dump is PostgreSQL's")
def test_pg_dump_missing_or_failing_is_a_clear_error(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_before = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = runner.invoke(app, ["db", "backup", "--to", str(tmp_path / "a.tar")])
    assert missing.exit_code == 2
    assert "error: backup_tool_missing" in missing.output
    monkeypatch.setenv("PATH", path_before)
    # pg_dump refused (a role that cannot log in): its stderr is shown, the password is not.
    url = make_url(env.resolved_database_url()).set(username="no_such_role", password="s3cr3t-pw")
    files = BackupFiles(timeout_s=30)
    with pytest.raises(BackupFailed) as caught:
        files._run_pg(["pg_dump", "--format=custom"], url.render_as_string(hide_password=False))
    assert caught.value.code == "backup_tool_failed"
    assert "no_such_role" in caught.value.message
    assert "s3cr3t-pw" not in caught.value.message
    assert not list(tmp_path.glob(".*partial*"))


def _dump_suffix() -> str:
    return "sqlite3" if database_kind() == "sqlite" else "pgdump"


def _older_database(env: Settings, tmp_path: Path) -> str:
    if database_kind() == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        base = make_url(env.resolved_database_url())
        name = f"h3_old_{secrets.token_hex(4)}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine, OLDER_REVISION)
    engine.dispose()
    return url


def _drop_older(url: str) -> None:
    if database_kind() == "sqlite":
        return
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    admin.dispose()


# --- compression and encryption -------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    done = runner.invoke(app, ["db", "backup-key", "new", str(path)])
    assert done.exit_code == 0, done.output
    return path


def _is_empty(url: str) -> bool:
    return BackupFiles().is_empty(url)


def _restore(path: Path, url: str, *args: str) -> tuple[int, str]:
    done = runner.invoke(app, ["db", "restore", str(path), "--database-url", url, "--yes", *args])
    return done.exit_code, done.output


def test_a_compressed_backup_round_trips(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str
) -> None:
    wallets = _fund(platform, range(1, 4), 2_500)
    expected = {u: platform.ledger.balance(w).balance_fen for u, w in wallets.items()}
    plain, packed = tmp_path / "plain.tar", tmp_path / "packed.bak"
    _backup(env, plain, "--no-compress")
    done = runner.invoke(app, ["db", "backup", "--to", str(packed), "--json"])
    assert done.exit_code == 0, done.output
    written = json.loads(done.stdout)
    assert written["manifest"]["archive"] == {"compression": "gzip", "encryption": None}
    assert packed.read_bytes()[:2] == b"\x1f\x8b"  # gzip by default, whatever the name
    assert written["archive_bytes"] == packed.stat().st_size < plain.stat().st_size
    verified = runner.invoke(app, ["db", "verify-backup", str(packed), "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["archive"]["compression"] == "gzip"
    code, output = _restore(packed, empty_url, "--json")
    assert code == 0, output
    assert json.loads(output)["money"]["ledger_transfers"] == 3
    restored = build_platform(
        Settings(
            database_url=empty_url, sandbox=True, data_dir=tmp_path, run_worker_in_server=False
        )
    )
    try:
        for user_id, wallet_id in wallets.items():
            assert restored.ledger.balance(wallet_id).balance_fen == expected[user_id]
    finally:
        restored.close()


def test_a_flipped_byte_in_a_compressed_archive_restores_nothing(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str
) -> None:
    _fund(platform, range(1, 3), 100)
    path = tmp_path / "b.bak"
    _backup(env, path)
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    done = runner.invoke(app, ["db", "verify-backup", str(path), "--json"])
    assert done.exit_code == 1, done.output
    report = json.loads(done.output)
    # Inflate fails, or gzip's CRC, or failing both the dump's sha256: never a restore.
    assert report["problems"][0]["kind"] in {"backup_unreadable", "dump_sha256_mismatch"}
    assert report["reconcile"] is None
    code, output = _restore(path, empty_url)
    assert code == 2, output
    assert _is_empty(empty_url)


def test_an_encrypted_backup_round_trips_with_its_key_only(
    env: Settings,
    platform: Platform,
    tmp_path: Path,
    empty_url: str,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fund(platform, range(1, 3), 900)
    platform_key = (env.data_dir / "platform_rsa_private.pem").read_bytes()
    path = tmp_path / "b.bak"
    monkeypatch.setenv("PAYBAO_BACKUP_KEY_FILE", str(key_file))  # the variable works as the option
    _backup(env, path, "--with-keys")
    monkeypatch.delenv("PAYBAO_BACKUP_KEY_FILE")
    sealed = path.read_bytes()
    assert sealed.startswith(backup_crypto.MAGIC)
    assert b"PRIVATE KEY" not in sealed and b"manifest.json" not in sealed
    # Without the key: refused clearly, by verify, restore and status alike.
    for args in (["verify-backup", str(path)], ["restore", str(path), "--database-url", empty_url]):
        refused = runner.invoke(
            app, ["db", *args, "--yes"] if args[0] == "restore" else ["db", *args]
        )
        assert refused.exit_code == 2, refused.output
        assert "error: backup_key_required" in refused.output
        assert "encrypted: pass --encrypt-key-file" in refused.output
    assert _is_empty(empty_url)
    status = runner.invoke(app, ["db", "status", "--backup", str(path), "--json"])
    assert status.exit_code == 0, status.output
    described = json.loads(status.output)
    assert described["archive"] == {"compression": None, "encryption": backup_crypto.ALGORITHM}
    assert described["manifest"] is None
    opened = runner.invoke(
        app, ["db", "status", "--backup", str(path), "--encrypt-key-file", str(key_file), "--json"]
    )
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.output)["manifest"]["archive"] == {
        "compression": "gzip",
        "encryption": backup_crypto.ALGORITHM,
    }
    # With it: verified and restored, keys included.
    with_key = ["--encrypt-key-file", str(key_file)]
    verified = runner.invoke(app, ["db", "verify-backup", str(path), *with_key])
    assert verified.exit_code == 0, verified.output
    assert "archive: gzip-compressed, encrypted (aes-256-gcm-stream/1)" in verified.output
    keys_to = tmp_path / "new-data"
    code, output = _restore(path, empty_url, *with_key, "--keys-to", str(keys_to), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["money"]["ledger_transfers"] == 2 and report["money"]["balanced"]
    assert report["archive"]["encryption"] == backup_crypto.ALGORITHM
    assert (keys_to / "platform_rsa_private.pem").read_bytes() == platform_key


def test_a_wrong_key_restores_nothing(
    env: Settings, tmp_path: Path, empty_url: str, key_file: Path
) -> None:
    path = tmp_path / "b.bak"
    _backup(env, path, "--encrypt-key-file", str(key_file))
    other = tmp_path / "other.key"
    assert runner.invoke(app, ["db", "backup-key", "new", str(other)]).exit_code == 0
    refused = runner.invoke(
        app, ["db", "verify-backup", str(path), "--encrypt-key-file", str(other)]
    )
    assert refused.exit_code == 2, refused.output
    assert "error: backup_key_wrong" in refused.output
    code, output = _restore(path, empty_url, "--encrypt-key-file", str(other))
    assert code == 2 and "error: backup_key_wrong" in output
    assert _is_empty(empty_url)
    not_a_key = tmp_path / "not.key"
    not_a_key.write_text("hello\n")
    code, output = _restore(path, empty_url, "--encrypt-key-file", str(not_a_key))
    assert code == 2 and "error: backup_key_invalid" in output


def _sealed_backup(env: Settings, path: Path, key: bytes) -> int:
    """An encrypted backup in small chunks (several even for the test database); the number of
    sealed chunks."""
    service = _service(key=key, chunk_bytes=backup_crypto.CHUNK_BYTES_MIN)
    service.backup(env.resolved_database_url(), path, data_dir=env.data_dir, with_keys=False)
    body = path.stat().st_size - backup_crypto.HEADER_BYTES
    sealed = backup_crypto.CHUNK_BYTES_MIN + backup_crypto.TAG_BYTES
    return -(-body // sealed)


def _refused_and_nothing_restored(
    env: Settings, path: Path, key: bytes, empty_url: str, tmp_path: Path
) -> None:
    report = _service(key=key).verify(path, env.resolved_database_url())
    assert not report.ok and report.reconcile is None
    assert [p.kind for p in report.problems] == ["backup_corrupt"]
    with pytest.raises(BackupFailed) as caught:
        _service(key=key).restore(path, empty_url, keys_to=tmp_path / "keys")
    assert caught.value.code == "backup_corrupt"
    assert _is_empty(empty_url)
    assert not (tmp_path / "keys").exists()


def test_a_flipped_byte_in_an_encrypted_archive_restores_nothing(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str, key_file: Path
) -> None:
    _fund(platform, range(1, 3), 100)
    key = backup_crypto.read_key_file(key_file)
    path = tmp_path / "b.bak"
    chunks = _sealed_backup(env, path, key)
    assert chunks >= 3
    assert _service(key=key).verify(path, env.resolved_database_url()).ok
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))
    _refused_and_nothing_restored(env, path, key, empty_url, tmp_path)
    done = runner.invoke(
        app, ["db", "verify-backup", str(path), "--encrypt-key-file", str(key_file)]
    )
    assert done.exit_code == 1, done.output
    assert "BAD backup_corrupt" in done.output and "does not authenticate" in done.output


def test_an_encrypted_archive_without_its_last_chunk_restores_nothing(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str, key_file: Path
) -> None:
    _fund(platform, range(1, 3), 100)
    key = backup_crypto.read_key_file(key_file)
    path = tmp_path / "b.bak"
    chunks = _sealed_backup(env, path, key)
    assert chunks >= 2
    sealed = backup_crypto.CHUNK_BYTES_MIN + backup_crypto.TAG_BYTES
    keep = backup_crypto.HEADER_BYTES + (chunks - 1) * sealed  # every chunk but the last
    assert keep < path.stat().st_size
    path.write_bytes(path.read_bytes()[:keep])
    # Whole chunks only: the gzip stream inside may well look complete; the seal does not.
    _refused_and_nothing_restored(env, path, key, empty_url, tmp_path)


def test_an_old_uncompressed_archive_still_verifies_and_restores(
    env: Settings, platform: Platform, tmp_path: Path, empty_url: str, key_file: Path
) -> None:
    _fund(platform, range(1, 4), 300)
    path = tmp_path / "paybao-old.tar.gz"  # a misleading name: the magic bytes decide
    _backup(env, path, "--with-keys")
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    del manifest["archive"]  # as the versions before compression wrote it
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)  # a plain tar, the old way
    assert path.read_bytes()[:2] != b"\x1f\x8b"
    status = runner.invoke(app, ["db", "status", "--backup", str(path), "--json"])
    described = json.loads(status.output)
    assert described["archive"] == {"compression": "none", "encryption": None}
    assert "archive" not in described["manifest"]
    # A key set for new backups does not stand in the way of reading an old plain one.
    with_key = ["--encrypt-key-file", str(key_file)]
    verified = runner.invoke(app, ["db", "verify-backup", str(path), *with_key])
    assert verified.exit_code == 0, verified.output
    assert "archive: uncompressed, not encrypted" in verified.output
    assert "note: this archive is not encrypted; the key was not used" in verified.output
    code, output = _restore(path, empty_url, "--keys-to", str(tmp_path / "k"), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["money"]["ledger_transfers"] == 3 and report["money"]["balanced"]
    assert report["archive"] == {"compression": "none", "encryption": None}
    assert sorted(report["keys_written"]) == sorted(k["name"] for k in manifest["keys"])
