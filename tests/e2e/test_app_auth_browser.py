"""Third-party app authorisation in Chromium on a phone-sized screen: an ISV's site sends the
merchant to /oauth2/appToAppAuth.htm, which names the ISV; the merchant signs in to the portal
there, sees its app picked, agrees, and lands back on the ISV's redirect_uri with a one-time
app_auth_code, which the ISV trades for a token. In the portal the merchant finds the ISV under
第三方应用授权 and revokes it. Screenshots: test-artifacts/app-auth-*.png."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as VIEWPORT
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.gateway_support import app_keys, other_keys

from paybao.bootstrap import Platform
from paybao.domain.errors import DomainError
from paybao.services.merchants import NewMerchant

pytestmark = pytest.mark.browser
_shot = Shots("app-auth")

__all__ = ["server"]  # the fixture that serves the app
ISV_APP = "2021000000007001"
SHOP_APP = "2021000000007101"
PASSWORD = "shop-pass-2024"


def _click(page: Any, selector: str) -> None:
    click_through(page, selector, error_expected=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_authorise_an_isv_then_revoke_it_in_the_portal(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    merchants = platform.services["merchants"]
    # The ISV's callbacks live on its notify_url's origin: here, the test server itself.
    merchants.create(
        NewMerchant(name="收银云服务商", notify_url=f"{server}/notify", app_id=ISV_APP),
        other_keys().public_pem_spki,
    )
    shop, _app = merchants.create(
        NewMerchant(name="街角咖啡", app_id=SHOP_APP), app_keys().public_pem_spki
    )
    platform.services["merchant_accounts"].set_password(shop.id, PASSWORD)
    back_to = f"{server}/api/v1/status"
    query = {"app_id": ISV_APP, "redirect_uri": back_to, "state": "pos-1"}
    authorize_url = f"{server}/oauth2/appToAppAuth.htm?{urllib.parse.urlencode(query)}"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()

        page.goto(authorize_url)
        assert page.inner_text("#consent h2") == "收银云服务商"
        page.fill("#login input[name=merchant_id]", str(shop.id))
        page.fill("#login input[name=password]", PASSWORD)
        _click(page, "#login button")
        assert page.locator("#agree").is_visible()
        assert page.locator(f"input[name=auth_app_id][value='{SHOP_APP}']").is_checked()
        fits_phone(page)
        _shot(page, "1-consent")

        _click(page, "#agree")
        assert page.url.startswith(back_to + "?"), page.url
        back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        assert (back["app_id"], back["source"], back["state"]) == (
            ISV_APP,
            "alipay_app_auth",
            "pos-1",
        )
        service = platform.services["app_auth"]
        issued = service.exchange_code(ISV_APP, back["app_auth_code"])
        assert issued.auth_app_id == SHOP_APP

        page.goto(f"{server}/merchant/app-auths")
        row = page.locator(f"section.app-auth[data-isv-app-id='{ISV_APP}']")
        assert "收银云服务商" in row.inner_text() and SHOP_APP in row.inner_text()
        fits_phone(page)
        _shot(page, "2-list")
        _click(page, f"section.app-auth[data-isv-app-id='{ISV_APP}'] button.revoke")
        assert page.url.endswith("/merchant/app-auths?done=revoked")
        assert page.locator("#no-app-auths").is_visible()
        _shot(page, "3-revoked")
        browser.close()

    with pytest.raises(DomainError) as refused:  # the token died with the authorisation
        service.holder(ISV_APP, issued.app_auth_token)
    assert refused.value.code == "app_auth_token_invalid"
