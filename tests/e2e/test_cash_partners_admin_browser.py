"""An operator runs the cash partners in Chromium on a phone-sized screen (390 px), in Chinese:
registers a bank branch (its API key shown once), records a prefund wire from the list, opens
the partner's page and records another there; the deposits are listed newest first and the
partner API sees the prefund. Screenshots: test-artifacts/cash-partners-*.png."""

from __future__ import annotations

import httpx
import pytest
from tests.e2e.browser_support import PHONE_SCREEN, Shots, click_through, fits_phone
from tests.e2e.test_wallet_browser import CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.admin_support import OPERATOR_NAME, OPERATOR_PASSWORD, totp_now

from paybao.bootstrap import Platform

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app
shot = Shots("cash-partners")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_an_operator_registers_a_partner_and_reads_its_deposits_in_chinese(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    secret = platform.services["operators"].create(OPERATOR_NAME, OPERATOR_PASSWORD).totp_secret
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE_SCREEN, locale="zh-CN").new_page()
        page.goto(f"{server}/admin/cash-partners")
        page.fill("input[name=name]", OPERATOR_NAME)
        page.fill("input[name=password]", OPERATOR_PASSWORD)
        page.fill("input[name=totp]", totp_now(str(secret)))
        click_through(page, "#submit")
        assert page.url.endswith("/admin/cash-partners")
        assert page.locator("h1").inner_text() == "现金充值合作方"

        page.fill("#register-partner input[name=name]", "建设银行 海淀支行")
        page.select_option("#register-partner select[name=kind]", "bank_branch")
        click_through(page, "#register-submit")
        key = page.locator("#new-key").inner_text()
        assert (
            key.startswith("pbc_") and "只显示这一次" in page.locator("#new-partner").inner_text()
        )
        row = page.locator("tr.partner").first
        assert "银行网点" in row.inner_text() and "启用" in row.inner_text()
        row.locator("input[name=amount]").fill("2000")
        row.locator("input[name=reference]").fill("WIRE-0001")
        click_through(page, "tr.partner .deposit-form button")
        assert page.locator("p.notice[role=status]").inner_text() == "来款已登记"
        assert page.locator("tr.partner .prefund").inner_text().replace(",", "") == "2000.00"
        fits_phone(page)
        shot(page, "list")

        click_through(page, "tr.partner a.partner-link")
        assert page.locator("h1").inner_text() == "建设银行 海淀支行"
        page.fill("#deposit-form input[name=amount]", "500.50")
        page.fill("#deposit-form input[name=reference]", "WIRE-0002")
        click_through(page, "#deposit-form button")
        assert page.url.endswith("?done=deposited")
        references = page.locator("tr.deposit td:nth-child(3)").all_inner_texts()
        assert references == ["WIRE-0002", "WIRE-0001"]  # newest first
        assert page.locator("#prefund").inner_text().replace(",", "") == "2500.50"
        assert "来款记录" in page.inner_text("body")
        fits_phone(page)
        shot(page, "deposits")
        browser.close()
    seen = httpx.get(
        f"{server}/api/v1/cash-partner/balance", headers={"Authorization": f"Bearer {key}"}
    )
    assert seen.json()["prefund_fen"] == 2_500_50
