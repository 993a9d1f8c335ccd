"""An operator signs in to the admin console in Chromium with password + TOTP, finds the demo
user by phone, freezes the account with a reason and sees the entry in the audit log, on a
phone-sized screen. Screenshots: test-artifacts/admin-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_NAME, OPERATOR_PASSWORD, totp_now

from paybao.bootstrap import Platform
from paybao.wiring.wallet_demo import DEMO_PHONE

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app with the demo data


@pytest.fixture
def operator_secret(platform: Platform) -> str:
    return str(platform.services["operators"].create(OPERATOR_NAME, OPERATOR_PASSWORD).totp_secret)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_operator_signs_in_with_totp_freezes_demo_user_and_sees_audit(
    operator_secret: str, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page = context.new_page()
        page.goto(f"{server}/admin/users")
        assert "/admin/login" in page.url  # no session yet: the sign-in page, keeping the target
        page.fill("input[name=name]", OPERATOR_NAME)
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(operator_secret))
        with page.expect_navigation():
            page.click("#submit")
        assert page.url.endswith("/admin/users")

        page.fill("#q", DEMO_PHONE)
        with page.expect_navigation():
            page.click("#search")
        rows = page.locator("tr.user")
        assert rows.count() == 1
        assert "138****0000" in rows.first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "admin-users.png"), full_page=True)
        with page.expect_navigation():
            rows.first.locator("a").first.click()
        assert page.locator("#user-status").get_attribute("data-status") == "active"

        page.fill("#reason", "customer reported a stolen phone")
        with page.expect_navigation():
            page.click("#status-submit")
        assert page.locator("#user-status").get_attribute("data-status") == "frozen"
        assert page.locator(".notice").inner_text() == "Account frozen"
        page.screenshot(path=str(ARTIFACTS / "admin-user-frozen.png"), full_page=True)

        page.click("nav.admin-nav >> text=Audit log")
        page.wait_for_url("**/admin/audit")
        latest = page.locator("tr.audit").first
        assert latest.get_attribute("data-action") == "user.freeze"
        assert OPERATOR_NAME in latest.inner_text()
        assert "customer reported a stolen phone" in latest.inner_text()
        # The page fits a phone: nothing but the tables' own scrollers is wider than the screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        page.screenshot(path=str(ARTIFACTS / "admin-audit.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_operator_asks_the_bank_again_about_a_payout_waiting_for_its_answer(
    platform: Platform, operator_secret: str, server: str
) -> None:
    from playwright.sync_api import sync_playwright
    from tests.integration.test_admin_payouts import sent_card_payout

    payout_id = sent_card_payout(platform)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page = context.new_page()
        page.goto(f"{server}/admin/payouts")
        page.fill("input[name=name]", OPERATOR_NAME)
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(operator_secret))
        with page.expect_navigation():
            page.click("#submit")
        page.click("#payout-kinds >> [data-kind=cardpayout]")
        page.wait_for_url("**/admin/payouts?kind=cardpayout*")
        row = page.locator(f"tr.payout[data-payout-id='{payout_id}']")
        assert row.get_attribute("data-status") == "sent"
        sent = page.locator("#in-flight li[data-kind=cardpayout] [data-status=sent]")
        assert sent.get_attribute("data-count") == "1"
        page.screenshot(path=str(ARTIFACTS / "admin-payouts.png"), full_page=True)
        with page.expect_navigation():
            row.locator("button.ask-bank").click()
        assert page.locator("#asked").count() == 1
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            " > 390 && !e.closest('.scroll')).map(e => e.tagName + '#' + e.id + '.' + e.className)"
        )
        assert wide == [], wide
        browser.close()
    assert platform.services["payout_watch"].page("cardpayout", "sent")[0].query.attempts == 0
