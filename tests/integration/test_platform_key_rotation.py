"""Rotation with an overlap, end to end: an app on generation 1 and one switched to generation
2 each verify paybao's answers, notifications and return_url parameters with their own
platform public key (python-alipay-sdk's verification, unmodified) and never with the other's;
the portal's switch; the CLI; backups and preflight cover every generation."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.integration.api_admin_support import audit_rows
from tests.integration.gateway_support import APP_ID, Shop, make_buyer, make_shop, signed_params
from tests.integration.merchant_portal_support import portal_shop, post_form, sign_in
from tests.integration.platform_key_support import generation_pair, new_generation
from tests.integration.test_db_backup import empty_url  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from paybao.bootstrap import Platform, build_platform
from paybao.cli import app
from paybao.cli_preflight import LocalIO
from paybao.settings import Settings

SWITCHED_APP_ID = "2021000000000778"
runner = CliRunner()


class Receiver(http.server.BaseHTTPRequestHandler):
    forms: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.forms.append(dict(urllib.parse.parse_qsl(body.decode())))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("R", (Receiver,), {"forms": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def two_apps(platform: Platform, receiver: tuple[str, type[Receiver]]) -> tuple[Shop, Shop]:
    """Both made on generation 1; then generation 2 exists and the second app moves to it."""
    url, _handler = receiver
    first = make_shop(platform, notify_url=url)
    second = make_shop(platform, notify_url=url, app_id=SWITCHED_APP_ID)
    new_generation(platform)
    platform.services["platform_keys"].switch(SWITCHED_APP_ID, 2, actor="cli")
    return first, second


def merchant_sdk(shop: Shop, platform_public_pem: str) -> AliPay:
    return AliPay(
        appid=shop.app.app_id,
        app_notify_url=None,
        app_private_key_string=shop.keys.private_pem_pkcs1,
        alipay_public_key_string=platform_public_pem,
        sign_type="RSA2",
    )


def sdk_call(client: TestClient, sdk: AliPay, method: str, biz: dict[str, Any]) -> Any:
    """What `AliPay.server_api` does, with the request sent through the test client."""
    query = sdk.sign_data(sdk.build_body(method, biz))
    raw = client.get(f"/gateway.do?{query}").text
    return sdk._verify_and_return_sync_response(raw, method.replace(".", "_") + "_response")


def sdk_accepts(sdk: AliPay, form: dict[str, str]) -> bool:
    data = dict(form)
    signature = data.pop("sign", "")
    try:
        return bool(sdk.verify(data, signature))
    except (ValueError, AliPayException):
        return False


def test_each_app_verifies_with_its_own_platform_key_and_not_the_others(
    platform: Platform,
    client: TestClient,
    two_apps: tuple[Shop, Shop],
    receiver: tuple[str, type[Receiver]],
) -> None:
    _url, handler = receiver
    first_pem = platform.services["platform_key"].public_pem
    second_pem = generation_pair(2).public_pem_spki
    assert first_pem != second_pem
    shops = dict(zip((first_pem, second_pem), two_apps, strict=True))
    buyer = make_buyer(platform)
    for own_pem, shop in shops.items():
        other_pem = second_pem if own_pem == first_pem else first_pem
        own, other = merchant_sdk(shop, own_pem), merchant_sdk(shop, other_pem)
        code = platform.services["trades"].issue_auth_code(buyer)
        biz = {"out_trade_no": "rot-1", "auth_code": code, "subject": "轮换", "total_amount": "1"}
        paid = sdk_call(client, own, "alipay.trade.pay", {**biz, "scene": "bar_code"})
        assert paid["code"] == "10000", paid
        query = {"out_trade_no": "rot-1"}
        assert sdk_call(client, own, "alipay.trade.query", query)["trade_status"] == "TRADE_SUCCESS"
        with pytest.raises(AliPayValidationError):
            sdk_call(client, other, "alipay.trade.query", query)
        # return_url parameters are signed like notifications.
        trade = platform.services["trades"].get(paid["trade_no"])
        trade = dataclasses.replace(trade, return_url="https://shop.example/back")
        back = platform.services["notification_forms"].return_url(trade, platform.clock.now_us())
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
        assert sdk_accepts(own, params) and not sdk_accepts(other, params)
    platform.jobs.run_due()
    forms = {form["app_id"]: form for form in handler.forms}
    assert set(forms) == {APP_ID, SWITCHED_APP_ID}
    for own_pem, shop in shops.items():
        other_pem = second_pem if own_pem == first_pem else first_pem
        form = forms[shop.app.app_id]
        assert sdk_accepts(merchant_sdk(shop, own_pem), form)
        assert not sdk_accepts(merchant_sdk(shop, other_pem), form)


def test_an_error_answer_before_the_app_is_read_is_signed_with_the_apps_key(
    platform: Platform, client: TestClient, two_apps: tuple[Shop, Shop]
) -> None:
    _first, second = two_apps
    params = signed_params("alipay.trade.query", {"out_trade_no": "x"}, app_id=SWITCHED_APP_ID)
    params["version"] = "2.0"  # refused by the common-parameter check, before the app look-up
    raw = client.get(f"/gateway.do?{urllib.parse.urlencode(params)}").text
    own = merchant_sdk(second, generation_pair(2).public_pem_spki)
    answer = own._verify_and_return_sync_response(raw, "alipay_trade_query_response")
    assert answer["sub_code"] == "isv.invalid-parameter"


def test_the_gateway_reads_no_key_row_per_call(
    platform: Platform, client: TestClient, two_apps: tuple[Shop, Shop]
) -> None:
    _first, second = two_apps
    sdk = merchant_sdk(second, generation_pair(2).public_pem_spki)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def key_reads() -> list[str]:
        return [s for s in statements if "platform_key" in s or "merchant_apps" in s]

    platform.services["merchants"].forget(SWITCHED_APP_ID)
    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        sdk_call(client, sdk, "alipay.trade.query", {"out_trade_no": "first"})
        assert len(key_reads()) == 1  # the app, with its generation, read once
        statements.clear()
        sdk_call(client, sdk, "alipay.trade.query", {"out_trade_no": "second"})
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    assert key_reads() == []


# The portal ---------------------------------------------------------------------------------


def test_the_merchant_switches_to_the_new_key_in_the_portal_once_confirmed(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    assert sign_in(client, shop.merchant.id).status_code == 303
    page = client.get("/merchant/keys").text
    assert "switch-platform-key" not in page
    new_generation(platform)
    page = client.get("/merchant/keys").text
    newer = generation_pair(2).public_pem_spki
    assert 'class="newer-platform-key" data-generation="2"' in page
    assert newer.strip().splitlines()[1] in page
    action = f"/merchant/keys/{APP_ID}/platform-key"
    unconfirmed = post_form(client, "/merchant/keys", action, {"generation": "2"})
    assert unconfirmed.status_code == 400
    assert 'data-code="platform_key_not_confirmed"' in unconfirmed.text
    stale = post_form(client, "/merchant/keys", action, {"generation": "3", "confirm": "1"})
    assert stale.status_code == 409 and 'data-code="platform_key_not_newest"' in stale.text
    assert platform.services["merchants"].app(APP_ID).platform_key_generation == 1
    done = post_form(client, "/merchant/keys", action, {"generation": "2", "confirm": "1"})
    assert done.status_code == 303
    assert platform.services["merchants"].app(APP_ID).platform_key_generation == 2
    [row] = audit_rows(platform, "platform_key.switch")
    assert row.actor == f"merchant:{shop.merchant.id}"
    page = client.get(done.headers["location"]).text
    assert 'class="key platform-public-key" data-generation="2"' in page
    assert "switch-platform-key" not in page


def test_a_merchant_cannot_switch_another_merchants_app(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    make_shop(platform, app_id=SWITCHED_APP_ID)
    new_generation(platform)
    sign_in(client, shop.merchant.id)
    answer = post_form(
        client,
        "/merchant/keys",
        f"/merchant/keys/{SWITCHED_APP_ID}/platform-key",
        {"generation": "2", "confirm": "1"},
    )
    assert answer.status_code == 404
    assert platform.services["merchants"].app(SWITCHED_APP_ID).platform_key_generation == 1


# The CLI ------------------------------------------------------------------------------------


@pytest.fixture
def env(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = platform.settings
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


def keys_cli(*args: str) -> Any:
    return runner.invoke(app, ["keys", *args])


def test_keys_cli_rotates_an_app_and_retires_the_old_generation(
    env: Settings, platform: Platform
) -> None:
    make_shop(platform)
    first_pem = platform.services["platform_key"].public_pem
    assert keys_cli("show").stdout == first_pem  # one generation: as before rotation existed
    from tests.integration.platform_key_support import place_generation

    place_generation(env.data_dir, 2)
    created = keys_cli("new", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) == {
        "generation": 2,
        "public_key": generation_pair(2).public_pem_spki,
    }
    assert keys_cli("show").stdout == generation_pair(2).public_pem_spki
    assert keys_cli("show", "--generation", "1").stdout == first_pem
    assert keys_cli("show", "--app-id", APP_ID).stdout == first_pem
    refused = keys_cli("retire", "1")
    assert refused.exit_code == 1 and "error: platform_key_in_use:" in refused.output
    moved = keys_cli("switch", "--app-id", APP_ID, "--generation", "2")
    assert moved.exit_code == 0 and "generation 1 -> 2" in moved.stdout
    assert keys_cli("show", "--app-id", APP_ID).stdout == generation_pair(2).public_pem_spki
    assert keys_cli("retire", "1").exit_code == 0
    listed = json.loads(keys_cli("list", "--json").stdout)["generations"]
    assert [(g["generation"], g["state"], g["apps"]) for g in listed] == [
        (1, "retired", 0),
        (2, "active", 1),
    ]
    human = keys_cli("list").stdout.splitlines()
    assert human[1].split()[:3] == ["1", "retired", "0"]
    back = keys_cli("switch", "--app-id", APP_ID, "--generation", "1")
    assert back.exit_code == 1 and "error: platform_key_retired:" in back.output
    missing = keys_cli("show", "--generation", "9")
    assert missing.exit_code == 1 and "platform_key_not_found" in missing.output


# Backups and preflight ----------------------------------------------------------------------


def test_a_backup_with_keys_carries_every_generation(
    env: Settings,
    platform: Platform,
    tmp_path: Path,
    empty_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    make_shop(platform)
    new_generation(platform)
    platform.services["platform_keys"].switch(APP_ID, 2)
    path = tmp_path / "b.tar"
    done = runner.invoke(app, ["db", "backup", "--to", str(path), "--with-keys"])
    assert done.exit_code == 0, done.output
    keys_to = tmp_path / "new-data"
    args = ["db", "restore", str(path), "--database-url", empty_url, "--yes", "--json"]
    restored = runner.invoke(app, [*args, "--keys-to", str(keys_to)])
    assert restored.exit_code == 0, restored.output
    written = set(json.loads(restored.stdout)["keys_written"])
    assert {"platform_rsa_private.2.pem", "platform_rsa_public.2.pem"} <= written
    for name in ("platform_rsa_private.pem", "platform_rsa_private.2.pem"):
        assert (keys_to / name).read_bytes() == (env.data_dir / name).read_bytes()
        assert (keys_to / name).stat().st_mode & 0o777 == 0o600
    again = build_platform(
        Settings(database_url=empty_url, sandbox=True, data_dir=keys_to, run_worker_in_server=False)
    )
    try:
        keys = again.services["platform_keys"]
        app_keys = keys.keys_of(again.services["merchants"].app(APP_ID))
        assert (app_keys.generation, app_keys.public_pem) == (2, generation_pair(2).public_pem_spki)
    finally:
        again.close()


def test_preflight_checks_every_generations_private_key(platform: Platform) -> None:
    new_generation(platform)
    data_dir = platform.settings.data_dir
    names = {path.name for path in LocalIO().key_files(data_dir)}
    assert {"platform_rsa_private.pem", "platform_rsa_private.2.pem"} <= names
    assert not {"platform_rsa_public.pem", "platform_rsa_public.2.pem"} & names
