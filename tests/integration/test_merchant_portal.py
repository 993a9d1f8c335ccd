"""Merchant portal: sign-in (lockout, redirects), sign-up (key shown once), the frame and nav."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from tests.integration.admin_support import csrf_of
from tests.integration.merchant_portal_support import MERCHANT_PASSWORD, portal_shop, sign_in
from typer.testing import CliRunner

from paybao.adapters.alipay.keys import load_private_key
from paybao.bootstrap import Platform
from paybao.cli import app
from paybao.settings import Settings
from paybao.web import pages_merchant


def test_pages_need_sign_in_and_come_back_after_it(platform: Platform, client: TestClient) -> None:
    shop = portal_shop(platform)
    answer = client.get("/merchant?view=A1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/merchant/login?next=/merchant%3Fview%3DA1"
    page = client.get(answer.headers["location"])
    signed = client.post(
        answer.headers["location"],
        data={
            "csrf_token": csrf_of(page.text),
            "merchant_id": str(shop.merchant.id),
            "password": MERCHANT_PASSWORD,
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/merchant?view=A1"


def test_home_shows_the_merchant_and_every_registered_nav_entry(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    assert sign_in(client, shop.merchant.id).status_code == 303
    home = client.get("/merchant", headers={"Accept-Language": "en"})
    assert home.status_code == 200
    assert f'id="merchant-id">{shop.merchant.id}<' in home.text
    assert shop.app.app_id in home.text
    for _label, href in pages_merchant.MERCHANT_NAV:
        assert f'href="{href}"' in home.text
    assert "Trades" in home.text
    assert "交易" in client.get("/merchant", headers={"Accept-Language": "zh-CN"}).text


def test_wrong_password_is_refused_and_five_lock_the_sign_in(
    platform: Platform, client: TestClient
) -> None:
    shop = portal_shop(platform)
    unknown = sign_in(client, 999_999)
    assert unknown.status_code == 401
    assert 'data-code="bad_credentials"' in unknown.text
    for _ in range(5):
        assert sign_in(client, shop.merchant.id, "wrong-pass-1").status_code == 401
    locked = sign_in(client, shop.merchant.id)
    assert locked.status_code == 429
    assert 'data-code="login_locked"' in locked.text


def test_sign_in_form_refuses_a_missing_csrf_token(platform: Platform, client: TestClient) -> None:
    shop = portal_shop(platform)
    client.get("/merchant/login")
    answer = client.post(
        "/merchant/login",
        data={"merchant_id": str(shop.merchant.id), "password": MERCHANT_PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "paybao_merchant" not in answer.cookies


def test_logout_ends_the_session(platform: Platform, client: TestClient) -> None:
    shop = portal_shop(platform)
    sign_in(client, shop.merchant.id)
    home = client.get("/merchant")
    out = client.post(
        "/merchant/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert client.get("/merchant", follow_redirects=False).status_code == 303


def test_sign_up_creates_merchant_app_and_password_and_shows_the_key_once(
    platform: Platform, client: TestClient
) -> None:
    page = client.get("/merchant/signup")
    answer = client.post(
        "/merchant/signup",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "小面馆",
            "contact": "boss@noodles.example",
            "notify_url": "https://shop.example/notify",
            "password": "noodles-2024",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    merchant_id = int(re.search(r'id="new-merchant-id">(\d+)<', answer.text).group(1))  # type: ignore[union-attr]
    app_id = re.search(r'id="new-app-id">(\d{16})<', answer.text).group(1)  # type: ignore[union-attr]
    private_pem = re.search(r'id="app-private-key">([^<]+)</pre>', answer.text).group(1)  # type: ignore[union-attr]
    assert "BEGIN RSA PRIVATE KEY" in private_pem
    load_private_key(private_pem)
    merchant = platform.services["merchants"].merchant(merchant_id)
    assert (merchant.name, merchant.notify_url) == ("小面馆", "https://shop.example/notify")
    assert platform.services["merchants"].app(app_id).merchant_id == merchant_id
    # Signed in already, and the key is not shown again anywhere.
    home = client.get("/merchant")
    assert home.status_code == 200 and "PRIVATE KEY" not in home.text
    client.cookies.clear()
    assert sign_in(client, merchant_id, "noodles-2024").status_code == 303


def test_sign_up_refuses_a_weak_password_and_a_bad_url_keeping_the_form(
    platform: Platform, client: TestClient
) -> None:
    page = client.get("/merchant/signup")
    token = csrf_of(page.text)
    weak = client.post(
        "/merchant/signup", data={"csrf_token": token, "name": "A", "password": "short"}
    )
    assert weak.status_code == 400 and 'data-code="invalid_merchant_password"' in weak.text
    bad_url = client.post(
        "/merchant/signup",
        data={
            "csrf_token": token,
            "name": "面馆",
            "contact": "13800138000",
            "notify_url": "ftp://x",
            "password": "goodpass1",
        },
    )
    assert bad_url.status_code == 400 and 'data-code="invalid_url"' in bad_url.text
    assert 'value="面馆"' in bad_url.text


def test_cli_set_password_lets_a_cli_made_merchant_sign_in(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    created = runner.invoke(app, ["merchant", "create", "--name", "CLI shop", "--json"])
    assert created.exit_code == 0, created.output
    merchant_id = json.loads(created.output)["merchant_id"]
    weak = runner.invoke(
        app, ["merchant", "set-password", "--merchant-id", str(merchant_id), "--password", "x"]
    )
    assert weak.exit_code != 0
    done = runner.invoke(
        app,
        ["merchant", "set-password", "--merchant-id", str(merchant_id)],
        input="cli-pass-2024\ncli-pass-2024\n",
    )
    assert done.exit_code == 0, done.output
    assert sign_in(client, merchant_id, "cli-pass-2024").status_code == 303
