"""The portal's AES key page on a phone in Chromium: from the keys page to the app's AES page,
set a key (shown as the SDKs take it), reset it only with the confirmation box ticked (the
browser refuses the form without it), and the new key is shown. Screenshots:
test-artifacts/aes-key-*.png."""

from __future__ import annotations

import base64

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

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("aes-key")
__all__ = ["server"]  # the fixture that serves the app


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_a_merchant_sets_and_resets_the_aes_key_on_a_phone(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    shop = portal_shop(platform)
    keys = platform.services["app_aes_keys"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        merchant_sign_in(page, server, shop.merchant.id)

        page.goto(f"{server}/merchant/keys")
        click_through(page, ".manage-aes-key")
        assert page.locator("#no-aes-key").count() == 1
        fits_phone(page)
        _shot(page, "1-none")

        click_through(page, ".set-aes-key button")
        assert page.inner_text(".notice") == "AES密钥已设置"
        first = page.inner_text(".aes-key-text").strip()
        assert first == keys.show(shop.app.app_id) and len(base64.b64decode(first)) == 16
        fits_phone(page)
        _shot(page, "2-set")

        page.click(".reset-aes-key button")  # not confirmed: the browser keeps the form
        assert page.evaluate("document.querySelector('.reset-aes-key').checkValidity()") is False
        assert keys.show(shop.app.app_id) == first

        page.check(".reset-aes-key input[name=confirm]")
        click_through(page, ".reset-aes-key button")
        assert page.inner_text(".notice") == "AES密钥已重置"
        second = page.inner_text(".aes-key-text").strip()
        assert second != first and second == keys.show(shop.app.app_id)
        fits_phone(page)
        _shot(page, "3-reset")
        browser.close()
