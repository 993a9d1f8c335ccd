"""A support operator works the risk queue in Chromium on a phone-sized screen: a large transfer
to a new payee is held; the operator returns it to the payer, then blacklists the payee's
account, and the decision and the list show it. Screenshots: test-artifacts/admin-risk-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_NAME, OPERATOR_PASSWORD, totp_now
from tests.integration.risk_support import held_transfer

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
__all__ = ["server"]


@pytest.fixture
def operator_secret(platform: Platform) -> str:
    operators = platform.services["operators"]
    operators.create("ops.root", OPERATOR_PASSWORD)  # the first operator is the admin
    return str(operators.create(OPERATOR_NAME, OPERATOR_PASSWORD, "support").totp_secret)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_support_returns_a_held_transfer_and_blacklists_the_payee(
    platform: Platform, operator_secret: str, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    payer, payee, movement = held_transfer(platform)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page = context.new_page()
        page.goto(f"{server}/admin/risk")
        page.fill("input[name=name]", OPERATOR_NAME)
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(operator_secret))
        with page.expect_navigation():
            page.click("#submit")
        assert page.url.endswith("/admin/risk")

        held = page.locator("tr.held")
        assert held.count() == 1
        assert f"p2p:{movement.id}" in held.first.inner_text()
        assert "new_payee" in held.first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "admin-risk-queue.png"), full_page=True)
        with page.expect_navigation():
            held.first.locator("button.cancel").click()
        assert page.locator("#no-waiting").count() == 1
        assert "cancelled" in page.locator("tr.decision").first.inner_text()

        page.fill("#blacklist-phone", payee.phone)
        page.fill("#blacklist-reason", "payer reported a scam")
        with page.expect_navigation():
            page.click("#blacklist-add")
        row = page.locator("tr.blacklisted")
        assert row.count() == 1
        assert "139****9002" in row.first.inner_text()
        assert "payer reported a scam" in row.first.inner_text()
        # The page fits a phone: only the tables' own scrollers are wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "admin-risk-blacklist.png"), full_page=True)
        browser.close()

    wallet = platform.services["wallet"]
    assert wallet.movement("transfer", movement.id).status == "cancelled"
    assert wallet.balance(payer.user_id) == (7_000_00, 7_000_00)
