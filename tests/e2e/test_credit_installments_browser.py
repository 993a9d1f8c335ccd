"""Huabei installments in Chromium on a phone-sized screen: a buyer's 1,200.00 credit purchase is
billed on the 1st (sandbox clock); on /wallet/credit the bill offers installments and its
minimum; the buyer chooses 6 months, sees the whole schedule (principal, fee, due date of each
period) before typing the payment password, confirms, and lands on the plan; the next 1st bills
the first period into the new bill; the buyer repays the rest early with its fees waived.
Screenshots: test-artifacts/credit-installments-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.test_wallet_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, server
from tests.integration.credit_support import advance_to, next_month, reconcile_clean, shop_trade
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    wallet_balance,
)

from paybao.bootstrap import Platform
from paybao.domain.credit_installments import PlanStatus
from paybao.domain.trades import Funding

pytestmark = pytest.mark.browser
__all__ = ["server"]  # the fixture that serves the app
PHONE_NUMBER = "13900139401"
PHONE = {"width": 390, "height": 844}


def _click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)
    errors = page.locator(".error")
    assert errors.count() == 0, errors.first.inner_text()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"credit-installments-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width}px wide on a phone"


def _bought_and_billed(platform: Platform) -> int:
    user_id = make_buyer(platform, PHONE_NUMBER, balance_fen=2_000_00)
    platform.services["credit"].grant(user_id, 5_000_00, reason="e2e", actor="test")
    trade = shop_trade(platform, "FQ-E2E", 1_200_00)
    platform.services["trades"].pay_by_buyer(
        trade.trade_no, user_id, PAYMENT_PASSWORD, funding=Funding.CREDIT
    )
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 9)
    return user_id


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")
def test_choose_six_months_see_the_schedule_confirm_then_repay_early(
    platform: Platform, server: str
) -> None:
    from playwright.sync_api import sync_playwright

    user_id = _bought_and_billed(platform)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
        page.goto(f"{server}/login")
        page.fill("input[name=phone]", PHONE_NUMBER)
        page.fill("input[name=password]", LOGIN_PASSWORD)
        _click(page, "#submit")
        page.goto(f"{server}/wallet/credit")
        assert page.inner_text("#credit-minimum") == "120.00"
        assert page.inner_text("#last-bill-amount") == "1200.00"
        _shot(page, "bill")

        # Choose 6 months: every plan is listed with its first period and fee.
        _click(page, "#installment-link")
        assert page.input_value("#installment-amount") == "1200.00"  # all of it, by default
        assert "首期 ¥209.00" in page.inner_text("#installment-options")  # 200.00 + 9.00
        _click(page, "#option-6")
        schedule = page.locator("#installment-schedule tbody tr[data-number]")
        assert schedule.count() == 6
        assert page.inner_text("#schedule-fee") == "54.00"  # 4.5 % of 1,200.00
        assert page.inner_text("#schedule-sum") == "1254.00"
        page.fill("#convert-password", PAYMENT_PASSWORD)
        _shot(page, "schedule")
        _click(page, "#convert-submit")
        assert page.inner_text("p.notice") == "分期成功"
        assert page.inner_text("#plan-status") == "还款中"
        assert page.inner_text("#plan-left") == "1200.00"
        _shot(page, "plan")

        # The next 1st bills the first period; the rest is repaid early, its fees waived.
        year, month = next_month(platform)
        advance_to(platform, year, month, 1, 9)
        page.goto(f"{server}/wallet/credit")
        assert page.inner_text("#last-bill-amount") == "200.00"
        assert page.inner_text("#last-bill-fee") == "9.00"
        page.click("#credit-plans a")
        page.wait_for_selector("#plan-prepay")
        assert page.inner_text("#plan-progress") == "已入账 1/6 期"
        assert "¥1000.00" in page.inner_text("#prepay-submit")
        page.fill("#prepay-password", PAYMENT_PASSWORD)
        _click(page, "#prepay-submit")
        assert page.inner_text("p.notice") == "提前还款成功"
        assert page.inner_text("#plan-status") == "已提前还清"
        _shot(page, "prepaid")
        browser.close()

    [plan] = platform.services["credit_installments"].plans_of(user_id)
    assert (plan.status, plan.prepaid_fen, plan.waived_fee_fen) == (
        PlanStatus.PREPAID,
        1_000_00,
        45_00,
    )
    assert wallet_balance(platform, user_id) == 1_000_00
    assert reconcile_clean(platform) == []
