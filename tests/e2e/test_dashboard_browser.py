"""A viewer reads the dashboard in Chromium, in Chinese: a week holding the known rows of
dashboard_support and the day before them (the bars of the four paid days, the totals of each
section, the fraud-loss definition), on a desktop screen and on a phone (the tables scroll
inside the page). Screenshots: test-artifacts/dashboard-*.png."""

from __future__ import annotations

import pytest
from tests.e2e.browser_support import PHONE_SCREEN, Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_PASSWORD, totp_now
from tests.integration.dashboard_support import NOW_US, seed

from paybao.adapters.db.dashboard_queries import SqlDashboardQueries
from paybao.bootstrap import Platform
from paybao.services.clock import ManualClock
from paybao.services.dashboard import DashboardService

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app
shot = Shots("dashboard")
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_a_viewer_reads_a_week_of_the_dashboard(platform: Platform, server: str) -> None:
    from playwright.sync_api import sync_playwright

    seed(platform.engine)
    # Read at the seed's 'now' (2026-05-10 12:00 Beijing): the sandbox clock only goes forward.
    platform.services["dashboard"] = DashboardService(
        platform.db, SqlDashboardQueries(), ManualClock(NOW_US)
    )
    operators = platform.services["operators"]
    operators.create("ops.root", OPERATOR_PASSWORD)
    secret = operators.create("ops.view", OPERATOR_PASSWORD, "viewer").totp_secret
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{server}/admin/dashboard?days=7")
        page.fill("input[name=name]", "ops.view")
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(str(secret)))
        click_through(page, "#submit")
        assert page.url.endswith("/admin/dashboard?days=7")
        assert page.locator("h1").inner_text() == "经营看板"

        bars = page.locator("#chart rect.bar")
        assert bars.count() == 7
        heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(7)]
        # 05-07 (999.00 at 23:59:59, before the 3-day window of the service tests) is the
        # highest day; the others in proportion, rounded down
        assert heights == [0, 0, 0, 160, 12000 * 160 // 99900, 14500 * 160 // 99900, 1]

        total = page.locator("#payments tr[data-day=total]")
        assert total.locator("[data-key=all]").inner_text() == "10 · 1271.00"
        assert "担保交易" in page.locator("#payments thead").inner_text()
        assert page.locator("#activity tr[data-day=total] [data-key=payers]").inner_text() == "7"
        refund_rate = page.locator("#refunds tr[data-day=total] [data-key=refund_rate]")
        assert refund_rate.inner_text() == "3.23%"  # 41.00 / 1271.00
        fraud_rate = page.locator("#risk tr[data-day=total] [data-key=fraud_loss_rate]")
        assert fraud_rate.inner_text() == "0.79%"  # 10.00 / 1271.00
        assert "不记录拒付" in page.locator("#fraud-definition").inner_text()
        assert page.locator("#coupons tr[data-day=total] [data-key=subsidy]").inner_text() == (
            "6.75"
        )
        shot(page, "week")

        page.set_viewport_size(PHONE_SCREEN)
        page.reload()
        fits_phone(page)
        shot(page, "phone")
        browser.close()
