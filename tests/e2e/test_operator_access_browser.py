"""In Chromium, on a phone-sized screen: an admin mints a personal API token (shown once), then
disables an operator who has left from the operators page; that operator's open session is
sent to the sign-in page at its next click, signing in again is refused, and the token no
longer works. Screenshots: test-artifacts/admin-operator-*.png."""

from __future__ import annotations

import httpx
import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_PASSWORD, totp_now
from tests.integration.operator_access_support import undelivered_notification

from paybao.bootstrap import Platform
from paybao.services.operators import NewOperator

pytestmark = pytest.mark.browser
__all__ = ["server"]

ADMIN = "ops.admin"
LEAVER = "ops.leaver"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def operators(platform: Platform) -> tuple[NewOperator, NewOperator]:
    service = platform.services["operators"]
    admin = service.create(ADMIN, OPERATOR_PASSWORD, "admin")
    return admin, service.create(LEAVER, OPERATOR_PASSWORD, "support")


def sign_in(page, base: str, operator: NewOperator, steps_ahead: int = 0) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", operator.name)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.fill("input[name=totp]", totp_now(operator.totp_secret, steps_ahead))
    with page.expect_navigation():
        page.click("#submit")


def api_status(base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{base}/api/v1/admin/me", headers=headers, timeout=10).status_code


def fits_the_phone(page) -> bool:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_an_admin_disables_an_operator_who_left_from_the_page(
    operators: tuple[NewOperator, NewOperator], platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    admin, leaver = operators
    notify_id = undelivered_notification(platform)
    token = platform.services["operator_tokens"].create(leaver.id, leaver.id, "laptop").token
    assert api_status(server, token) == 200
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        theirs = browser.new_context(viewport=PHONE, locale="en-US").new_page()
        sign_in(theirs, server, leaver)
        assert theirs.url.endswith("/admin")
        page = browser.new_context(viewport=PHONE, locale="en-US").new_page()
        sign_in(page, server, admin, steps_ahead=1)

        # A personal token of one's own: shown once, then only its name and dates.
        page.click("nav.admin-nav >> text=My API tokens")
        page.wait_for_url("**/admin/tokens")
        page.fill("#token-name", "grafana")
        page.select_option("#token-expiry", "30")
        with page.expect_navigation():
            page.click("#token-submit")
        minted = page.locator("#new-token").inner_text()
        assert minted.startswith("pbo_") and len(minted) == 47
        assert page.locator("tr.token").get_attribute("data-state") == "live"
        assert fits_the_phone(page)
        page.screenshot(path=str(ARTIFACTS / "admin-operator-token.png"), full_page=True)
        page.reload()
        assert page.locator("#new-token").count() == 0

        page.click("nav.admin-nav >> text=Operators")
        page.wait_for_url("**/admin/operators")
        row = page.locator(f"tr.operator[data-operator-id='{leaver.id}']")
        assert row.get_attribute("data-status") == "enabled"
        # No button to disable oneself.
        own = page.locator(f"tr.operator[data-operator-id='{admin.id}'] .disable-form")
        assert own.count() == 0
        row.locator("input[name=reason]").fill("left the company")
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            row.locator(".disable-form button").click()

        assert page.locator(".notice").inner_text().startswith("Disabled")
        assert row.get_attribute("data-status") == "disabled"
        assert row.locator(".enable-form").count() == 1
        assert fits_the_phone(page)
        page.screenshot(path=str(ARTIFACTS / "admin-operator-disabled.png"), full_page=True)

        # Their open session ends at the next click; signing in again is refused.
        theirs.click("nav.admin-nav >> text=Users")
        theirs.wait_for_url("**/admin/login**")
        sign_in(theirs, server, leaver, steps_ahead=1)
        assert theirs.locator(".error").get_attribute("data-code") == "operator_disabled"
        theirs.screenshot(path=str(ARTIFACTS / "admin-operator-refused.png"), full_page=True)
        assert api_status(server, token) == 401

        page.click("nav.admin-nav >> text=Audit log")
        page.wait_for_url("**/admin/audit")
        actions = page.locator("tr.audit").evaluate_all(
            "rows => rows.map(r => [r.dataset.action, r.dataset.outcome])"
        )
        assert actions[:2] == [
            ["operator.sign_in", "operator_disabled"],
            ["operator.disable", "ok"],
        ]
        assert "left the company" in page.locator("tr.audit").nth(1).inner_text()

        # A merchant's notification that never got through: resent from its page.
        page.click("nav.admin-nav >> text=Notifications")
        page.wait_for_url("**/admin/notifications")
        page.select_option("#status", "pending")
        with page.expect_navigation():
            page.click("#filter")
        with page.expect_navigation():
            page.locator(f"tr.notification[data-notify-id='{notify_id}'] a").first.click()
        with page.expect_navigation():
            page.click("#resend")
        assert page.locator(".notice").inner_text().startswith("One more delivery")
        assert page.locator("tr.audit").first.get_attribute("data-action") == "notify.resend"
        page.screenshot(path=str(ARTIFACTS / "admin-operator-resend.png"), full_page=True)
        assert fits_the_phone(page)
        browser.close()
