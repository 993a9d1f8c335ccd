"""忘记密码 in Chromium on a phone-sized screen: the demo user, on the sign-in page, follows
"忘记密码?", gets a code (read from the sandbox SMS inbox), types it with the ID number and a
new login password, lands back on the sign-in page with a notice, and signs in with the new
password. Screenshots: test-artifacts/password-reset-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import PHONE_SCREEN as PHONE
from tests.e2e.browser_support import Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, latest_code, server

from paybao.bootstrap import Platform
from paybao.wiring.wallet_demo import DEMO_LOGIN_PASSWORD, DEMO_PHONE

pytestmark = pytest.mark.browser
_shot = Shots("password-reset")
__all__ = ["server"]  # the fixture that serves the app
NEW = "newDemo2468"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_the_login_password_is_reset_from_the_sign_in_page(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    user = platform.services["users"].find_by_phone(DEMO_PHONE)
    id_number = platform.services["users"].record(user.id).id_number
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, locale="zh-CN")
        page, inbox = context.new_page(), context.new_page()
        page.goto(f"{server}/login")
        click_through(page, "a[href='/password-reset']")
        fits_phone(page)
        page.fill("input[name=phone]", DEMO_PHONE)
        click_through(page, "#submit")
        assert "138****0000" in page.inner_text(".note")
        _shot(page, "code")
        fits_phone(page)

        page.fill("input[name=sms_code]", latest_code(inbox, server, DEMO_PHONE))
        page.fill("input[name=new_login_password]", NEW)
        click_through(page, "#submit", error_expected=True)  # verified: the ID number too
        assert page.locator(".error").get_attribute("data-code") == "reset_proof_wrong"
        page.fill("input[name=sms_code]", latest_code(inbox, server, DEMO_PHONE))
        page.fill("input[name=id_number]", id_number)
        page.fill("input[name=new_login_password]", NEW)
        click_through(page, "#submit")
        assert page.url.endswith("/login?done=password_reset")
        assert "登录密码已重置" in page.inner_text(".notice")
        _shot(page, "done")

        page.fill("input[name=phone]", DEMO_PHONE)
        page.fill("input[name=password]", DEMO_LOGIN_PASSWORD)
        click_through(page, "#submit", error_expected=True)
        assert page.locator(".error").get_attribute("data-code") == "bad_credentials"
        page.fill("input[name=phone]", DEMO_PHONE)
        page.fill("input[name=password]", NEW)
        click_through(page, "#submit")
        assert page.url.endswith("/wallet")
        browser.close()
