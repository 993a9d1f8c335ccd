"""`paybao transit reader sync|verify` through Typer's runner on the test database: sync writes
an operator's issuer keys and blacklist; verify checks codes offline with those files only (a
fresh code accepted; a stale, tampered, blacklisted or other operator's code refused, exit 1);
unusable files exit 2. `paybao demo` seeds the Hangzhou Metro operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gateway_support import APP_ID, make_buyer
from transit_support import make_metro, now_s, open_ride_code, ride, settle
from typer.testing import CliRunner

from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.domain.transit import public_user_id
from paybao.settings import Settings
from paybao.wiring.transit_demo import DEMO_METRO_APP_ID, DEMO_METRO_NAME

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


def sync(folder: Path, app_id: str = APP_ID) -> tuple[Path, Path]:
    keys, blacklist = folder / "keys.json", folder / "blacklist.json"
    result = runner.invoke(
        app,
        [
            "transit",
            "reader",
            "sync",
            "--app-id",
            app_id,
            "--keys-out",
            str(keys),
            "--blacklist-out",
            str(blacklist),
        ],
    )
    assert result.exit_code == 0, result.output
    return keys, blacklist


def verify(keys: Path, blacklist: Path, code: str, *extra: str) -> tuple[int, str]:
    args = ["transit", "reader", "verify", "--keys", str(keys), "--blacklist", str(blacklist)]
    result = runner.invoke(app, [*args, *extra, code])
    return result.exit_code, result.output


def test_sync_then_verify_offline(
    env: Settings, platform: Platform, client: object, tmp_path: Path
) -> None:
    make_metro(platform)
    user_id = make_buyer(platform, "13800138000", balance_fen=20_00)
    poor_id = make_buyer(platform, "13800138001", balance_fen=0)
    phone, poor_phone = open_ride_code(platform, user_id), open_ride_code(platform, poor_id)
    settle(client, ("OWE-1", ride(client, poor_phone, now_s(platform) - 900)))  # owes: listed
    keys, blacklist = sync(tmp_path)
    assert json.loads(keys.read_text())["app_id"] == APP_ID
    assert json.loads(blacklist.read_text()) == {"black_list": [str(public_user_id(poor_id))]}

    at = now_s(platform)
    code = phone.code(at)
    status, output = verify(keys, blacklist, code, "--at", str(at + 5))
    assert status == 0, output
    assert output.startswith(f"ACCEPTED user {public_user_id(user_id)}")
    assert "credit 30.00" in output

    refusals = {
        "stale": (code, ("--at", str(at + 91)), "transit_code_expired"),
        "tampered": (code[:-4] + ("AAAA" if code[-4:] != "AAAA" else "BBBB"), (), "transit_"),
        "blacklisted": (poor_phone.code(at), ("--at", str(at)), "transit_user_blacklisted"),
        "operator": (code, ("--at", str(at), "--app-id", "2021000000009999"), "transit_wrong"),
        "garbage": ("PBT1nope", (), "transit_code_malformed"),
    }
    for name, (text, extra, error_code) in refusals.items():
        status, output = verify(keys, blacklist, text, *extra)
        assert status == 1, (name, output)
        assert output.startswith(f"REFUSED {error_code}"), (name, output)

    (tmp_path / "broken.json").write_text("{not json")
    status, output = verify(tmp_path / "broken.json", blacklist, code)
    assert status == 2 and "broken.json" in output
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(json.loads(keys.read_text())["keys"]))  # key.query's list only
    status, output = verify(bare, blacklist, code)
    assert status == 2 and "app id" in output
    status, output = verify(bare, blacklist, code, "--app-id", APP_ID, "--at", str(at))
    assert status == 0, output


def test_sync_refuses_an_app_that_is_no_operator(env: Settings, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["transit", "reader", "sync", "--app-id", "2021000000009999"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "transit_operator_not_found" in result.output


def test_demo_seeds_the_hangzhou_metro(env: Settings, platform: Platform) -> None:
    assert runner.invoke(app, ["demo"]).exit_code == 0
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0 and "demo metro" in again.output
    operator = platform.services["transit"].operator(DEMO_METRO_APP_ID)
    assert operator.name == DEMO_METRO_NAME
    assert operator.fare.zones["WULINGUANGCHANG"] == 3
    assert operator.fare.max_fen == 5_00
