"""Operator roles at install and upgrade time: migration 0015 makes existing operators admins,
and `paybao operator create|set-role|list` on the test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from tests.integration.admin_support import OPERATOR_PASSWORD
from tests.integration.test_cli import env as env
from tests.integration.test_migrations import _empty_database_url
from typer.testing import CliRunner

from paybao.adapters.db.engine import make_engine
from paybao.adapters.db.migrate import upgrade
from paybao.cli import app
from paybao.settings import Settings

runner = CliRunner()
INSERT = (
    "INSERT INTO operators (name, password_hash, totp_secret, created_at_us{role})"
    " VALUES (:name, 'x', 'SECRET', 1{value})"
)


def test_upgrading_makes_existing_operators_admins_and_new_rows_viewers(tmp_path: Path) -> None:
    engine = make_engine(_empty_database_url(tmp_path))
    upgrade(engine, "0014_portal_indexes")
    with engine.begin() as connection:
        connection.execute(text(INSERT.format(role="", value="")), {"name": "ops.old"})
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text(INSERT.format(role="", value="")), {"name": "ops.new"})
        roles = dict(connection.execute(text("SELECT name, role FROM operators")).all())
    assert roles == {"ops.old": "admin", "ops.new": "viewer"}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(INSERT.format(role=", role", value=", 'root'")), {"name": "ops.bad"}
        )
    engine.dispose()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["operator", *args])
    return result.exit_code, result.output


def test_cli_creates_the_first_operator_as_admin_then_viewers_or_the_role_given(
    env: Settings,
) -> None:
    code, output = _invoke("create", "--name", "ops.root", "--password", OPERATOR_PASSWORD)
    assert code == 0, output
    assert "role=admin" in output
    code, output = _invoke("create", "--name", "ops.later", "--password", OPERATOR_PASSWORD)
    assert (code, "role=viewer" in output) == (0, True), output
    code, output = _invoke(
        "create", "--name", "ops.money", "--password", OPERATOR_PASSWORD, "--role", "finance"
    )
    assert (code, "role=finance" in output) == (0, True), output
    code, output = _invoke(
        "create", "--name", "ops.bad", "--password", OPERATOR_PASSWORD, "--role", "root"
    )
    assert code == 1
    assert "invalid_operator_role" in output
    code, output = _invoke("list")
    assert code == 0
    assert [line.split("\t")[1:] for line in output.splitlines()] == [
        ["ops.root", "admin"],
        ["ops.later", "viewer"],
        ["ops.money", "finance"],
    ]


def test_cli_changes_a_role_but_never_the_last_admins(env: Settings) -> None:
    assert _invoke("create", "--name", "ops.root", "--password", OPERATOR_PASSWORD)[0] == 0
    assert _invoke("create", "--name", "ops.two", "--password", OPERATOR_PASSWORD)[0] == 0
    code, output = _invoke("set-role", "--name", "ops.root", "--role", "viewer")
    assert code == 1
    assert "operator_last_admin" in output
    code, output = _invoke("set-role", "--name", "ops.two", "--role", "admin")
    assert code == 0, output
    assert "viewer -> admin" in output
    assert _invoke("set-role", "--name", "ops.root", "--role", "support")[0] == 0
    code, output = _invoke("set-role", "--name", "nobody", "--role", "admin")
    assert code == 1
    assert "operator_not_found" in output
