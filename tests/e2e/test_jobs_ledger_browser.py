"""An operator, on a phone-sized screen in Chromium, finds a job that gave up on /admin/jobs,
retries it and sees it leave the list; then reads the demo wallet's balance as of a minute ago
and as of now in the ledger explorer. Screenshots: test-artifacts/admin-jobs-*.png,
admin-ledger-as-of.png."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tests.e2e.test_admin_browser import operator_secret
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_NAME, OPERATOR_PASSWORD, totp_now
from tests.integration.job_admin_support import LAST_ERROR, dead_job

from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.services.clock import datetime_from_us
from paybao.wiring.wallet_demo import DEMO_PHONE

pytestmark = pytest.mark.browser
__all__ = ["operator_secret", "server"]
PHONE_WIDTH_PX = 390


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_operator_retries_a_dead_job_and_reads_a_balance_as_of_an_instant(
    platform: Platform, operator_secret: str, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    job_id = dead_job(platform, "partner-42", kind="test.browser_flaky")
    wallet_id = platform.services["users"].find_by_phone(DEMO_PHONE).wallet_account_id
    balance_now_fen = platform.ledger.balance(wallet_id).balance_fen
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        viewport = {"width": PHONE_WIDTH_PX, "height": 844}
        context = browser.new_context(viewport=viewport, locale="en-US")
        page = context.new_page()
        page.goto(f"{server}/admin/jobs")
        page.fill("input[name=name]", OPERATOR_NAME)
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(operator_secret))
        with page.expect_navigation():
            page.click("#submit")
        assert page.url.endswith("/admin/jobs")

        row = page.locator(f"tr.dead-job[data-job-id='{job_id}']")
        assert row.locator(".last-error").inner_text() == LAST_ERROR
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH_PX
        page.screenshot(path=str(ARTIFACTS / "admin-jobs-1-dead.png"), full_page=True)
        with page.expect_navigation():
            row.locator("button.retry-job").click()
        assert page.locator("#retried").is_visible()
        assert page.locator(f"tr.dead-job[data-job-id='{job_id}']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "admin-jobs-2-retried.png"), full_page=True)

        now = datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ)

        def balance_as_of(moment: datetime) -> None:
            page.goto(f"{server}/admin/ledger")
            page.fill("input#account", str(wallet_id))
            page.fill("input#as-of", moment.strftime("%Y-%m-%dT%H:%M:%S"))
            with page.expect_navigation():
                page.click("form[role=search] button")

        balance_as_of(now + timedelta(minutes=1))  # the future: refused with its code
        error = page.locator("#balance-at-error")
        assert error.get_attribute("data-code") == "balance_at_in_future"
        balance_as_of(now)  # just before now (to the second): the demo's top-up is older
        balance = page.locator("#balance-at")
        assert int(balance.get_attribute("data-balance-fen") or "") == balance_now_fen
        page.screenshot(path=str(ARTIFACTS / "admin-ledger-as-of.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH_PX
        browser.close()
