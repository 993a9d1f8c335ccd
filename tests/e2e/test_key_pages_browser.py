"""The portal's newer key pages on a phone in Chromium: certificate mode's list of an app's
certificates (long SNs and file names), the AES key page and the membership-card templates all
fit a phone's width. Screenshots: test-artifacts/key-pages-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import (
    PHONE_SCREEN,
    Shots,
    fits_phone,
    merchant_sign_in,
)
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.merchant_portal_support import portal_shop

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
_shot = Shots("key-pages")
__all__ = ["server"]  # the fixture that serves the app


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_certificates_aes_and_card_pages_fit_a_phone(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    shop = portal_shop(platform)
    app_id = shop.app.app_id
    certificates = platform.services["app_certificates"]
    first = certificates.ensure(app_id, actor="test")
    certificates.issue(app_id, actor="test")  # two rows, one SN each
    platform.services["app_aes_keys"].set(app_id, actor="test")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        merchant_sign_in(page, server, shop.merchant.id)

        for number, path in enumerate(
            (
                f"/merchant/keys/{app_id}/certs",
                f"/merchant/keys/{app_id}/aes",
                "/merchant/member-cards",
            ),
            start=1,
        ):
            page.goto(f"{server}{path}")
            assert page.url.endswith(path), page.url
            fits_phone(page)
            _shot(page, f"{number}")
        page.goto(f"{server}/merchant/keys/{app_id}/certs")
        assert first.sn in page.inner_text("body")
        browser.close()
