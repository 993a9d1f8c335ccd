"""The portal keys page on a phone in Chromium, once the platform has a new key: the app's
current platform key and the new one are shown, the switch needs its confirmation box ticked
(the browser refuses the form without it), and afterwards the page shows the new key as the
app's. Screenshots: test-artifacts/platform-key-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import (
    PHONE_SCREEN,
    Shots,
    click_through,
    fits_phone,
    merchant_sign_in,
)
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.merchant_portal_support import portal_shop
from tests.integration.platform_key_support import generation_pair, new_generation

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("platform-key")
__all__ = ["server"]  # the fixture that serves the app


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_a_merchant_switches_to_the_new_platform_key_on_a_phone(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    shop = portal_shop(platform)
    new_generation(platform)
    newer_line = generation_pair(2).public_pem_spki.splitlines()[1]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        merchant_sign_in(page, server, shop.merchant.id)

        page.goto(f"{server}/merchant/keys")
        assert page.inner_text(".platform-key-generation") == "1"
        assert newer_line in page.inner_text(".newer-platform-public-key")
        fits_phone(page)
        _shot(page, "1-offered")

        page.click(".switch-platform-key button")  # not confirmed: the browser keeps the form
        assert (
            page.evaluate("document.querySelector('.switch-platform-key').checkValidity()") is False
        )
        assert platform.services["merchants"].app(shop.app.app_id).platform_key_generation == 1

        page.check(".switch-platform-key input[name=confirm]")
        click_through(page, ".switch-platform-key button")
        assert page.inner_text(".notice") == "已切换到新平台密钥"
        assert page.inner_text(".platform-key-generation") == "2"
        assert newer_line in page.inner_text(".platform-public-key")
        assert page.locator(".newer-platform-key").count() == 0
        fits_phone(page)
        _shot(page, "2-switched")
        browser.close()
    assert platform.services["merchants"].app(shop.app.app_id).platform_key_generation == 2
