"""`paybao operator disable|enable` and `paybao operator token create|list|revoke` on the test
database (SQLite or PostgreSQL), and the token they print working against the admin API."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.admin_support import OPERATOR_PASSWORD
from tests.integration.test_cli import env as env
from typer.testing import CliRunner

from paybao.adapters.db.engine import make_engine
from paybao.bootstrap import build_platform
from paybao.cli import app
from paybao.settings import Settings

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["operator", *args])
    return result.exit_code, result.output


def _operators(env: Settings) -> None:
    for name, role in (("ops.root", "admin"), ("ops.bob", "finance")):
        code, output = _invoke(
            "create", "--username", name, "--password", OPERATOR_PASSWORD, "--role", role
        )
        assert code == 0, output


def _audit(settings: Settings) -> list[tuple[str, str, str]]:
    engine = make_engine(settings.resolved_database_url())
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT action, detail, outcome FROM audit_log ORDER BY id"))
        found = [(str(r.action), str(r.detail), str(r.outcome)) for r in rows]
    engine.dispose()
    return found


def test_cli_disables_and_enables_but_never_the_last_admin(env: Settings) -> None:
    _operators(env)
    code, output = _invoke("disable", "--username", "ops.bob", "--reason", "left")
    assert (code, output.strip()) == (0, "operator ops.bob disabled")
    code, output = _invoke("list")
    assert output.splitlines()[1].split("\t")[1:] == ["ops.bob", "finance", "disabled"]
    assert _invoke("disable", "--username", "ops.bob")[1].strip().endswith("already disabled")
    code, output = _invoke("disable", "--username", "ops.root")
    assert code == 1
    assert "operator_last_admin" in output
    code, output = _invoke("enable", "--name", "ops.bob")
    assert (code, output.strip()) == (0, "operator ops.bob enabled")
    assert _invoke("list")[1].splitlines()[1].split("\t")[1:] == ["ops.bob", "finance"]
    code, output = _invoke("disable", "--username", "nobody")
    assert (code, "operator_not_found" in output) == (1, True)
    actions = [(action, outcome) for action, _, outcome in _audit(env)]
    assert actions[-3:] == [
        ("operator.disable", "ok"),
        ("operator.disable", "operator_last_admin"),
        ("operator.enable", "ok"),
    ]
    assert ("operator.disable", "ops.bob role=finance tokens_revoked=0: left", "ok") in _audit(env)


def test_cli_mints_lists_and_revokes_a_token_that_works_once_printed(env: Settings) -> None:
    _operators(env)
    code, output = _invoke(
        "token", "create", "--username", "ops.bob", "--name", "reports", "--expires-days", "30"
    )
    assert code == 0, output
    header, token = output.strip().splitlines()
    assert header.startswith("token 1 reports expires 20")
    assert token.startswith("pbo_")
    platform = build_platform(env)
    try:
        with TestClient(_app(platform)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            me = client.get("/api/v1/admin/me", headers=headers).json()
            assert (me["name"], me["role"], me["actor"]) == ("ops.bob", "finance", "token:reports")
            with platform.engine.connect() as connection:
                stored = connection.execute(text("SELECT token_sha256 FROM operator_tokens"))
                assert stored.scalar() == hashlib.sha256(token.encode()).hexdigest()

            code, output = _invoke("token", "list", "--username", "ops.bob")
            [line] = output.strip().splitlines()
            fields = line.split("\t")
            assert fields[:3] == ["1", "reports", "live"]
            assert fields[4] != "-"  # last used: just now
            code, output = _invoke("token", "revoke", "--username", "ops.bob", "--name", "reports")
            assert (code, output.strip()) == (0, "token 1 revoked")
            assert client.get("/api/v1/admin/me", headers=headers).status_code == 401
    finally:
        platform.close()
    assert _invoke("token", "list", "--username", "ops.bob")[1].split("\t")[2] == "revoked"
    code, output = _invoke("token", "revoke", "--username", "ops.bob", "--id", "1")
    assert output.strip() == "token 1 was already revoked"
    code, output = _invoke("token", "revoke", "--username", "ops.root", "--id", "1")
    assert (code, "operator_token_not_found" in output) == (1, True)
    assert _invoke("token", "revoke", "--username", "ops.bob")[0] == 2  # neither --id nor --name
    code, output = _invoke(
        "token", "create", "--username", "ops.bob", "--name", "x", "--expires-days", "0"
    )
    assert code == 2  # out of 1-366
    assert [a for a, _, _ in _audit(env)][-2:] == ["operator.token_create", "operator.token_revoke"]


def _app(platform: object) -> object:
    from paybao.web.app import create_app

    return create_app(platform, run_worker=False)  # type: ignore[arg-type]
