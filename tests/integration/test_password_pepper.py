"""Stored password hashes are peppered, and hashes from before the pepper are replaced at the
next right password: a user's sign-in and payment password, a merchant's portal password, an
operator's. A wrong password replaces nothing; a server with another pepper refuses instead of
counting right passwords as wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from tests.integration.admin_support import OPERATOR_PASSWORD, create_operator, totp_now
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, make_buyer
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD, portal_shop
from tests.integration.test_db_backup import empty_url  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from paybao.adapters.db.tables.merchant_portal import merchant_logins
from paybao.adapters.db.tables.wallet import operators, users
from paybao.adapters.passwords import (
    PEPPER_FILE_NAME,
    PEPPERED_PREFIX,
    PepperMismatch,
    fingerprint_of,
    pepper_fingerprint,
)
from paybao.bootstrap import Platform, build_platform
from paybao.cli import app
from paybao.domain.errors import Forbidden, Unauthenticated
from paybao.settings import Settings

PHONE = "13900139000"
runner = CliRunner()


def _legacy(password: str) -> str:
    """A hash as paybao stored it before the pepper (the test's cheap parameters)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def _user_hashes(platform: Platform, user_id: int) -> tuple[str, str]:
    with platform.engine.connect() as connection:
        row = connection.execute(
            select(users.c.login_password_hash, users.c.payment_password_hash).where(
                users.c.id == user_id
            )
        ).one()
    return str(row[0]), str(row[1])


def _set(platform: Platform, statement: object) -> None:
    with platform.engine.begin() as connection:
        connection.execute(statement)  # type: ignore[call-overload]


def _fingerprint(platform: Platform) -> str:
    return pepper_fingerprint((platform.settings.data_dir / PEPPER_FILE_NAME).read_bytes())


def test_new_hashes_are_peppered_with_the_data_folders_key(platform: Platform) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    login_hash, payment_hash = _user_hashes(platform, user_id)
    for stored in (login_hash, payment_hash):
        assert stored.startswith(PEPPERED_PREFIX)
        assert fingerprint_of(stored) == _fingerprint(platform)
    assert (platform.settings.data_dir / PEPPER_FILE_NAME).stat().st_mode & 0o777 == 0o600


def test_a_users_old_hashes_are_replaced_at_the_next_right_password(platform: Platform) -> None:
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    _set(
        platform,
        update(users)
        .where(users.c.id == user_id)
        .values(
            login_password_hash=_legacy(LOGIN_PASSWORD),
            payment_password_hash=_legacy(PAYMENT_PASSWORD),
        ),
    )
    service = platform.services["users"]
    with pytest.raises(Unauthenticated):
        service.authenticate(PHONE, "wrong-password-1")
    with pytest.raises(Forbidden):
        service.verify_payment_password(user_id, "000000")
    assert all(fingerprint_of(h) is None for h in _user_hashes(platform, user_id))

    service.authenticate(PHONE, LOGIN_PASSWORD)
    service.verify_payment_password(user_id, PAYMENT_PASSWORD)
    login_hash, payment_hash = _user_hashes(platform, user_id)
    assert fingerprint_of(login_hash) == fingerprint_of(payment_hash) == _fingerprint(platform)
    # The new hashes verify, and the counters a wrong password left are back to zero.
    assert service.authenticate(PHONE, LOGIN_PASSWORD).id == user_id
    service.verify_payment_password(user_id, PAYMENT_PASSWORD)
    record = service.record(user_id)
    assert (record.login_failures, record.pay_failures) == (0, 0)


def test_a_merchants_and_an_operators_old_hashes_are_replaced_at_sign_in(
    platform: Platform,
) -> None:
    shop = portal_shop(platform)
    operator_id, secret = create_operator(platform)
    _set(
        platform,
        update(merchant_logins)
        .where(merchant_logins.c.merchant_id == shop.merchant.id)
        .values(password_hash=_legacy(MERCHANT_PASSWORD)),
    )
    _set(
        platform,
        update(operators)
        .where(operators.c.id == operator_id)
        .values(password_hash=_legacy(OPERATOR_PASSWORD)),
    )
    accounts = platform.services["merchant_accounts"]
    assert accounts.authenticate(str(shop.merchant.id), MERCHANT_PASSWORD) == shop.merchant.id
    platform.services["operators"].authenticate("ops.alice", OPERATOR_PASSWORD, totp_now(secret))
    with platform.engine.connect() as connection:
        merchant_hash = connection.execute(
            select(merchant_logins.c.password_hash).where(
                merchant_logins.c.merchant_id == shop.merchant.id
            )
        ).scalar_one()
        operator_hash = connection.execute(
            select(operators.c.password_hash).where(operators.c.id == operator_id)
        ).scalar_one()
    assert fingerprint_of(merchant_hash) == fingerprint_of(operator_hash) == _fingerprint(platform)
    assert accounts.authenticate(str(shop.merchant.id), MERCHANT_PASSWORD) == shop.merchant.id


def test_a_server_with_another_pepper_refuses_and_locks_nobody_out(
    platform: Platform, settings: Settings
) -> None:
    """A data folder restored without its key file gets a new pepper: the server must say so,
    not count each right password as wrong until every user is locked out."""
    make_buyer(platform, PHONE, balance_fen=0)
    (settings.data_dir / PEPPER_FILE_NAME).unlink()
    other = build_platform(settings)
    try:
        for _ in range(6):
            with pytest.raises(PepperMismatch):
                other.services["users"].authenticate(PHONE, LOGIN_PASSWORD)
        user = other.services["users"].find_by_phone(PHONE)
        assert user is not None
        record = other.services["users"].record(user.id)
        assert (record.login_failures, record.login_locked_until_us) == (0, None)
    finally:
        other.close()


def test_a_backup_with_keys_carries_the_pepper_and_users_sign_in_after_restore(
    platform: Platform,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    empty_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    """Losing the pepper loses every password: `db backup --with-keys` takes it along, and a
    restore with `--keys-to` gives the new data folder the same one."""
    make_buyer(platform, PHONE, balance_fen=0)
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    path = tmp_path / "b.tar"
    done = runner.invoke(app, ["db", "backup", "--to", str(path), "--with-keys"])
    assert done.exit_code == 0, done.output
    keys_to = tmp_path / "new-data"
    args = ["db", "restore", str(path), "--database-url", empty_url, "--yes", "--json"]
    restored = runner.invoke(app, [*args, "--keys-to", str(keys_to)])
    assert restored.exit_code == 0, restored.output
    assert PEPPER_FILE_NAME in json.loads(restored.stdout)["keys_written"]
    assert (keys_to / PEPPER_FILE_NAME).stat().st_mode & 0o777 == 0o600
    again = build_platform(
        settings.model_copy(update={"database_url": empty_url, "data_dir": keys_to})
    )
    try:
        assert again.services["users"].authenticate(PHONE, LOGIN_PASSWORD).id > 0
    finally:
        again.close()


def test_preflight_blocks_on_hashes_made_under_another_pepper(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data folder's key file was swapped (a restore without --with-keys, a new host):
    preflight says so before anyone is refused at the till."""
    user_id = make_buyer(platform, PHONE, balance_fen=0)
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")

    def pepper_check() -> dict[str, object]:
        result = runner.invoke(app, ["preflight", "--json"])
        [check] = [c for c in json.loads(result.stdout)["checks"] if c["code"] == "password_pepper"]
        return dict(check)

    here = _fingerprint(platform)
    check = pepper_check()
    assert check["ok"] and "2 password hash(es) under this data folder's pepper" in str(
        check["message"]
    )
    _set(
        platform,
        update(users).where(users.c.id == user_id).values(payment_password_hash=_legacy("1")),
    )
    check = pepper_check()
    assert check["ok"] and "1 from before the pepper" in str(check["message"])
    (settings.data_dir / PEPPER_FILE_NAME).unlink()  # the next platform makes a new one
    check = pepper_check()
    assert not check["ok"] and check["severity"] == "error"
    assert f"1 under {here}" in str(check["message"])
