"""A new login password ends the user's wallet sessions on every other device: a change on
the security page (the browser that made it stays signed in) and a reset (忘记密码). The
cookie path of the wallet REST API is refused as the pages are. Signing in again right after,
within the same second, gives a session that counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.admin_support import wallet_browser
from tests.integration.test_password_resets_pages import NEW, id_number_of
from tests.integration.test_wallet_pages_security import LOGIN_PASSWORD, hidden_of
from tests.integration.test_wallet_rules import code_for, open_user

from paybao.bootstrap import Platform

PHONE = "13911113001"


def _signed_in(browser: TestClient) -> bool:
    page = browser.get("/wallet", follow_redirects=False)
    api = browser.get("/api/v1/wallet/me")
    assert (page.status_code == 200) == (api.status_code == 200), (page, api)
    return page.status_code == 200


def test_a_changed_login_password_signs_out_the_other_devices(
    platform: Platform, client: TestClient
) -> None:
    open_user(platform, PHONE)
    phone_app = wallet_browser(client, PHONE, LOGIN_PASSWORD)
    laptop = wallet_browser(client, PHONE, LOGIN_PASSWORD)
    assert _signed_in(phone_app) and _signed_in(laptop)

    html = laptop.get("/wallet/security").text
    assert 'href="/wallet/authorized-apps"' in html  # the apps this user logged in to
    fields = {**hidden_of(html, "login-password"), "old_password": LOGIN_PASSWORD}
    fields["new_password"] = NEW
    changed = laptop.post("/wallet/security/login-password", data=fields, follow_redirects=False)
    assert changed.status_code == 303

    assert _signed_in(laptop)  # the browser that changed it signs in again at once
    assert not _signed_in(phone_app)
    assert phone_app.get("/wallet", follow_redirects=False).headers["location"].startswith("/login")
    assert _signed_in(wallet_browser(client, PHONE, NEW))


def test_a_reset_login_password_signs_out_every_device(
    platform: Platform, client: TestClient
) -> None:
    user_id, _ = open_user(platform, PHONE)
    stolen = wallet_browser(client, PHONE, LOGIN_PASSWORD)
    assert _signed_in(stolen)
    resets = platform.services["password_resets"]
    resets.request_login_reset(PHONE)
    resets.confirm_login_reset(
        PHONE, code_for(platform, PHONE), id_number_of(platform, user_id), NEW
    )
    assert not _signed_in(stolen)
    assert _signed_in(wallet_browser(client, PHONE, NEW))  # within the same second, too


def test_sessions_of_other_users_and_without_a_change_are_untouched(
    platform: Platform, client: TestClient
) -> None:
    open_user(platform, PHONE)
    open_user(platform, "13911113002")
    mine = wallet_browser(client, PHONE, LOGIN_PASSWORD)
    theirs = wallet_browser(client, "13911113002", LOGIN_PASSWORD)
    html = mine.get("/wallet/security").text
    fields = {**hidden_of(html, "login-password"), "old_password": LOGIN_PASSWORD}
    fields["new_password"] = NEW
    mine.post("/wallet/security/login-password", data=fields, follow_redirects=False)
    assert _signed_in(theirs) and _signed_in(mine)
